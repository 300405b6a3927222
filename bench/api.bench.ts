// Connectors API benchmark: passthrough GETs through the API against the same GETs through the Connectors Proxy,
// for the same Connector. Run from the repository root: `node bench/api.bench.ts` (Node 24 first on PATH).
// Everything real: the test apiserver (TokenReview/SubjectAccessReview), nginx-light as the tool (`return 200`),
// the proxy and the API as their own processes started with the CLI (`connectors proxy`, `connectors api`),
// access/audit lines written (to /dev/null).
//   (a) small GETs at BENCH_CONCURRENCY (32) connections from ApacheBench (-k), BENCH_REQUESTS (20000) after
//       BENCH_WARMUP (5000) uncounted, BENCH_ROUNDS (3) interleaved rounds: the tool directly, the proxy, the API,
//       and the API with every request through express (`--no-front`); requests/s, CPU per request of the
//       answering process; the API/proxy ratio per round and its median (goal ≥ 0.8).
//   (b) the latency each hop adds without queueing: BENCH_SERIAL_REQUESTS (5000) GETs on one connection, one at a
//       time (bench/load.ts, µs precision), in BENCH_ROUNDS interleaved rounds; p50 and p99 added over direct per
//       round and their medians (goal: p99 < 5 ms).
//   (c) BENCH_CALLGRIND=1 (installs valgrind): user-space instructions per passthrough GET under callgrind, for
//       the proxy and the API (front and all-express): repeatable where time on a shared machine is not.
// BENCH_ROUNDS=0 with BENCH_CALLGRIND=1 runs (c) alone. BENCH_PIN=1 puts the proxy and the API under test alone on
// CPU 1, the load generator and the tool on CPU 0.
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { builtinClasses } from '../connectorclasses/index.ts';
import {
  cluster,
  stopCluster,
  freePort,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
} from '@connectors/test-support';
import { gitConnectorsYaml, cpuSeconds, machineLine, onCpu, startNginx, startProxyProcess } from './proxy-process.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SERIAL_REQUESTS = Number(process.env.BENCH_SERIAL_REQUESTS ?? 5000);
const PIN = process.env.BENCH_PIN === '1';
const CALLGRIND = process.env.BENCH_CALLGRIND === '1';
/** Requests counted by callgrind, after two uncounted runs of as many. */
const CALLGRIND_REQUESTS = 3000;
const UNDER_TEST_CPU = PIN ? 1 : undefined;
const LOAD_CPU = PIN ? 0 : undefined;
const out = (s: string) => process.stdout.write(s + '\n');
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

interface Target {
  url: string;
  headers?: Record<string, string>;
  pid?: number;
}
interface Result {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuUs?: number;
}

function ab(t: Target, n: number): Promise<{ stdout: string }> {
  const headers = Object.entries(t.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  return runCommand(
    ...onCpu(LOAD_CPU, 'ab', ['-q', '-k', '-c', String(CONCURRENCY), '-n', String(n), ...headers, t.url]),
  );
}

/** (a): ab after a warm-up, with the CPU time per request of the answering process. */
async function throughput(t: Target): Promise<Result> {
  await ab(t, WARMUP);
  const before = t.pid === undefined ? undefined : await cpuSeconds(t.pid);
  const { stdout } = await ab(t, REQUESTS);
  const after = t.pid === undefined ? undefined : await cpuSeconds(t.pid);
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    rps: num(/Requests per second:\s+([\d.]+)/),
    p50Ms: num(/^\s+50%\s+(\d+)/m),
    p99Ms: num(/^\s+99%\s+(\d+)/m),
    errors: num(/Failed requests:\s+(\d+)/) + (num(/Non-2xx responses:\s+(\d+)/) || 0),
    cpuUs: before && after ? ((after.user + after.system - before.user - before.system) * 1e6) / REQUESTS : undefined,
  };
}

/** (b): one connection, one request at a time. */
async function serial(t: Target): Promise<Result> {
  const { stdout } = await runCommand(
    ...onCpu(LOAD_CPU, process.execPath, [
      join(root, 'bench/load.ts'),
      JSON.stringify({ url: t.url, headers: t.headers, connections: 1, requests: SERIAL_REQUESTS }),
    ]),
  );
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const row = (name: string, r: Result) =>
  out(
    `    ${name.padEnd(26)} ${Math.round(r.rps).toString().padStart(7)} req/s   p50 ` +
      `${r.p50Ms.toFixed(2)} ms   p99 ${r.p99Ms.toFixed(2)} ms   errors ` +
      `${r.errors}${r.cpuUs === undefined ? '' : `   CPU ${r.cpuUs.toFixed(0)} µs/req`}`,
  );

await ensureSystemPackages(CALLGRIND ? [...TEST_SYSTEM_PACKAGES, 'valgrind'] : TEST_SYSTEM_PACKAGES);
const work = await mkdtemp(join(tmpdir(), 'connectors-api-bench-'));
await chmod(work, 0o755);
const c = await cluster();
const children: ChildProcess[] = [];
try {
  const ns = await c.createNamespace('api-bench', { waitForDefaultServiceAccount: false });
  const sys = await c.createNamespace('api-bench-sys', { waitForDefaultServiceAccount: false });
  const toolPort = await freePort();
  // The built-in git class: the Connector's class (its openapi declares only /git/gitrefs, so /x is passthrough).
  const [gitClass] = builtinClasses({ systemNamespace: sys, names: ['git'] });
  await c.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(gitClass) });
  await c.kubectl(['apply', '-n', ns, '-f', '-'], {
    input: gitConnectorsYaml(ns, { small: `http://127.0.0.1:${toolPort}` }),
  });
  // The proxy takes tokens of its own audience; the API the apiserver's (as `kubectl create token` gives them).
  const proxyToken = await c.createToken(ns, 'bench', { audience: 'connectors-proxy', expirationSeconds: 3600 });
  const apiToken = await c.createToken(ns, 'bench', { expirationSeconds: 3600 });
  const tool = await startNginx(
    join(work, 'nginx-tool'),
    1,
    toolPort,
    `  server { listen 127.0.0.1:${toolPort}; location / { default_type text/plain; return 200 "ok from the tool\\n"; } }`,
    LOAD_CPU,
  );
  children.push(tool);
  const common = { kubeconfigPath: c.kubeconfigPath, systemNamespace: sys, cpu: UNDER_TEST_CPU };
  const proxy = await startProxyProcess(common);
  const api = await startProxyProcess({ ...common, command: 'api' });
  const apiExpress = await startProxyProcess({ ...common, command: 'api', args: ['--no-front'] });
  children.push(proxy.proxy, api.proxy, apiExpress.proxy);
  const targets = {
    direct: { url: `http://127.0.0.1:${toolPort}/x`, pid: tool.pid },
    proxy: {
      url: `http://127.0.0.1:${proxy.port}/namespaces/${ns}/connectors/small/x`,
      headers: { authorization: `Bearer ${proxyToken}` },
      pid: proxy.proxy.pid,
    },
    api: {
      url: `http://127.0.0.1:${api.port}/connectors/v1alpha1/${ns}/small/path/x`,
      headers: { authorization: `Bearer ${apiToken}` },
      pid: api.proxy.pid,
    },
    apiExpress: {
      url: `http://127.0.0.1:${apiExpress.port}/connectors/v1alpha1/${ns}/small/path/x`,
      headers: { authorization: `Bearer ${apiToken}` },
      pid: apiExpress.proxy.pid,
    },
  };
  for (const [name, t] of Object.entries(targets))
    for (let i = 0; ; i++) {
      const r = await fetch(t.url, { headers: (t as Target).headers });
      const text = await r.text();
      if (r.status === 200 && text.startsWith('ok from the tool')) break;
      if (i > 200) throw new Error(`${name} not ready: ${r.status} ${text}`);
      await sleep(100);
    }
  out(await machineLine());
  out(
    `\n(a) ${REQUESTS} passthrough GETs, ${CONCURRENCY} concurrent connections (ab -k, after ${WARMUP} ` +
      `uncounted), ${ROUNDS} interleaved ` +
      `rounds${PIN ? ', proxy and API alone on CPU 1, load and tool on CPU 0' : ''}:`,
  );
  const ratios: number[] = [];
  const expressRatios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const direct = await throughput(targets.direct);
    const viaProxy = await throughput(targets.proxy);
    const viaApi = await throughput(targets.api);
    const viaExpress = await throughput(targets.apiExpress);
    out(`  round ${round}:`);
    row('tool directly', direct);
    row('connectors proxy', viaProxy);
    row('connectors api', viaApi);
    row('connectors api, all express', viaExpress);
    ratios.push(viaApi.rps / viaProxy.rps);
    expressRatios.push(viaExpress.rps / viaProxy.rps);
    out(
      `    api/proxy rps = ${(viaApi.rps / viaProxy.rps).toFixed(2)}; api (all express)/proxy = ${(viaExpress.rps / viaProxy.rps).toFixed(2)}`,
    );
  }
  if (ROUNDS > 0) {
    out(`  api/proxy rps: median ${median(ratios).toFixed(2)} of ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
    out(
      `  api (all express)/proxy rps: median ${median(expressRatios).toFixed(2)} of ${expressRatios.map((r) => r.toFixed(2)).join(', ')}`,
    );
  }

  out(
    `\n(b) latency added without queueing: ${SERIAL_REQUESTS} GETs, 1 connection, one at a time (bench/load.ts), ${ROUNDS} interleaved rounds:`,
  );
  const addedP99: Record<string, number[]> = { proxy: [], api: [], express: [] };
  const addedP50: Record<string, number[]> = { proxy: [], api: [], express: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    const s0 = await serial(targets.direct);
    const s1 = await serial(targets.proxy);
    const s2 = await serial(targets.api);
    const s3 = await serial(targets.apiExpress);
    out(`  round ${round}:`);
    row('tool directly', s0);
    row('connectors proxy', s1);
    row('connectors api', s2);
    row('connectors api, all express', s3);
    for (const [k, r] of [
      ['proxy', s1],
      ['api', s2],
      ['express', s3],
    ] as const) {
      addedP50[k].push(r.p50Ms - s0.p50Ms);
      addedP99[k].push(r.p99Ms - s0.p99Ms);
    }
  }
  const added = (k: string) =>
    `p50 ${median(addedP50[k]).toFixed(2)} ms, p99 ${median(addedP99[k]).toFixed(2)} ms (p99 of the ` +
    `rounds: ${addedP99[k].map((x) => x.toFixed(2)).join(', ')})`;
  if (ROUNDS > 0)
    out(
      `  added over direct, medians: proxy ${added('proxy')}; api ${added('api')}; api (all express) ${added('express')}`,
    );

  if (CALLGRIND) {
    out(
      `\n(c) user-space instructions per passthrough GET under callgrind (${CALLGRIND_REQUESTS} GETs at ` +
        `${CONCURRENCY} connections after ${2 * CALLGRIND_REQUESTS} uncounted):`,
    );
    const measured: Array<[string, string, string[], string, Record<string, string>]> = [
      ['connectors proxy', 'proxy', [], `/namespaces/${ns}/connectors/small/x`, targets.proxy.headers],
      ['connectors api', 'api', [], `/connectors/v1alpha1/${ns}/small/path/x`, targets.api.headers],
      [
        'connectors api, all express',
        'api',
        ['--no-front'],
        `/connectors/v1alpha1/${ns}/small/path/x`,
        targets.api.headers,
      ],
    ];
    const counts: number[] = [];
    for (const [i, [name, command, args, path, headers]] of measured.entries()) {
      const outFile = join(work, `callgrind-${i}.out`);
      const { proxy: p, port } = await startProxyProcess({
        ...common,
        command,
        args,
        wrapper: [
          'valgrind',
          '--tool=callgrind',
          '--smc-check=all-non-file',
          '--instr-atstart=no',
          `--callgrind-out-file=${outFile}`,
        ],
      });
      try {
        const t = { url: `http://127.0.0.1:${port}${path}`, headers };
        await ab(t, CALLGRIND_REQUESTS);
        await ab(t, CALLGRIND_REQUESTS);
        await runCommand('callgrind_control', ['-i', 'on', String(p.pid)]);
        await ab(t, CALLGRIND_REQUESTS);
        await runCommand('callgrind_control', ['-i', 'off', String(p.pid)]);
        await runCommand('callgrind_control', ['-d', String(p.pid)]); // written to <outFile>.1
        const totals = /^totals: (\d+)/m.exec(await readFile(outFile + '.1', 'utf8'));
        counts.push(Number(totals?.[1]) / CALLGRIND_REQUESTS);
        out(`    ${name.padEnd(28)} ${(counts[i] / 1000).toFixed(1)}k instructions/request`);
      } finally {
        p.kill('SIGKILL');
      }
    }
    out(
      `    proxy/api instructions = ${(counts[0] / counts[1]).toFixed(2)}; proxy/api (all express) = ${(counts[0] / counts[2]).toFixed(2)}`,
    );
  }
} finally {
  for (const p of children) p.kill('SIGTERM');
  await stopCluster();
  await rm(work, { recursive: true, force: true });
}
