// Custom CA certificates (feature flag enable-custom-ca-certs) for the proxy's connections to the tools: a real
// git server over HTTPS (apache + mod_ssl) whose certificate comes from a private CA, reached through the
// reverse proxy by a real git client. Without the CA the proxy refuses the upstream (502, certificate not
// trusted); with the flag on, the CA is trusted from the Connector's caCertSecretRef or from a labelled Secret of
// the system namespace, each Connector with exactly its own set; a pool is cached per Connector for the proxy's
// TTL (shortened here to 1.5 s; 5 min by default).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import {
  eventually,
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  skopeo,
  startRegistry,
  type Registry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import { basic, setup, type Env } from './fixture.ts';

describe('proxy: custom CA certificates for upstream TLS (enable-custom-ca-certs)', function () {
  this.timeout(180_000);
  let env: Env;
  let git: GitServer;
  let registry: Registry;
  let work: string;
  let token: string;
  let caPem: string;
  const GIT_USER = 'git-robot';
  const GIT_PASS = 'p4ss-' + randomBytes(6).toString('hex');

  const gitConnector = (name: string, caSecret?: string) =>
    objects.connector(name, {
      className: 'git',
      address: git.url,
      caSecret,
      auth: { name: 'basicAuth', secret: 'git-creds', params: { repository: 'org/repo.git' } },
    });
  /** Status and body of the git ref advertisement through the proxy for a Connector. */
  const refs = async (connector: string) => {
    const r = await fetch(
      `${env.proxy.url}/namespaces/${env.ns}/connectors/${connector}/org/repo.git/info/refs?service=git-upload-pack`,
      { headers: { authorization: basic('u', token) } },
    );
    return { status: r.status, body: await r.text() };
  };
  const untrusted = async (connector: string) => {
    const r = await refs(connector);
    expect(r.status, r.body).to.equal(502);
    expect(r.body).to.match(/upstream 127\.0\.0\.1:\d+ failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  };
  const cloneThrough = async (connector: string) => {
    const home = await mkdtemp(join(work, 'home-'));
    await writeFile(
      join(home, '.gitconfig'),
      `[http]\n    extraHeader = Authorization: Basic ${Buffer.from(':' + token).toString('base64')}\n` +
        `[url "${env.proxy.url}/namespaces/${env.ns}/connectors/${connector}"]\n    insteadOf = ${git.url}\n`,
    );
    const dest = join(work, `clone-${connector}-${randomBytes(3).toString('hex')}`);
    await runCommand('git', ['clone', '--quiet', `${git.url}/org/repo.git`, dest], { env: gitClientEnv(home) });
    return readFile(join(dest, 'README.md'), 'utf8');
  };

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    work = await mkdtemp(join(tmpdir(), 'connectors-custom-ca-'));
    const ca = await createCA({ commonName: 'connectors test private CA' });
    caPem = ca.certPem;
    const serving = await issueServingCert(ca, { ipAddresses: ['127.0.0.1'] });
    git = await startGitServer({
      users: { [GIT_USER]: GIT_PASS },
      repos: { 'org/repo.git': { files: { 'README.md': 'private tls\n' } } },
      tls: { certPem: serving.certPem, keyPem: serving.keyPem },
    });
    // A registry whose address and token service are HTTPS with a certificate of the same private CA.
    registry = await startRegistry({
      auth: 'token',
      users: { robot: 'robot-pass' },
      tls: { certPem: serving.certPem, keyPem: serving.keyPem },
    });
    await registry.pushTestImage('team/app:v1');
    env = await setup('proxy-ca', { caPoolTtlMs: 1500 });
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('git-creds', GIT_USER, GIT_PASS),
        objects.secret('git-ca', {
          stringData: { 'ca.crt': caPem, notes: 'not a certificate, and its key is ignored' },
        }),
        gitConnector('with-ref', 'git-ca'),
        gitConnector('plain'),
        objects.registryTokenSecret('reg-creds', 'robot', 'robot-pass'),
        ['reg-ref', 'reg-plain'].map((name) =>
          objects.connector(name, {
            className: 'oci',
            address: registry.url,
            caSecret: name === 'reg-ref' ? 'git-ca' : undefined,
            auth: { name: 'tokenAuth', secret: 'reg-creds' },
          }),
        ),
      ),
    );
    await env.serviceAccount('builder');
    token = await env.token('builder');
    await eventually('the proxy to know the connectors', async () => (await refs('plain')).status === 502, 15_000);
  });
  after(async () => {
    await env?.stop();
    await git?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the private git server is really private: git refuses it directly without the CA', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    await writeFile(join(home, '.gitconfig'), '');
    const err = await runCommand('git', ['ls-remote', git.authUrl('org/repo.git', GIT_USER, GIT_PASS)], {
      env: gitClientEnv(home),
    }).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(err).to.match(/certificate|SSL/i);
  });

  it('with the flag off, the caCertSecretRef is not used: the upstream certificate is not trusted (502)', async () => {
    await untrusted('with-ref');
  });

  it("with the flag on, a Connector's caCertSecretRef is trusted (git clone through the proxy)", async () => {
    await env.setFlag('enable-custom-ca-certs', true);
    await eventually('the flag to reach the proxy', async () => (await refs('with-ref')).status === 200, 20_000);
    expect(await cloneThrough('with-ref')).to.equal('private tls\n');
  });

  it('the OCI proxy trusts the caCertSecretRef for the registry and its token service (skopeo through the proxy)', async () => {
    const ref = (c: string) =>
      `docker://${new URL(env.proxy.url).host}/namespaces/${env.ns}/connectors/${c}/team/app:v1`;
    const inspect = (c: string) =>
      skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', `u:${token}`, ref(c)]).then(
        (r) => JSON.parse(r.stdout).schemaVersion as number,
        (e: Error) => e.message,
      );
    expect(await inspect('reg-ref')).to.equal(2);
    expect(registry.tokenRequests.length).to.be.greaterThan(0);
    const refused = await inspect('reg-plain');
    expect(refused)
      .to.be.a('string')
      .that.matches(/502|UNAVAILABLE|did not answer|certificate/i);
  });

  it("a Connector without the reference does not get another Connector's CA, not even its pooled connection", async () => {
    expect((await refs('with-ref')).status).to.equal(200); // a kept-alive connection verified with git-ca
    await untrusted('plain');
  });

  it('a labelled Secret of the system namespace is trusted for every Connector, once its cached pool expires', async () => {
    await env.c.kubectl(['apply', '-n', env.systemNs, '-f', '-'], {
      input: objects.yaml(
        objects.secret('corporate-ca', {
          labels: { 'connectors.cpaas.io/ca-cert': 'true' },
          stringData: { 'private-ca.pem': caPem },
        }),
      ),
    });
    await env.apply(objects.yaml(gitConnector('fresh')));
    // A Connector with no cached pool sees the Secret as soon as the proxy's watch has it.
    await eventually('the labelled CA for a new connector', async () => (await refs('fresh')).status === 200, 20_000);
    // One with a cached pool (plain was refused above) within the TTL.
    await eventually('the cached pool of plain to expire', async () => (await refs('plain')).status === 200, 20_000);
    expect(await cloneThrough('plain')).to.equal('private tls\n');
  });

  it('with the flag off again, no custom CA is trusted', async () => {
    await env.setFlag('enable-custom-ca-certs', false);
    await eventually('the flag to reach the proxy', async () => (await refs('with-ref')).status === 502, 20_000);
    await untrusted('with-ref');
    await untrusted('plain');
  });
});
