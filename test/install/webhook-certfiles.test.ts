// The webhook serving a certificate from files, as the chart mounts it (Secret connectors-webhook-tls made by the
// chart or by cert-manager): served as given, served anew when the files change (cert-manager renews, kubelet
// swaps the mounted files), and kept when new files are broken.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import { cluster, createNamespace, eventually } from '@connectors/test-support';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('install: webhook certificate from files (--tls-cert-file, --tls-key-file)', function () {
  this.timeout(120_000);
  let dir: string;
  let wh: RunningWebhook | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webhook-certfiles-'));
  });
  after(async () => {
    await wh?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the files, reloads them when they change, and keeps serving when they are broken', async () => {
    const c = await cluster();
    const ns = await createNamespace('webhook-certfiles', { waitForDefaultServiceAccount: false });
    const ca = await createCA({ commonName: 'chart-made test CA' });
    const issue = () => issueServingCert(ca, { ipAddresses: ['127.0.0.1'], validitySeconds: 3600 });
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    const a = await issue();
    await writeFile(certFile, a.certPem);
    await writeFile(keyFile, a.keyPem);
    wh = await startWebhook(c.kubeConfig, {
      port: 0,
      systemNamespace: ns,
      certFiles: { certFile, keyFile, pollMs: 100 },
      healthPort: undefined,
    });
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: wh!.port, ca: ca.certPem }, () => {
          resolve(s.getPeerX509Certificate()!.serialNumber);
          s.end();
        });
        s.on('error', reject);
      });
    const serial = (pem: string) => new X509Certificate(pem).serialNumber;
    expect(await served()).to.equal(serial(a.certPem));
    expect(wh.caBundle(), 'not ours to publish').to.equal('');

    const b = await issue();
    await writeFile(keyFile, b.keyPem);
    await writeFile(certFile, b.certPem);
    await eventually('new certificate served', async () => (await served()) === serial(b.certPem), 10_000);
    const rotations = wh.certificates.rotations;
    expect(rotations).to.be.at.least(1);

    await writeFile(keyFile, 'not a key');
    await new Promise((r) => setTimeout(r, 500));
    expect(await served()).to.equal(serial(b.certPem));
    expect(wh.certificates.rotations).to.equal(rotations);
  });

  it('`connectors webhook` wants both files, and not with --register', () => {
    const cases: Array<[string[], string]> = [
      [['--tls-cert-file', '/x/tls.crt'], '--tls-cert-file and --tls-key-file go together'],
      [['--tls-cert-file', '/x/tls.crt', '--tls-key-file', '/x/tls.key', '--register'], '--register makes its own'],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(join(root, 'node_modules/.bin/node'), [join(root, 'cli/connectors.js'), 'webhook', ...args], {
        encoding: 'utf8',
        env: { ...process.env, KUBECONFIG: '/nonexistent' },
      });
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.include(message);
    }
  });
});
