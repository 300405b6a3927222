// The npm class end to end: verdaccio (a real npm registry) with htpasswd users and every package behind
// authentication, one npm Connector, `connectors render` of npmrc and yarnrc for a workload ServiceAccount, then
// npm publish, npm install and Yarn Berry install with HOME = the rendered files and nothing else. The clients send
// the placeholder _auth / npmAuthIdent; the forward proxy replaces it with the registry's credentials.
import { expect } from 'chai';
import { startVerdaccio, type Verdaccio } from '@connectors/test-support';
import { npmPublishAndInstall } from './clients.ts';
import { connectorYaml, randomSecret, setupClasses, type ClassEnv } from './packages-fixture.ts';

describe('classes: npm — npm publish/install and yarn install through the proxy with the rendered .npmrc/.yarnrc.yml', function () {
  this.timeout(600_000);
  let env: ClassEnv;
  let registry: Verdaccio;
  const password = randomSecret('npm-pass');

  before(async () => {
    env = await setupClasses('class-npm', { classes: ['npm'] });
    registry = await startVerdaccio({ users: { 'npm-user': password } });
    await env.apply(
      connectorYaml({
        name: 'npm-connector',
        className: 'npm',
        address: registry.url,
        authName: 'basicAuth',
        data: { username: 'npm-user', password },
        params: { registryType: 'all' },
      }),
    );
    await env.workload('builder', ['npm-connector']);
  });
  after(async () => {
    await env?.stop();
    await registry?.stop();
  });

  it('is Ready: its auth probe passes with the real credentials', async () => {
    await env.ready('npm-connector');
    expect(await env.condition('npm-connector', 'AuthReady')).to.include({ status: 'True' });
  });

  it('publishes and installs a package with npm and yarn, the registry credentials injected by the proxy', async () => {
    const connector = await env.ready('npm-connector');
    const r = await env.render({
      connectors: ['npm-connector'],
      configuration: 'npmrc,yarnrc',
      serviceAccount: 'builder',
    });
    const proxyHost = new URL(connector.status!.proxy!.httpAddress!.url!).host;
    const npmrc = await r.file('.npmrc');
    expect(npmrc).to.include(`registry=${registry.url}\n`);
    expect(npmrc).to.include(
      `//127.0.0.1:${registry.port}/:_auth=${Buffer.from('user:password').toString('base64')}\n`,
    );
    expect(npmrc).to.include(`proxy=http://${env.ns}%2Fnpm-connector:${r.token}@${proxyHost}/\n`);
    expect(await r.file('.yarnrc.yml')).to.include('unsafeHttpWhitelist:\n- 127.0.0.1\n');

    await npmPublishAndInstall(env, { npmHome: r.dir, yarnHome: r.dir, name: 'greeting-npm' });
    // Without the proxy's injection the placeholder credentials are refused by the registry.
    const res = await fetch(`${registry.url}/greeting-npm`, {
      headers: { authorization: `Basic ${Buffer.from('user:password').toString('base64')}` },
    });
    expect(res.status).to.equal(401);
    await env.expectNowhere(password, [r.dir, env.work]);
  });
});
