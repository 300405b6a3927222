// The nexus and jfrog classes end to end. Nexus and Artifactory cannot run here, so a stand-in answers at their URL
// forms: the repository server (apache) serves Maven repositories at /repository/<name>/ and /artifactory/<name>/,
// and puts the real npm registry (verdaccio) and the real Python index (pypiserver) at /repository/npm-hosted/,
// /artifactory/api/npm/npm-local/, /repository/pypi-hosted/ and /artifactory/api/pypi/pypi-local/, all behind
// the same basic-auth users. One Connector per product, at the server's root; each configuration names its
// repository in configuration.params, and the real clients use only the rendered files: mvn resolves through the
// mirror and deploys, npm publishes and installs, yarn installs, twine uploads and pip installs.
import { expect } from 'chai';
import {
  startPypiServer,
  type PypiServer,
  JFROG_NPM,
  JFROG_PYPI,
  NEXUS_NPM,
  NEXUS_PYPI,
  startRepoServer,
  type RepoServer,
  mavenSeedRepository,
  startVerdaccio,
  type Verdaccio,
} from '@connectors/test-support';
import { mavenResolveAndDeploy, npmPublishAndInstall, seedMavenArtifact, twineUploadAndPipInstall } from './clients.ts';
import { connectorYaml, randomSecret, setupClasses, type ClassEnv } from './packages-fixture.ts';

const PRODUCTS = [
  {
    cls: 'nexus',
    npmParam: 'registry',
    npmRepo: 'npm-hosted',
    npmPath: NEXUS_NPM,
    pypiPath: NEXUS_PYPI,
    pypiRepo: 'pypi-hosted',
    maven: (root: string, name: string) => `${root}/repository/${name}`,
  },
  {
    cls: 'jfrog',
    npmParam: 'repository',
    npmRepo: 'npm-local',
    npmPath: JFROG_NPM,
    pypiPath: JFROG_PYPI,
    pypiRepo: 'pypi-local',
    maven: (root: string, name: string) => `${root}/artifactory/${name}`,
  },
];

describe('classes: nexus and jfrog — Maven, npm, yarn and PyPI clients through the proxy, at the products’ repository paths', function () {
  this.timeout(900_000);
  let env: ClassEnv;
  let repo: RepoServer;
  let registry: Verdaccio;
  let index: PypiServer;
  const password = randomSecret('rm-pass');

  before(async () => {
    env = await setupClasses('class-rm', { classes: ['nexus', 'jfrog'] });
    const users = { 'rm-user': password };
    registry = await startVerdaccio({ users });
    index = await startPypiServer({ users });
    repo = await startRepoServer({
      users,
      maven: { 'maven-public': await mavenSeedRepository(), 'maven-releases': null },
      npm: registry.url,
      pypi: index.url,
    });
    await seedMavenArtifact(repo.mavenDir('maven-public'), 'com.example', 'greeting', '1.0', 'greeting 1.0\n');
    for (const p of PRODUCTS)
      await env.apply(
        connectorYaml({
          name: `${p.cls}-connector`,
          className: p.cls,
          address: repo.url,
          authName: 'basicAuth',
          data: { username: 'rm-user', password },
        }) + '---\n',
      );
    await env.workload(
      'builder',
      PRODUCTS.map((p) => `${p.cls}-connector`),
    );
  });
  after(async () => {
    await env?.stop();
    await repo?.stop();
    await registry?.stop();
    await index?.stop();
  });

  for (const p of PRODUCTS) {
    describe(p.cls, () => {
      const name = `${p.cls}-connector`;

      it('is Ready: its liveness and auth probes pass against the stand-in', async () => {
        await env.ready(name);
        expect(await env.condition(name, 'LivenessReady')).to.include({ status: 'True' });
        expect(await env.condition(name, 'AuthReady')).to.include({ status: 'True' });
      });

      it('settings: mvn resolves through the mirror repository and deploys to a release repository', async () => {
        await env.ready(name);
        const r = await env.render({
          connectors: [name],
          configuration: 'settings',
          params: { settings: { mirrorRepository: 'maven-public' } },
          serviceAccount: 'builder',
        });
        expect(await r.file('settings.xml')).to.include(
          `<id>${name}-mirror</id>\n      <url>${p.maven(repo.url, 'maven-public')}</url>`,
        );
        await repo.clearRequests();
        await mavenResolveAndDeploy(env, `${r.dir}/settings.xml`, {
          url: p.maven(repo.url, 'maven-releases'),
          repositoryId: 'releases',
          artifactId: `built-by-${p.cls}`,
        });
        const mavenPath = new URL(p.maven(repo.url, 'maven-')).pathname;
        const reqs = (await repo.requests()).filter((q) => q.path.startsWith(mavenPath));
        expect(reqs.length).to.be.greaterThan(0);
        const basic = `Basic ${Buffer.from(`rm-user:${password}`).toString('base64')}`;
        for (const q of reqs) expect(q.headers.authorization, `${q.method} ${q.path}`).to.equal(basic);
        expect(
          reqs.some(
            (q) => q.method === 'PUT' && q.path.startsWith(new URL(p.maven(repo.url, 'maven-releases')).pathname),
          ),
        ).to.equal(true);
        await env.expectNowhere(password, [r.dir, env.work]);
      });

      it(`npmrc and yarnrc: npm publishes and installs, yarn installs, at ${p.npmPath}`, async () => {
        await env.ready(name);
        const params = { [p.npmParam]: p.npmRepo };
        const r = await env.render({
          connectors: [name],
          configuration: 'npmrc,yarnrc',
          params: { npmrc: params, yarnrc: params },
          serviceAccount: 'builder',
        });
        expect(await r.file('.npmrc')).to.include(`registry=${repo.url}${p.npmPath}\n`);
        expect(await r.file('.yarnrc.yml')).to.include(`npmRegistryServer: "${repo.url}${p.npmPath}"`);
        await repo.clearRequests();
        await npmPublishAndInstall(env, { npmHome: r.dir, yarnHome: r.dir, name: `greeting-${p.cls}` });
        const reqs = (await repo.requests()).filter((q) => q.path.startsWith(p.npmPath));
        expect(reqs.some((q) => q.method === 'PUT' && q.path === `${p.npmPath}greeting-${p.cls}`)).to.equal(true);
        for (const q of reqs)
          expect(q.headers.authorization, `${q.method} ${q.path}`).to.equal(
            `Basic ${Buffer.from(`rm-user:${password}`).toString('base64')}`,
          );
        await env.expectNowhere(password, [r.dir, env.work]);
      });

      it(`pipconf and pypirc: twine uploads and pip installs, at ${p.pypiPath}`, async () => {
        await env.ready(name);
        const r = await env.render({
          connectors: [name],
          configuration: 'pipconf,pypirc',
          params: { pipconf: { repository: p.pypiRepo }, pypirc: { deployRepository: p.pypiRepo } },
          serviceAccount: 'builder',
        });
        expect(await r.file('pip.conf')).to.include(`index-url = ${repo.url}${p.pypiPath}simple/\n`);
        await repo.clearRequests();
        await twineUploadAndPipInstall(env, {
          pypircHome: r.dir,
          pipConf: `${r.dir}/pip.conf`,
          name: `greeting-${p.cls}`,
        });
        const reqs = await repo.requests();
        expect(reqs.some((q) => q.method === 'POST' && q.path === p.pypiPath)).to.equal(true);
        expect(reqs.some((q) => q.method === 'GET' && q.path.startsWith(`${p.pypiPath}packages/`))).to.equal(true);
        await env.expectNowhere(password, [r.dir, env.work]);
      });
    });
  }
});
