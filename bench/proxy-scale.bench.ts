// Connectors Proxy with many Connectors and Secrets in its caches. Run from the repository root:
// `node bench/proxy-scale.bench.ts` (Node 24 first on PATH). Everything real: the test apiserver (without
// kube-controller-manager, which this needs not), one nginx `return 200` server as the tool, and the proxy as its
// own process through the CLI (`connectors proxy`, the image's NODE_OPTIONS and MALLOC_ARENA_MAX).
// The proxy watches every Connector and every Secret of the cluster (core/kube/state.ts): this measures what each
// one costs it in memory, and that finding the Connector of a request does not get slower with their number.
//   One Connector (`small`, class git, a basic-auth Secret) points at the tool. After a warm-up through it, at each
//   point: RSS (VmRSS) and V8's heap in use, the latency of small GETs through `small` at one connection, one
//   request at a time (bench/load.ts, µs precision: p50/p99), and the throughput at BENCH_CONCURRENCY connections
//   (ApacheBench -k: req/s). Then BENCH_SCALE_CONNECTORS more Connectors, each with its own basic-auth Secret,
//   spread over BENCH_SCALE_NAMESPACES namespaces, created through the REST API with bounded concurrency, in steps
//   (BENCH_SCALE_POINTS): after each step the benchmark waits until a request through the step's last Connector
//   (created alone, after all others of the step have been answered, so the watches deliver it last) succeeds,
//   waits BENCH_SCALE_SETTLE_SECONDS, and measures again. Nothing is forced inside the proxy (no GC).
//   Finally a fresh proxy process is started with everything present (its caches filled by a list, not by watch
//   events) and measured the same way.
// Knobs (defaults): BENCH_SCALE_CONNECTORS (10000) Connector+Secret pairs in all; BENCH_SCALE_POINTS (1000,5000)
// the intermediate counts measured on the way; BENCH_SCALE_NAMESPACES (100); BENCH_SCALE_CREATE_CONCURRENCY (32)
// requests in flight while creating; BENCH_SCALE_STATUS (1: each Connector gets the status the controller writes
// once it is Ready: six conditions, proxy address, API path; 0: no status); BENCH_SCALE_SETTLE_SECONDS (5);
// BENCH_SCALE_FRESH (1: the fresh-proxy row; 0: none); BENCH_WARMUP (5000) requests before each point;
// BENCH_SERIAL_REQUESTS (5000) one-connection requests; BENCH_REQUESTS (20000) and BENCH_CONCURRENCY (32) of the
// throughput run.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { builtinClasses } from '../connectorclasses/index.ts';
import type { ConnectorStatus } from '../core/api/index.ts';
import { PROXY_AUDIENCE } from '../core/api/keys.ts';
import { connectorApiPath } from '../core/connector/api-path.ts';
import { kubeClient } from '../core/kube/client.ts';
import { resources } from '../core/kube/resources.ts';
import {
  cluster,
  stopCluster,
  freePort,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import {
  gitConnectorsYaml,
  heapSpaces,
  machineLine,
  rssBreakdown,
  rssKiB,
  startNginx,
  startProxyProcess,
} from './proxy-process.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.BENCH_SCALE_CONNECTORS ?? 10_000);
const POINTS = [
  ...new Set([
    ...(process.env.BENCH_SCALE_POINTS ?? '1000,5000')
      .split(',')
      .filter(Boolean)
      .map(Number)
      .filter((n) => n > 0 && n < N),
    N,
  ]),
].sort((a, b) => a - b);
const NAMESPACES = Number(process.env.BENCH_SCALE_NAMESPACES ?? 100);
const CREATE_CONCURRENCY = Number(process.env.BENCH_SCALE_CREATE_CONCURRENCY ?? 32);
const WITH_STATUS = process.env.BENCH_SCALE_STATUS !== '0';
const SETTLE_S = Number(process.env.BENCH_SCALE_SETTLE_SECONDS ?? 5);
const FRESH = process.env.BENCH_SCALE_FRESH !== '0';
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const SERIAL_REQUESTS = Number(process.env.BENCH_SERIAL_REQUESTS ?? 5000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const out = (s: string) => process.stdout.write(s + '\n');

/** `n` requests from ApacheBench (keep-alive, `c` connections); req/s and failures. */
async function ab(url: string, token: string, n: number, c: number): Promise<{ rps: number; errors: number }> {
  const { stdout } = await runCommand('ab', [
    ...['-q', '-k', '-s', '30', '-c', String(c), '-n', String(n)],
    ...['-H', `Authorization: Bearer ${token}`, url],
  ]);
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    rps: num(/Requests per second:\s+([\d.]+)/),
    errors: num(/Failed requests:\s+(\d+)/) + (num(/Non-2xx responses:\s+(\d+)/) || 0),
  };
}

/** One connection, one request at a time (bench/load.ts, its own warm-up first): p50/p99 in ms. */
async function serial(url: string, token: string): Promise<{ p50Ms: number; p99Ms: number; errors: number }> {
  const { stdout } = await runCommand(process.execPath, [
    join(root, 'bench/load.ts'),
    JSON.stringify({ url, headers: { authorization: `Bearer ${token}` }, connections: 1, requests: SERIAL_REQUESTS }),
  ]);
  return JSON.parse(stdout.trim().split('\n').pop()!) as { p50Ms: number; p99Ms: number; errors: number };
}

/** V8's heap in use (MiB), from the proxy's /metrics. */
async function heapUsedMiB(healthPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 1048576;
}

/** Polls a GET through the proxy until it answers 200; the seconds it took. */
async function until200(url: string, token: string, timeoutS = 600): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    await r?.arrayBuffer();
    if (r?.status === 200) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutS * 1000) throw new Error(`${url}: still ${r?.status} after ${timeoutS} s`);
    await sleep(100);
  }
}

/** `items` through `fn`, at most `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

interface Point {
  /** Connector+Secret pairs created by the benchmark (the caches hold one more of each: `small`). */
  pairs: number;
  note: string;
  rssKiB: number;
  heapMiB: number;
  p50Ms: number;
  p99Ms: number;
  rps: number;
  errors: number;
  rssAfterKiB: number;
}

await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
process.env.CONNECTORS_TEST_CONTROLLER_MANAGER ??= '0';
const work = await mkdtemp(join(tmpdir(), 'connectors-proxy-scale-'));
await chmod(work, 0o755);
const c = await cluster();
const client = kubeClient(c.kubeConfig);
let proxy: ChildProcess | undefined;
let upstream: ChildProcess | undefined;
try {
  const sys = await c.createNamespace('proxy-scale-sys');
  const ns = await c.createNamespace('proxy-scale');
  for (const cls of builtinClasses({ systemNamespace: sys, names: ['git'] }))
    await client.create(resources.ConnectorClass, cls);
  const upstreamPort = await freePort();
  upstream = await startNginx(
    join(work, 'nginx-tool'),
    1,
    upstreamPort,
    `  server { listen 127.0.0.1:${upstreamPort}; location / { default_type text/plain; return 200 "ok from the tool\\n"; } }`,
    undefined,
  );
  // The bench ServiceAccount may `get` the Connectors of its namespace (gitConnectorsYaml) and, for the step's last
  // Connector, those of every namespace.
  await c.kubectl(['apply', '-n', ns, '-f', '-'], {
    input:
      gitConnectorsYaml(ns, { small: `http://127.0.0.1:${upstreamPort}` }) +
      '---\n' +
      objects.yaml(
        objects.clusterRole('proxy-scale-bench', [objects.connectorRule(['get'])]),
        objects.clusterRoleBinding('proxy-scale-bench', 'proxy-scale-bench', [
          objects.serviceAccountSubject('bench', ns),
        ]),
      ),
  });
  const token = await c.createToken(ns, 'bench', { audience: PROXY_AUDIENCE, expirationSeconds: 7200 });
  const namespaces: string[] = [];
  for (let i = 0; i < NAMESPACES; i++)
    namespaces.push(await c.createNamespace(`proxy-scale-${i}`, { waitForDefaultServiceAccount: false }));

  const start = async () => {
    const healthPort = await freePort();
    const started = await startProxyProcess({
      kubeconfigPath: c.kubeconfigPath,
      systemNamespace: sys,
      args: ['--health-port', String(healthPort)],
    });
    return { ...started, healthPort };
  };
  const stop = (child: ChildProcess) =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  // A first start fills Node's compile cache (cli/connectors.js); a start without it also loads the TypeScript
  // stripper (~17 MiB), which would make the first proxy larger than the fresh one at the end.
  await stop((await start()).proxy);
  let p = await start();
  proxy = p.proxy;
  const via = (port: number, namespace: string, name: string) =>
    `http://127.0.0.1:${port}/namespaces/${namespace}/connectors/${name}/x`;
  await until200(via(p.port, ns, 'small'), token, 30);
  out(await machineLine());

  /** The measurements of one point, after a warm-up and a quiet spell. */
  const measure = async (pairs: number, note = ''): Promise<Point> => {
    const url = via(p.port, ns, 'small');
    await ab(url, token, WARMUP, CONCURRENCY); // JIT warm-up, and the same recent history at every point
    await sleep(SETTLE_S * 1000);
    const rss = await rssKiB(p.proxy.pid!);
    const heapMiB = await heapUsedMiB(p.healthPort);
    const s = await serial(url, token);
    const t = await ab(url, token, REQUESTS, CONCURRENCY);
    const point: Point = {
      pairs,
      note,
      rssKiB: rss,
      heapMiB,
      ...s,
      rps: t.rps,
      errors: s.errors + t.errors,
      rssAfterKiB: await rssKiB(p.proxy.pid!),
    };
    out(
      `  ${(1 + pairs).toLocaleString('en')} Connectors${note ? ` (${note})` : ''}: RSS ${(rss / 1024).toFixed(1)} MiB (heap used ${heapMiB.toFixed(1)}), ` +
        `1 connection p50 ${s.p50Ms.toFixed(3)} ms p99 ${s.p99Ms.toFixed(3)} ms, ` +
        `${CONCURRENCY} connections ${Math.round(t.rps)} req/s, errors ${point.errors}, ` +
        `RSS after the load ${(point.rssAfterKiB / 1024).toFixed(1)} MiB`,
    );
    return point;
  };

  const points: Point[] = [await measure(0)];
  out(`    MiB: ${await rssBreakdown(p.proxy.pid!)}`);
  out(`    ${await heapSpaces(p.healthPort)}`);

  const timestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  /** Pair `i`: a basic-auth Secret with a token-like password and a Connector of class git using it. */
  const createPair = async (i: number) => {
    const namespace = namespaces[i % NAMESPACES];
    const name = `git-${String(i).padStart(5, '0')}`;
    await client.create(
      resources.Secret,
      objects.basicAuthSecret(`${name}-auth`, `user-${i}`, randomBytes(20).toString('hex'), { namespace }),
    );
    await client.create(
      resources.Connector,
      objects.connector(name, {
        namespace,
        className: 'git',
        address: `http://127.0.0.1:${upstreamPort}/scale/${i}`,
        auth: { name: 'basicAuth', secret: `${name}-auth`, params: { repository: `org-${i}/repo.git` } },
      }),
    );
    if (!WITH_STATUS) return;
    // What the controller writes once the Connector is Ready (controller/connector-reconciler.ts).
    const condition = (type: string, message = '', probed = false) => ({
      type,
      status: 'True' as const,
      observedGeneration: 1,
      lastTransitionTime: timestamp,
      reason: '',
      message,
      ...(probed ? { lastProbeTime: timestamp } : {}),
    });
    const status: ConnectorStatus = {
      conditions: [
        condition('ConnectorClassReady'),
        condition('SecretReady'),
        condition('LivenessReady', '', true),
        condition('AuthReady', '', true),
        condition('ProxyServiceReady', `Service c-${name} points to connectors-proxy-service.${sys}.svc.cluster.local`),
        condition('Ready'),
      ],
      observedGeneration: 1,
      proxy: {
        httpAddress: {
          name: 'proxy',
          url: `http://c-${name}.${namespace}.svc.cluster.local`,
          audience: PROXY_AUDIENCE,
        },
      },
      api: { path: connectorApiPath(namespace, name) },
    };
    await client.patch(resources.Connector, name, namespace, { status }, 'merge', { subresource: 'status' });
  };

  const createLines: string[] = [];
  let created = 0;
  for (const target of POINTS) {
    let peakKiB = 0;
    const sampler = setInterval(
      () =>
        void rssKiB(p.proxy.pid!).then(
          (k) => (peakKiB = Math.max(peakKiB, k)),
          () => {},
        ),
      200,
    );
    const t0 = performance.now();
    // The step's last pair alone, after the others: its Secret and Connector come last in their watches.
    await pool(
      Array.from({ length: target - created - 1 }, (_, k) => created + k),
      CREATE_CONCURRENCY,
      createPair,
    );
    await createPair(target - 1);
    const createS = (performance.now() - t0) / 1000;
    const last = target - 1;
    const caughtUpS = await until200(
      via(p.port, namespaces[last % NAMESPACES], `git-${String(last).padStart(5, '0')}`),
      token,
    );
    clearInterval(sampler);
    const line =
      `created pairs ${created + 1}-${target} (${target - created} Secrets + Connectors` +
      `${WITH_STATUS ? ' + status writes' : ''}, ${CREATE_CONCURRENCY} in flight) in ${createS.toFixed(1)} s ` +
      `(${((target - created) / createS).toFixed(0)} pairs/s); the proxy served the last one ` +
      `${caughtUpS.toFixed(1)} s later; its peak RSS meanwhile ${(peakKiB / 1024).toFixed(1)} MiB`;
    out(line);
    createLines.push(line);
    created = target;
    points.push(await measure(target));
  }
  out(`    MiB: ${await rssBreakdown(p.proxy.pid!)}`);
  out(`    ${await heapSpaces(p.healthPort)}`);

  if (FRESH) {
    await stop(p.proxy);
    const t0 = performance.now();
    p = await start();
    proxy = p.proxy;
    const last = N - 1;
    await until200(via(p.port, namespaces[last % NAMESPACES], `git-${String(last).padStart(5, '0')}`), token);
    out(
      `fresh proxy: started and serving the last Connector in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(its caches filled by a list)`,
    );
    points.push(await measure(N, 'fresh proxy'));
    out(`    MiB: ${await rssBreakdown(p.proxy.pid!)}`);
    out(`    ${await heapSpaces(p.healthPort)}`);
  }

  const base = points[0];
  const command = [
    ...[
      'BENCH_SCALE_CONNECTORS',
      'BENCH_SCALE_POINTS',
      'BENCH_SCALE_NAMESPACES',
      'BENCH_SCALE_CREATE_CONCURRENCY',
      'BENCH_SCALE_STATUS',
      'BENCH_SCALE_SETTLE_SECONDS',
      'BENCH_SCALE_FRESH',
      'BENCH_WARMUP',
      'BENCH_SERIAL_REQUESTS',
      'BENCH_REQUESTS',
      'BENCH_CONCURRENCY',
    ]
      .filter((k) => process.env[k] !== undefined)
      .map((k) => `${k}=${process.env[k]}`),
    'node bench/proxy-scale.bench.ts',
  ].join(' ');
  out(`\nCommand: \`${command}\``);
  out(await machineLine());
  out(
    `\n| Connectors / Secrets in the caches | RSS (MiB) | growth per Connector+Secret pair (KiB) | V8 heap used (MiB) | ` +
      `1 connection p50 / p99 (ms) | ${CONCURRENCY} connections (req/s) | RSS after the load (MiB) |`,
  );
  out('| --- | --- | --- | --- | --- | --- | --- |');
  for (const pt of points)
    out(
      `| ${(1 + pt.pairs).toLocaleString('en')} / ${(1 + pt.pairs).toLocaleString('en')}${pt.note ? ` (${pt.note})` : ''} | ` +
        `${(pt.rssKiB / 1024).toFixed(1)} | ` +
        `${pt.pairs ? ((pt.rssKiB - base.rssKiB) / pt.pairs).toFixed(2) : '–'} | ${pt.heapMiB.toFixed(1)} | ` +
        `${pt.p50Ms.toFixed(3)} / ${pt.p99Ms.toFixed(3)} | ${Math.round(pt.rps)} | ${(pt.rssAfterKiB / 1024).toFixed(1)} |`,
    );
  out('');
  for (const line of createLines) out(line);
} finally {
  proxy?.kill('SIGTERM');
  upstream?.kill('SIGQUIT');
  await client.close();
  await stopCluster();
  await rm(work, { recursive: true, force: true });
}
