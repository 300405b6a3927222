// The proxy's TLS listener: the certificate of a Secret in the system namespace, served to real clients (git,
// curl, skopeo) that verify it with the published CA, and replaced when the Secret changes, without a restart.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import {
  eventually,
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  buildOciLayout,
  skopeo,
  startRegistry,
  type Registry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import { PROXY_TLS_CONFIGMAP } from '../../proxy/tls.ts';
import { setup, type Env } from './fixture.ts';

/** A kubernetes.io/tls Secret with a fresh CA and a certificate for 127.0.0.1 and localhost. */
async function tlsSecret(name: string): Promise<{ yaml: string; caPem: string; serial: string }> {
  const ca = await createCA({ commonName: `connectors proxy test CA ${randomBytes(3).toString('hex')}` });
  const cert = await issueServingCert(ca, { ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
  return {
    caPem: ca.certPem,
    serial: cert.cert.serialNumber,
    yaml: objects.yaml(objects.tlsSecret(name, cert.certPem, cert.keyPem, { ca: ca.certPem })),
  };
}

/** The certificate a new TLS connection to the port is served (not verified). */
function servedCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate());
      s.end();
    });
    s.once('error', reject);
  });
}

describe('proxy: TLS listener with a certificate from a Secret', function () {
  this.timeout(180_000);
  let env: Env;
  let git: GitServer;
  let registry: Registry;
  let work: string;
  let token: string;
  let first: Awaited<ReturnType<typeof tlsSecret>>;
  let tlsUrl: string;
  const GIT_USER = 'git-robot';
  const GIT_PASS = 'p4ss-' + randomBytes(6).toString('hex');

  const applySys = (yaml: string) => env.c.kubectl(['apply', '-n', env.systemNs, '-f', '-'], { input: yaml });

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    work = await mkdtemp(join(tmpdir(), 'connectors-proxy-tls-'));
    git = await startGitServer({
      users: { [GIT_USER]: GIT_PASS },
      repos: { 'org/repo.git': { files: { 'README.md': 'over tls\n' } } },
    });
    registry = await startRegistry({ auth: 'token', users: { robot: 'robot-pass' } });
    env = await setup('proxy-tls', { tls: { secretName: 'proxy-tls', port: 0 } });
    tlsUrl = env.proxy.tlsUrl!;
    first = await tlsSecret('proxy-tls');
    await applySys(first.yaml);
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('git-creds', GIT_USER, GIT_PASS),
        objects.connector('git', {
          className: 'git',
          address: git.url,
          auth: { name: 'basicAuth', secret: 'git-creds' },
        }),
        objects.registryTokenSecret('reg-creds', 'robot', 'robot-pass'),
        objects.connector('reg', {
          className: 'oci',
          address: registry.url,
          auth: { name: 'tokenAuth', secret: 'reg-creds' },
        }),
      ),
    );
    await env.serviceAccount('builder');
    token = await env.token('builder');
    await writeFile(join(work, 'ca.crt'), first.caPem);
    await eventually(
      'the TLS listener to serve the certificate of the Secret',
      async () => (await servedCertificate(env.proxy.tlsPort!)).serialNumber === first.serial.toUpperCase(),
      20_000,
    );
  });
  after(async () => {
    await env?.stop();
    await git?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('publishes the port and the CA for the CSI driver in ConfigMap connectors-proxy-tls', async () => {
    const cm = await env.c.core.readNamespacedConfigMap({ name: PROXY_TLS_CONFIGMAP, namespace: env.systemNs });
    expect(cm.data?.port).to.equal(String(env.proxy.tlsPort));
    expect(cm.data?.['ca.crt']).to.equal(first.caPem.trim() + '\n');
  });

  it('git clones through the TLS listener, verifying it with the CA (http.sslCAInfo)', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    const proxyAddress = `${tlsUrl}/namespaces/${env.ns}/connectors/git`;
    await writeFile(
      join(home, '.gitconfig'),
      `[http]\n    extraHeader = Authorization: Basic ${Buffer.from(':' + token).toString('base64')}\n` +
        `[url "${proxyAddress}"]\n    insteadOf = ${git.url}\n[http "${proxyAddress}"]\n    sslCAInfo = ${join(work, 'ca.crt')}\n`,
    );
    const dest = join(work, 'clone');
    await runCommand('git', ['clone', '--quiet', `${git.url}/org/repo.git`, dest], { env: gitClientEnv(home) });
    expect(await readFile(join(dest, 'README.md'), 'utf8')).to.equal('over tls\n');
    // Without the CA, git refuses the proxy's certificate.
    const bare = await mkdtemp(join(work, 'home-'));
    await writeFile(join(bare, '.gitconfig'), '');
    const err = await runCommand('git', ['ls-remote', `${proxyAddress}/org/repo.git`], {
      env: gitClientEnv(bare),
    }).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(err).to.match(/certificate|SSL/i);
  });

  it('curl reaches a Connector through the TLS listener in reverse mode and in forward mode (https proxy)', async () => {
    const reverse = await runCommand('curl', [
      '-sS',
      '--fail',
      '--cacert',
      join(work, 'ca.crt'),
      '-u',
      `u:${token}`,
      `${tlsUrl}/namespaces/${env.ns}/connectors/git/org/repo.git/info/refs?service=git-upload-pack`,
    ]);
    expect(reverse.stdout).to.include('refs/heads/main');
    const forward = await runCommand('curl', [
      '-sS',
      '--fail',
      '--proxy',
      `https://${env.ns}%2Fgit:${token}@127.0.0.1:${env.proxy.tlsPort}`,
      '--proxy-cacert',
      join(work, 'ca.crt'),
      `${git.url}/org/repo.git/info/refs?service=git-upload-pack`,
    ]);
    expect(forward.stdout).to.include('refs/heads/main');
  });

  it('skopeo pushes and pulls an image through the TLS listener with only the ServiceAccount token', async () => {
    const layout = await buildOciLayout(join(work, 'layout'));
    const certDir = await mkdtemp(join(work, 'certs-'));
    await writeFile(join(certDir, 'ca.crt'), first.caPem);
    const ref = `127.0.0.1:${env.proxy.tlsPort}/namespaces/${env.ns}/connectors/reg/tls/app:v1`;
    await skopeo([
      'copy',
      '--quiet',
      '--dest-cert-dir',
      certDir,
      '--dest-creds',
      `u:${token}`,
      `oci:${layout.dir}:${layout.tag}`,
      `docker://${ref}`,
    ]);
    const { stdout } = await skopeo([
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      '--creds',
      `u:${token}`,
      `docker://${ref}`,
    ]);
    expect(stdout).to.equal(layout.manifest.toString());
  });

  it('serves a new certificate when the Secret changes, without a restart; open connections keep theirs', async () => {
    const kept = await new Promise<{ cert: PeerCertificate; close: () => void }>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: env.proxy.tlsPort!, ca: first.caPem, servername: 'localhost' });
      s.once('secureConnect', () => resolve({ cert: s.getPeerCertificate(), close: () => s.destroy() }));
      s.once('error', reject);
    });
    const second = await tlsSecret('proxy-tls');
    await applySys(second.yaml);
    await eventually(
      'the listener to serve the rotated certificate',
      async () => (await servedCertificate(env.proxy.tlsPort!)).serialNumber === second.serial.toUpperCase(),
      20_000,
    );
    expect(kept.cert.serialNumber).to.equal(first.serial.toUpperCase());
    kept.close();
    // The new CA verifies the listener now, the old one no longer does; the ConfigMap follows.
    await writeFile(join(work, 'ca2.crt'), second.caPem);
    const url = `${tlsUrl}/namespaces/${env.ns}/connectors/git/org/repo.git/info/refs?service=git-upload-pack`;
    const ok = await runCommand('curl', ['-sS', '--fail', '--cacert', join(work, 'ca2.crt'), '-u', `u:${token}`, url]);
    expect(ok.stdout).to.include('refs/heads/main');
    const old = await runCommand('curl', ['-sS', '--cacert', join(work, 'ca.crt'), '-u', `u:${token}`, url]).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(old).to.match(/certificate|SSL/i);
    await eventually(
      'the ConfigMap to publish the new CA',
      async () =>
        (await env.c.core.readNamespacedConfigMap({ name: PROXY_TLS_CONFIGMAP, namespace: env.systemNs })).data?.[
          'ca.crt'
        ] ===
        second.caPem.trim() + '\n',
      20_000,
    );
    first = second;
  });

  it('keeps the last good certificate when the Secret is changed to something unusable', async () => {
    await applySys(objects.yaml(objects.tlsSecret('proxy-tls', 'not a certificate', 'not a key')));
    await eventually(
      'the broken Secret to reach the proxy',
      () => env.logs.some((l) => l.includes('TLS certificate not replaced')),
      20_000,
    );
    expect((await servedCertificate(env.proxy.tlsPort!)).serialNumber).to.equal(first.serial.toUpperCase());
    for (const l of env.logs) expect(l).to.not.include('not a key');
  });
});
