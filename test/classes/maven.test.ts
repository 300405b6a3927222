// The maven class end to end, as the reference's Tekton how-to uses it: two Connectors in one CSI volume, a mirror
// (useAsMirror=true) for resolution and a deploy repository, both behind basic auth on a real repository server
// (apache serving Maven repositories; its mirror holds the Maven plugins mvn runs, so nothing comes from Maven
// Central). Debian's mvn with `-s <rendered settings.xml>` resolves an artifact through the mirror and deploys one
// with deploy-file, through the forward proxy, which injects each repository's credentials.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { startRepoServer, type RepoServer, mavenSeedRepository } from '@connectors/test-support';
import { mavenResolveAndDeploy, seedMavenArtifact } from './clients.ts';
import { connectorYaml, randomSecret, setupClasses, type ClassEnv } from './packages-fixture.ts';

describe('classes: maven — mvn resolves and deploys through the proxy with the rendered settings.xml', function () {
  this.timeout(600_000);
  let env: ClassEnv;
  let repo: RepoServer;
  const password = randomSecret('maven-pass');

  before(async () => {
    env = await setupClasses('class-maven', { classes: ['maven'], flags: ['enable-multi-connector'] });
    repo = await startRepoServer({
      users: { 'maven-user': password },
      maven: { 'maven-public': await mavenSeedRepository(), 'maven-releases': null },
    });
    await seedMavenArtifact(repo.mavenDir('maven-public'), 'com.example', 'greeting', '1.0', 'greeting 1.0\n');
    const data = { username: 'maven-user', password };
    await env.apply(
      connectorYaml({
        name: 'maven-mirror-connector',
        className: 'maven',
        address: `${repo.url}/repository/maven-public`,
        authName: 'basicAuth',
        data,
        params: { useAsMirror: 'true' },
      }) +
        '---\n' +
        connectorYaml({
          name: 'maven-deploy-connector',
          className: 'maven',
          address: `${repo.url}/repository/maven-releases`,
          authName: 'basicAuth',
          data,
        }),
    );
    await env.workload('builder', ['maven-mirror-connector', 'maven-deploy-connector']);
  });
  after(async () => {
    await env?.stop();
    await repo?.stop();
  });

  it('both Connectors are Ready (their auth probes pass with the real credentials)', async () => {
    for (const name of ['maven-mirror-connector', 'maven-deploy-connector']) {
      await env.ready(name);
      expect(await env.condition(name, 'AuthReady')).to.include({ status: 'True' });
    }
  });

  it('mvn dependency:get through the mirror and deploy:deploy-file to the deploy repository, with the credentials injected', async () => {
    for (const name of ['maven-mirror-connector', 'maven-deploy-connector']) await env.ready(name);
    const r = await env.render({
      connectors: ['maven-mirror-connector', 'maven-deploy-connector'],
      configuration: 'settings',
      serviceAccount: 'builder',
    });
    const settings = await r.file('settings.xml');
    expect(settings).to.include(
      `<username>${env.ns}/maven-mirror-connector,${env.ns}/maven-deploy-connector</username>`,
    );
    expect(settings).to.include(`<url>${repo.url}/repository/maven-public</url>`);
    expect(settings).to.include(`<port>${env.proxy.port}</port>`);
    expect(await r.file('ca.cert')).to.equal(env.proxy.caPem());

    await repo.clearRequests();
    await mavenResolveAndDeploy(env, `${r.dir}/settings.xml`, {
      url: `${repo.url}/repository/maven-releases`,
      repositoryId: 'maven-deploy',
      artifactId: 'built',
    });
    expect(await readFile(`${repo.mavenDir('maven-releases')}/com/example/built/1.0/built-1.0.jar`, 'utf8')).to.equal(
      'built by built\n',
    );

    // Every request reached the repository through the proxy with the repository user, none with the pod's token.
    const reqs = (await repo.requests()).filter((q) => q.path.startsWith('/repository/'));
    expect(
      reqs.some(
        (q) => q.method === 'GET' && q.path === '/repository/maven-public/com/example/greeting/1.0/greeting-1.0.jar',
      ),
    ).to.equal(true);
    expect(
      reqs.some(
        (q) =>
          q.method === 'PUT' &&
          q.path === '/repository/maven-releases/com/example/built/1.0/built-1.0.jar' &&
          q.status === 201,
      ),
    ).to.equal(true);
    const basic = `Basic ${Buffer.from(`maven-user:${password}`).toString('base64')}`;
    for (const q of reqs) {
      expect(q.headers.authorization, `${q.method} ${q.path}`).to.equal(basic);
      expect(JSON.stringify(q.headers)).to.not.include(r.token);
    }
    await env.expectNowhere(password, [r.dir, env.work]);
  });
});
