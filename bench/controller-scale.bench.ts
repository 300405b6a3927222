// Controller scale: 1,000 Connectors (and their Secrets) created at once against the embedded control
// plane and a real git smart-HTTP server; the controller runs as a separate `connectors controller` process.
// Reports: time to all-Ready, the controller's peak RSS (sampled from /proc), and the requests it puts on
// the apiserver at rest (apiserver_request_total before/after an idle window; nothing else talks to this
// apiserver then: no kube-controller-manager, and the benchmark itself is idle).
//
//   export PATH=$PWD/node_modules/.bin:$PATH && node bench/controller-scale.bench.ts [--connectors N] [--idle-seconds S]
// CONTROLLER_NODE_OPTIONS overrides the controller's NODE_OPTIONS (default --max-semi-space-size=2).
import { spawn } from 'node:child_process';
import { readFileSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startControlPlane } from '../controlplane/index.ts';
import { kubeRest, type KubeRest } from '../core/kube/rest.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { builtinClasses } from '../connectorclasses/index.ts';
import {
  startGitServer,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  freePort,
  objects,
} from '@connectors/test-support';
import type { Connector } from '../core/api/index.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: { connectors: { type: 'string', default: '1000' }, 'idle-seconds': { type: 'string', default: '45' } },
});
const N = Number(values.connectors);
const IDLE_S = Number(values['idle-seconds']);
const SYS = 'connectors-system';
const NS = 'bench';
const log = (s: string) => process.stdout.write(s + '\n');

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

/** Sum of apiserver_request_total by "VERB resource[/subresource]". */
async function requestTotals(rest: KubeRest): Promise<Map<string, number>> {
  const text = await rest.call<string>('GET', '/metrics');
  const out = new Map<string, number>();
  for (const line of String(text).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const key = `${labels.verb} ${labels.resource || '(non-resource)'}${labels.subresource ? '/' + labels.subresource : ''}`;
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

async function main(): Promise<void> {
  await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
  log(`controller scale benchmark: ${N} Connectors, idle window ${IDLE_S}s`);
  const [cp, git] = await Promise.all([
    startControlPlane({ controllerManager: false }),
    startGitServer({ users: { 'your-username': 'your-token' } }),
  ]);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await git.createRepo('your-org/your-repo.git');
    const kc = new KubeConfig();
    kc.loadFromString(cp.kubeconfigYaml);
    const rest = await kubeRest(kc);
    for (const ns of [SYS, NS]) await rest.call('POST', '/api/v1/namespaces', { body: objects.namespace(ns) });
    await rest.call('POST', `/api/v1/namespaces/${SYS}/services`, {
      body: {
        metadata: { name: 'connectors-proxy-service' },
        spec: { ports: [{ port: 80 }], selector: { app: 'connectors-proxy' } },
      },
    });
    for (const cls of builtinClasses({ systemNamespace: SYS, names: ['git'] }))
      await rest.call('POST', '/apis/connectors.alauda.io/v1alpha1/connectorclasses', { body: cls });

    const healthPort = await freePort();
    const logFile = join(cp.stateDir, 'controller.log');
    child = spawn(
      process.execPath,
      [
        join(root, 'cli/connectors.js'),
        'controller',
        '--kubeconfig',
        cp.kubeconfigPath,
        '--health-port',
        String(healthPort),
        '--leader-elect=true',
      ],
      {
        // The controller's deployment setting: a small V8 young generation (2 MiB semi-spaces instead of 16)
        // keeps the burst of short-lived status/probe objects from inflating RSS; see docs/benchmarks.md.
        env: {
          ...process.env,
          CONNECTORS_SYSTEM_NAMESPACE: SYS,
          KUBECONFIG: '',
          NODE_OPTIONS: process.env.CONTROLLER_NODE_OPTIONS ?? '--max-semi-space-size=2',
        },
        stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
      },
    );
    const pid = child.pid!;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 300) throw new Error(`controller not ready; see ${logFile}`);
      await sleep(100);
    }
    const idleRss = rssMiB(pid);
    log(`controller pid ${pid} ready, RSS ${idleRss.toFixed(0)} MiB`);

    const t0 = Date.now();
    const names = Array.from({ length: N }, (_, i) => `c-${String(i).padStart(4, '0')}`);
    await pool(names, 32, async (name) => {
      await rest.call('POST', `/api/v1/namespaces/${NS}/secrets`, {
        body: objects.basicAuthSecret(`${name}-auth`, 'your-username', 'your-token'),
      });
      const conn = objects.connector(name, {
        namespace: NS,
        className: 'git',
        address: git.url,
        auth: { name: 'basicAuth', secret: `${name}-auth`, params: { repository: 'your-org/your-repo.git' } },
      });
      await rest.call('POST', `/apis/connectors.alauda.io/v1alpha1/namespaces/${NS}/connectors`, { body: conn });
    });
    const created = Date.now() - t0;
    log(`created ${N} Secrets + Connectors in ${(created / 1000).toFixed(1)} s`);
    let ready = 0;
    for (;;) {
      const list = await rest.call<{ items: Connector[] }>(
        'GET',
        `/apis/connectors.alauda.io/v1alpha1/namespaces/${NS}/connectors`,
      );
      ready = list.items.filter((c) => c.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True').length;
      if (ready === N) break;
      if (Date.now() - t0 > 600_000) throw new Error(`only ${ready}/${N} Ready after 10 minutes; see ${logFile}`);
      await sleep(500);
    }
    const allReady = Date.now() - t0;
    log(
      `all ${N} Ready ${(allReady / 1000).toFixed(1)} s after the first create; peak RSS so far ${peak.toFixed(0)} MiB`,
    );

    await sleep(5000);
    const before = await requestTotals(rest);
    const tIdle = Date.now();
    await sleep(IDLE_S * 1000);
    const after = await requestTotals(rest);
    const idleS = (Date.now() - tIdle) / 1000;
    const delta = [...after]
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
      .filter(([k, d]) => d > 0 && !k.includes('(non-resource)'));
    const total = delta.reduce((s, [, d]) => s + d, 0);
    const leases = delta.filter(([k]) => k.includes('leases')).reduce((s, [, d]) => s + d, 0);
    clearInterval(sampler);
    const restRss = rssMiB(pid);
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const heap = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN) / 1048576;
    log(
      `controller heap at rest: used ${heap('nodejs_heap_size_used_bytes').toFixed(0)} MiB of ${heap('nodejs_heap_size_total_bytes').toFixed(0)} MiB total`,
    );
    const reconciles = [
      ...metrics.matchAll(/^connectors_controller_reconcile_total\{kind="(\w+)",result="(\w+)"\} (\d+)/gm),
    ]
      .map((m) => `${m[1]}/${m[2]}=${m[3]}`)
      .join(' ');
    log('');
    log(`| measurement | result |`);
    log(`| --- | --- |`);
    log(
      `| Connectors (+ Secrets) created at once (32 concurrent creates) | ${N} in ${(created / 1000).toFixed(1)} s |`,
    );
    log(`| time from the first create to all ${N} Ready | ${(allReady / 1000).toFixed(1)} s |`);
    log(
      `| controller RSS: idle before / peak / at rest after | ${idleRss.toFixed(0)} / ${peak.toFixed(0)} / ${restRss.toFixed(0)} MiB |`,
    );
    log(
      `| apiserver requests at rest, ${idleS.toFixed(0)} s window, all clients | ${total} (${(total / idleS).toFixed(2)} req/s) |`,
    );
    log(`| … of which Lease renewals (leader election) | ${leases} (${(leases / idleS).toFixed(2)} req/s) |`);
    log(
      `| … everything else (status writes, lists, watches, events) | ${total - leases} (${((total - leases) / idleS).toFixed(3)} req/s) |`,
    );
    log(`| reconciles | ${reconciles} |`);
    log('');
    log(`requests in the idle window by verb/resource: ${delta.map(([k, d]) => `${k}=${d}`).join(', ') || 'none'}`);
    await rest.close();
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await git.stop();
    await cp.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`controller-scale: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
