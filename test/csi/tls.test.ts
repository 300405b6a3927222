// The files of a volume when the proxy listens on TLS: the proxy (real, with the certificate of a Secret)
// publishes its TLS listener in ConfigMap connectors-proxy-tls; the driver then renders the built-in git and oci
// configurations with the proxy address on that listener and the CA bundle, and a real git clone with HOME at the
// volume (the seed's way) and a real skopeo pull with the mounted config.json go through TLS.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import { startProxy, type RunningProxy } from '../../proxy/index.ts';
import { PROXY_TLS_CONFIGMAP } from '../../proxy/tls.ts';
import {
  createConnectorWithProxyAddress,
  eventually,
  objects,
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  skopeo,
  startRegistry,
  type Registry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
} from '@connectors/test-support';
import { setupCsi, type CsiEnv } from './fixture.ts';

describe('csi: volumes point at the proxy TLS listener when the proxy has one', function () {
  this.timeout(180_000);
  let env: CsiEnv;
  let proxy: RunningProxy;
  let git: GitServer;
  let registry: Registry;
  let caPem: string;
  const suffix = randomBytes(3).toString('hex');
  const gitClass = `git-tls-${suffix}`;
  const ociClass = `oci-tls-${suffix}`;
  const GIT_USER = 'tls-user';
  const GIT_PASS = 'tls-pass-' + randomBytes(6).toString('hex');

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    env = await setupCsi('csi-tls');
    const ca = await createCA({ commonName: 'connectors csi tls test CA' });
    caPem = ca.certPem;
    const cert = await issueServingCert(ca, { ipAddresses: ['127.0.0.1'] });
    await env.c.kubectl(['apply', '-n', env.systemNs, '-f', '-'], {
      input: objects.yaml(objects.tlsSecret('proxy-tls', cert.certPem, cert.keyPem, { ca: ca.certPem })),
    });
    proxy = await startProxy(env.c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      systemNamespace: env.systemNs,
      tls: { secretName: 'proxy-tls', port: 0 },
    });
    git = await startGitServer({
      users: { [GIT_USER]: GIT_PASS },
      repos: { 'org/repo.git': { files: { 'README.md': 'csi over tls\n' } } },
    });
    registry = await startRegistry({ auth: 'token', users: { robot: 'robot-pass' } });
    await registry.pushTestImage('team/app:v1');
    // The built-in git and oci classes as `connectors up` installs them, under names of their own.
    for (const cls of builtinClasses({
      systemNamespace: env.systemNs,
      proxyAddress: proxy.url,
      names: ['git', 'oci'],
    })) {
      cls.metadata.name = cls.metadata.name === 'git' ? gitClass : ociClass;
      await env.c.kubectl(['apply', '-f', '-'], { input: JSON.stringify(cls) });
    }
    await env.c.kubectl(['apply', '-n', env.ns, '-f', '-'], {
      input: objects.yaml(
        objects.basicAuthSecret('git-creds', GIT_USER, GIT_PASS),
        objects.registryTokenSecret('reg-creds', 'robot', 'robot-pass'),
        objects.connectorReader({ name: 'pod-reads', serviceAccount: 'default', saNamespace: env.ns }),
      ),
    });
    for (const [name, className, address, auth] of [
      ['repo', gitClass, git.url, { name: 'basicAuth', secret: 'git-creds' }],
      ['reg', ociClass, registry.url, { name: 'tokenAuth', secret: 'reg-creds' }],
    ] as const) {
      // The address the controller gives it in local mode (the path form on the in-process proxy).
      await createConnectorWithProxyAddress(
        env.c.kubeConfig,
        objects.connector(name, { namespace: env.ns, className, address, auth }),
        `${proxy.url}/namespaces/${env.ns}/connectors/${name}`,
      );
    }
    await eventually(
      'the driver to see the TLS listener',
      async () => {
        const { target } = await env.publish({ connectors: 'repo', 'configuration.names': 'gitconfig' });
        return (await readFile(join(target, 'connector.status.proxyAddress'), 'utf8')).startsWith('https://');
      },
      20_000,
    );
  });
  after(async () => {
    await proxy?.stop();
    await git?.stop();
    await registry?.stop();
    for (const n of [gitClass, ociClass])
      await env?.c.kubectl(['delete', 'connectorclass', n, '--ignore-not-found']).catch(() => {});
    await env?.stop();
  });

  it('renders the git configuration on the TLS listener and git clones through it with HOME at the volume', async () => {
    const { target } = await env.publish({ connectors: 'repo', 'configuration.names': 'gitconfig' });
    const tlsAddress = `https://127.0.0.1:${proxy.tlsPort}/namespaces/${env.ns}/connectors/repo`;
    expect(await readFile(join(target, 'connector.status.proxyAddress'), 'utf8')).to.equal(tlsAddress);
    const gitconfig = await readFile(join(target, '.gitconfig'), 'utf8');
    expect(gitconfig).to.include(`[url "${tlsAddress}"]\n    insteadOf = ${git.url}\n`);
    expect(gitconfig).to.include(`[http "${tlsAddress}"]\n    sslCAInfo = ~/ca.crt\n`);
    const bundle = await readFile(join(target, 'ca.crt'), 'utf8');
    expect(bundle.startsWith(caPem.trim())).to.equal(true);
    expect(bundle).to.include(proxy.caPem()!.trim()); // the interception CA follows
    const env_ = await readFile(join(target, '.env'), 'utf8');
    expect(env_).to.match(
      new RegExp(`^https_proxy=https://${env.ns}%2Frepo:[^@]+@127\\.0\\.0\\.1:${proxy.tlsPort}$`, 'm'),
    );
    const dest = join(env.dir, 'clone');
    await runCommand('git', ['clone', '--quiet', `${git.url}/org/repo.git`, dest], { env: gitClientEnv(target) });
    expect(await readFile(join(dest, 'README.md'), 'utf8')).to.equal('csi over tls\n');
  });

  it("renders docker's config.json for the TLS host, and skopeo pulls with it", async () => {
    const { target } = await env.publish({ connectors: 'reg', 'configuration.names': 'registry-config,buildkitd' });
    const config = JSON.parse(await readFile(join(target, 'config.json'), 'utf8'));
    const host = `127.0.0.1:${proxy.tlsPort}`;
    expect(Object.keys(config.auths)).to.deep.equal([host]);
    // BuildKit: TLS to that host (no `http = true`), not verified (its CA path is not known to the template).
    const buildkitd = await readFile(join(target, 'buildkitd.toml'), 'utf8');
    expect(buildkitd).to.include(`[registry."${host}"]\n  insecure = true\n`);
    expect(buildkitd).to.not.include('http = true');
    // As docker does with certs.d/<host>/ca.crt: the mounted CA in a directory of its own.
    const certs = await mkdtemp(join(env.dir, 'certs-'));
    await copyFile(join(target, 'ca.crt'), join(certs, 'ca.crt'));
    const { stdout } = await skopeo([
      'inspect',
      '--raw',
      '--authfile',
      join(target, 'config.json'),
      '--cert-dir',
      certs,
      `docker://${host}/namespaces/${env.ns}/connectors/reg/team/app:v1`,
    ]);
    expect(JSON.parse(stdout).schemaVersion).to.equal(2);
  });

  it('renders plain http addresses again once the proxy no longer publishes a TLS listener', async () => {
    await env.c.kubectl(['delete', 'configmap', '-n', env.systemNs, PROXY_TLS_CONFIGMAP]);
    await eventually(
      'the driver to see the TLS listener gone',
      async () => {
        const { target } = await env.publish({ connectors: 'repo', 'configuration.names': 'gitconfig' });
        return (
          (await readFile(join(target, 'connector.status.proxyAddress'), 'utf8')) ===
          `${proxy.url}/namespaces/${env.ns}/connectors/repo`
        );
      },
      20_000,
    );
    const { target } = await env.publish({ connectors: 'repo', 'configuration.names': 'gitconfig' });
    expect(await readFile(join(target, '.gitconfig'), 'utf8')).to.not.include('sslCAInfo');
    await rm(join(env.dir, 'clone'), { recursive: true, force: true });
  });
});
