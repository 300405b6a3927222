// CSI driver: NodePublishVolume latency with warm caches, against the real apiserver (etcd + kube-apiserver +
// kube-controller-manager of the test harness). Each publish is a new volume (the Git quick start's attributes:
// connector.name + configuration.names: gitconfig) for the same Pod: validate, scope, Connector and class from
// the watched caches, the Pod's token (TokenRequest once, then the driver's token cache), render, tmpfs mount
// (or directory where mounting is impossible), atomic write. Latency is measured at the gRPC client, as kubelet
// sees it. Also: republish of an unchanged volume (kubelet's periodic requiresRepublish call) and a
// publish that must mint a token (new token.expiration each time, so no token cache hit).
// Run: node bench/csi-publish.bench.ts   (from the repository root, with node_modules/.bin first on PATH)
// CSI_BENCH_MOUNTER=dir|tmpfs forces a mounter (default: auto, tmpfs when this process may mount); CSI_BENCH_N=1000.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cluster, createConnectorWithProxyAddress, objects, stopCluster } from '@connectors/test-support';
import { KindClient } from '../core/kube/resources.ts';
import { setLogSink } from '../core/observability/log.ts';
import { startCsiDriver } from '../csi/index.ts';
import { mountPoints, TmpfsMounter } from '../csi/mounter.ts';
import { csiClient, publishRequest } from '../test/csi/client.ts';
import { testClass } from '../test/csi/fixture.ts';

const N = Number(process.env.CSI_BENCH_N ?? 1000);
const WARMUP = 100;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function summary(label: string, samples: number[]): void {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  process.stdout.write(
    `${label}: n=${s.length} p50 ${pct(s, 50).toFixed(2)} ms, p90 ${pct(s, 90).toFixed(2)} ms, p99 ` +
      `${pct(s, 99).toFixed(2)} ms, max ${s[s.length - 1].toFixed(2)} ms, mean ${mean.toFixed(2)} ms\n`,
  );
}

setLogSink(() => {});
const c = await cluster();
const ns = await c.createNamespace('csi-bench');
const systemNs = await c.createNamespace('csi-bench-sys');
const className = `csi-bench-${randomBytes(3).toString('hex')}`;
const classes = new KindClient(c.kubeConfig, 'ConnectorClass');
await classes.create(testClass(className));
await createConnectorWithProxyAddress(
  c.kubeConfig,
  objects.connector('git-connector', { namespace: ns, className, address: 'https://github.com' }),
  `http://c-git-connector.${ns}.svc.cluster.local`,
);
const created = await c.core.createNamespacedPod({
  namespace: ns,
  body: { metadata: { name: 'app' }, spec: { containers: [{ name: 'c', image: 'registry.invalid/none:1' }] } },
});
const pod = { name: 'app', namespace: ns, uid: created.metadata!.uid!, serviceAccount: 'default' };

const dir = await mkdtemp(join(tmpdir(), 'csi-bench-'));
const driver = await startCsiDriver(c.kubeConfig, {
  endpoint: `unix://${join(dir, 'csi.sock')}`,
  nodeId: 'bench',
  systemNamespace: systemNs,
  proxyURL: 'http://127.0.0.1:3128',
  mounter: (process.env.CSI_BENCH_MOUNTER as 'tmpfs' | 'dir' | undefined) ?? 'auto',
});
await driver.synced;
const client = csiClient(driver.endpoint);
const attrs = { 'connector.name': 'git-connector', 'configuration.names': 'gitconfig' };
process.stdout.write(`mounter: ${driver.mounter.kind}; ${N} publishes after ${WARMUP} warm-up publishes\n`);

async function timedPublish(
  target: string,
  a: Record<string, string>,
  volumeId?: string,
): Promise<{ ms: number; volumeId: string }> {
  const req = publishRequest(target, pod, a, { volumeId });
  const t = performance.now();
  await client.call('Node', 'NodePublishVolume', req);
  return { ms: performance.now() - t, volumeId: req.volume_id };
}

try {
  const fresh: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const target = join(dir, 'pods', `v${i}`, 'mount');
    const { ms, volumeId } = await timedPublish(target, attrs);
    if (i >= WARMUP) fresh.push(ms);
    await client.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
  }
  summary('NodePublishVolume, new volume (warm caches)', fresh);

  const target = join(dir, 'pods', 'republish', 'mount');
  const { volumeId } = await timedPublish(target, attrs);
  const republish: number[] = [];
  for (let i = 0; i < N; i++) republish.push((await timedPublish(target, attrs, volumeId)).ms);
  summary('NodePublishVolume, republish of an unchanged volume', republish);
  await client.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });

  const minted: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t = join(dir, 'pods', `m${i}`, 'mount');
    const r = await timedPublish(t, { ...attrs, 'token.expiration': `${20 + i}m` });
    minted.push(r.ms);
    await client.call('Node', 'NodeUnpublishVolume', { volume_id: r.volumeId, target_path: t });
  }
  summary('NodePublishVolume, new volume with a TokenRequest (token cache miss)', minted);
} finally {
  client.close();
  await driver.stop();
  for (const m of await mountPoints()) if (m.startsWith(dir + '/')) await new TmpfsMounter().unmount(m).catch(() => {});
  await rm(dir, { recursive: true, force: true });
  await classes.delete(className).catch(() => {});
  await stopCluster();
}
