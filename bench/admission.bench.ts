// Admission webhook latency under load: 200 Pods/s for 10 s (override: RATE, SECONDS), in two setups.
//   A. direct:   realistic AdmissionReview bodies (the OCI quick start's Pod as the API server sends it) POSTed to
//                the webhook's HTTPS server over keep-alive connections;
//   B. apiserver: real Pod creates through a local kube-apiserver with the webhook registered (url
//                clientConfig), the Pods labelled and annotated as in the OCI quick start, the flag on.
//   C. baseline: the same creates with the webhook unregistered.
// Reports p50/p90/p99/max of the webhook's own handling time (measured inside the server, from the
// request's arrival to the response written: body read, JSON parse, decision, patch, serialisation) and of
// the client round trip (A) / end-to-end Pod create (B, C). The load generator, the webhook and the control
// plane share the machine, so end-to-end figures include CPU contention.
// Run: node bench/admission.bench.ts   (from the repository root, with node_modules/.bin first on PATH)
import { randomUUID } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { startControlPlane } from '../controlplane/index.ts';
import { kubeRest } from '../core/kube/rest.ts';
import { setLogLevel } from '../core/observability/log.ts';
import { startWebhook } from '../webhook/index.ts';
import { loadBuiltinClass } from '../connectorclasses/index.ts';

const RATE = Number(process.env.RATE ?? 200);
const SECONDS = Number(process.env.SECONDS ?? 10);
const NS = 'bench';
const SYSTEM_NS = 'connectors-system';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const fmt = (label: string, xs: number[]) =>
  `${label.padEnd(34)} n=${String(xs.length).padStart(5)}  p50 ${pct(xs, 50).toFixed(2)} ms  p90 ` +
  `${pct(xs, 90).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms  max ${Math.max(...xs).toFixed(2)} ms`;

/** Open-loop load: start one operation every 1/RATE s for SECONDS, whatever the previous ones do. */
async function load(
  op: (i: number) => Promise<number>,
): Promise<{ latencies: number[]; errors: number; achieved: number }> {
  const total = RATE * SECONDS;
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      op(i).then(
        (ms) => void latencies.push(ms),
        () => void errors++,
      ),
    );
  }
  const sent = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  return { latencies, errors, achieved: total / sent };
}

const podObject = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: NS,
    labels: { 'connectors.cpaas.io/proxy-inject': 'true', app: 'bench' },
    annotations: { 'connectors.cpaas.io/connector': `${NS}/harbor` },
  },
  spec: {
    serviceAccountName: 'default',
    initContainers: [{ name: 'init', image: 'harbor.example.com/tools/init:1.0', command: ['true'] }],
    containers: [
      {
        name: 'app',
        image: 'harbor.example.com/oci-connector-demo:v1',
        ports: [{ containerPort: 8080 }],
        env: [{ name: 'A', value: 'b' }],
        resources: { requests: { cpu: '10m', memory: '16Mi' } },
      },
      { name: 'sidecar', image: 'busybox:1.36', command: ['sleep', 'infinity'] },
    ],
  },
});

setLogLevel('warn');
process.stdout.write(`admission benchmark: ${RATE} Pods/s for ${SECONDS} s; node ${process.version}\n`);
const cp = await startControlPlane({ controllerManager: false });
try {
  const kc = new KubeConfig();
  kc.loadFromString(cp.kubeconfigYaml);
  const rest = await kubeRest(kc);
  for (const ns of [NS, SYSTEM_NS]) await rest.call('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  await rest.call('POST', `/api/v1/namespaces/${SYSTEM_NS}/configmaps`, {
    body: { metadata: { name: 'connectors-config' }, data: { 'enable-pod-image-pull-via-connector': 'true' } },
  });
  // The built-in oci class: images are rewritten only for Connectors of an OCI-kind class.
  await rest.call('POST', '/apis/connectors.alauda.io/v1alpha1/connectorclasses', { body: loadBuiltinClass('oci') });
  await rest.call('POST', `/apis/connectors.alauda.io/v1alpha1/namespaces/${NS}/connectors`, {
    body: {
      apiVersion: 'connectors.alauda.io/v1alpha1',
      kind: 'Connector',
      metadata: { name: 'harbor' },
      spec: { connectorClassName: 'oci', address: 'https://harbor.example.com' },
    },
  });
  const conn = await rest.call<any>('GET', `/apis/connectors.alauda.io/v1alpha1/namespaces/${NS}/connectors/harbor`);
  conn.status = { proxy: { httpAddress: { url: `http://127.0.0.1:31567/namespaces/${NS}/connectors/harbor` } } };
  await rest.call('PUT', `/apis/connectors.alauda.io/v1alpha1/namespaces/${NS}/connectors/harbor/status`, {
    body: conn,
  });

  const handling: Record<string, number[]> = { direct: [], apiserver: [] };
  let phase: 'direct' | 'apiserver' | 'warmup' = 'warmup';
  const wh = await startWebhook(kc, {
    port: 0,
    register: true,
    systemNamespace: SYSTEM_NS,
    onTiming: (_p, ms) => phase !== 'warmup' && handling[phase].push(ms),
  });
  while (!wh.flags.enabled('enable-pod-image-pull-via-connector')) await new Promise((r) => setTimeout(r, 50));

  // A. direct
  const agent = new Agent({ connect: { ca: wh.caBundle() }, connections: 32, keepAliveTimeout: 30_000 });
  const direct = async (i: number) => {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: randomUUID(),
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        requestKind: { group: '', version: 'v1', kind: 'Pod' },
        requestResource: { group: '', version: 'v1', resource: 'pods' },
        name: `direct-${i}`,
        namespace: NS,
        operation: 'CREATE',
        userInfo: { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
        object: podObject(`direct-${i}`),
        oldObject: null,
        dryRun: false,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    });
    const t = performance.now();
    const res = await request(`${wh.url}/mutate/pods`, {
      method: 'POST',
      dispatcher: agent,
      body,
      headers: { 'content-type': 'application/json' },
    });
    const review = (await res.body.json()) as { response?: { allowed: boolean; patch?: string } };
    if (!review.response?.allowed || !review.response.patch) throw new Error('not mutated');
    return performance.now() - t;
  };
  for (let i = 0; i < 200; i++) await direct(i); // warm up
  phase = 'direct';
  const a = await load(direct);
  process.stdout.write(
    `\nA. direct to the webhook (HTTPS keep-alive), achieved ${a.achieved.toFixed(0)} req/s, errors ${a.errors}\n`,
  );
  process.stdout.write(
    fmt('webhook handling time', handling.direct) + '\n' + fmt('client round trip', a.latencies) + '\n',
  );

  // B. through the API server
  const create = async (i: number) => {
    const t = performance.now();
    const pod = await rest.call<any>('POST', `/api/v1/namespaces/${NS}/pods`, { body: podObject(`pod-${i}`) });
    if (!String(pod.spec.containers[0].image).startsWith('127.0.0.1:31567/')) throw new Error('not rewritten');
    return performance.now() - t;
  };
  phase = 'warmup';
  for (let i = 0; i < 100; i++) await create(100_000 + i);
  phase = 'apiserver';
  const b = await load(create);
  process.stdout.write(
    `\nB. Pod create through kube-apiserver ${cp.server} with the webhook registered, achieved ${b.achieved.toFixed(0)} Pods/s, errors ${b.errors}\n`,
  );
  process.stdout.write(
    fmt('webhook handling time', handling.apiserver) + '\n' + fmt('end-to-end Pod create', b.latencies) + '\n',
  );
  await agent.close();
  await wh.stop(); // also unregisters

  // C. baseline: the same creates with no webhook registered.
  await new Promise((r) => setTimeout(r, 2000));
  const plain = async (i: number) => {
    const t = performance.now();
    await rest.call('POST', `/api/v1/namespaces/${NS}/pods`, { body: podObject(`plain-${i}`) });
    return performance.now() - t;
  };
  const c = await load(plain);
  process.stdout.write(
    `\nC. baseline: the same Pod creates, no webhook registered, achieved ${c.achieved.toFixed(0)} Pods/s, errors ${c.errors}\n`,
  );
  process.stdout.write(fmt('end-to-end Pod create', c.latencies) + '\n');
  await rest.close();
} finally {
  await cp.stop();
}
