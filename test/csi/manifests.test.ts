// The deployment manifests of the driver are valid for the real apiserver (server-side dry run: full
// validation and admission, nothing persisted) and say what the driver needs; `connectors csi` starts the
// driver from the CLI and stops on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { cluster } from '@connectors/test-support';
import { csiClient } from './client.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const manifests = ['deploy/csi/csidriver.yaml', 'deploy/csi/daemonset.yaml'].map((f) => join(repo, f));

describe('csi: deployment manifests and CLI', function () {
  this.timeout(120_000);

  it('are accepted by the real apiserver (server-side dry run)', async () => {
    const c = await cluster();
    await c.kubectl(['create', 'namespace', 'connectors-system']).catch((err: Error) => {
      if (!/AlreadyExists/.test(err.message)) throw err;
    });
    const out = await c.kubectl(['apply', '--dry-run=server', ...manifests.flatMap((f) => ['-f', f])]);
    for (const kind of [
      'csidriver.storage.k8s.io/connectors-csi',
      'serviceaccount/connectors-csi',
      'clusterrole.rbac.authorization.k8s.io/connectors-csi',
      'clusterrolebinding.rbac.authorization.k8s.io/connectors-csi',
      'role.rbac.authorization.k8s.io/connectors-csi',
      'rolebinding.rbac.authorization.k8s.io/connectors-csi',
      'daemonset.apps/connectors-csi',
    ]) {
      expect(out).to.contain(kind);
    }
  });

  it('declare the CSIDriver and DaemonSet the driver is written for', async () => {
    const docs = (await Promise.all(manifests.map((f) => readFile(f, 'utf8')))).flatMap((t) =>
      parseAllDocuments(t).map((d) => d.toJS()),
    );
    const driver = docs.find((d) => d.kind === 'CSIDriver');
    expect(driver.spec).to.deep.equal({
      attachRequired: false,
      podInfoOnMount: true,
      volumeLifecycleModes: ['Ephemeral'],
      tokenRequests: [{ audience: 'connectors-proxy', expirationSeconds: 3600 }],
      requiresRepublish: true,
      fsGroupPolicy: 'None',
    });
    const ds = docs.find((d) => d.kind === 'DaemonSet');
    expect(ds.metadata).to.deep.include({ name: 'connectors-csi', namespace: 'connectors-system' });
    expect(ds.spec.template.metadata.labels['app.kubernetes.io/name']).to.equal('connectors-csi');
    const [csi, registrar] = ds.spec.template.spec.containers;
    expect(csi.name).to.equal('csi-driver');
    expect(csi.securityContext.privileged).to.equal(true);
    expect(csi.volumeMounts.find((m: { name: string }) => m.name === 'mountpoint-dir').mountPropagation).to.equal(
      'Bidirectional',
    );
    expect(registrar.name).to.equal('node-driver-registrar');
    expect(ds.spec.template.spec.volumes.map((v: { name: string }) => v.name)).to.have.members([
      'socket-dir',
      'mountpoint-dir',
      'registration-dir',
    ]);
    const rules = docs.find((d) => d.kind === 'ClusterRole').rules;
    expect(rules).to.deep.include({ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] });
    expect(rules).to.deep.include({
      apiGroups: ['connectors.alauda.io'],
      resources: ['connectors', 'connectorclasses'],
      verbs: ['get', 'list', 'watch'],
    });
  });

  it('`connectors csi` serves the CSI socket and stops on SIGTERM', async () => {
    const c = await cluster();
    const dir = await mkdtemp(join(tmpdir(), 'csi-cli-'));
    const sock = join(dir, 'csi.sock');
    const child = spawn(
      process.execPath,
      [
        join(repo, 'cli/connectors.js'),
        'csi',
        '--kubeconfig',
        c.kubeconfigPath,
        '--endpoint',
        `unix://${sock}`,
        '--node-id',
        'cli-node',
        '--health-port',
        '0',
        '--mounter',
        'dir',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CONNECTORS_SYSTEM_NAMESPACE: 'connectors-system' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      for (
        const deadline = Date.now() + 30_000;
        !(await stat(sock).then(
          () => true,
          () => false,
        ));
        await sleep(100)
      ) {
        if (Date.now() > deadline) throw new Error(`no socket: ${stderr}`);
      }
      const client = csiClient(`unix://${sock}`);
      expect((await client.call('Identity', 'GetPluginInfo')).name).to.equal('connectors-csi');
      expect((await client.call('Node', 'NodeGetInfo')).node_id).to.equal('cli-node');
      client.close();
      expect(stderr).to.match(/"msg":"CSI driver listening".*"mounter":"dir"/);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
