// Connectors Proxy benchmark. Run from the repository root: `node bench/proxy.bench.ts` (Node 24 first on PATH).
// Everything real: the test apiserver (TokenReview/SubjectAccessReview), apache + git http-backend, nginx, and the
// proxy as its own process started with the CLI (`connectors proxy`).
//   (a) clone of a generated repository (BENCH_REPO_MB, default 200 MB of incompressible blobs), directly and
//       through the proxy; throughput ratio.
//   (b) small GETs at fixed concurrency and count from a separate load process (ApacheBench -k, C): straight to
//       the upstream (an nginx `return 200` server, its own process), through nginx (nginx-light, a second
//       process, `proxy_set_header Authorization`, 1 worker like the one Node process, access log on like the
//       proxy's audit log), and through the proxy with authorisation cached; rps and p50/p99 latency. Then the
//       latency each hop adds without queueing: one connection, one request at a time (bench/load.ts, µs precision).
//       BENCH_LOADGEN=node uses bench/load.ts for the throughput runs too; BENCH_WORKERS=N runs nginx and the
//       proxy with N worker processes each; BENCH_ROUNDS (3) interleaved rounds; BENCH_PIN=1 each proxy alone on
//       CPU 1, load generator and tool on CPU 0. BENCH_CLONE_RUNS (5) clones each way for (a). BENCH_COMPARE_WITH=<dir>
//       runs the proxy of another checkout too (e.g. a `git worktree` of the previous commit), interleaved.
//   (c) the proxy's RSS (and the BENCH_COMPARE_WITH one's) after the load and with 1,000 idle keep-alive connections.
//   (d) BENCH_CALLGRIND=1 (needs valgrind): user-space instructions per proxied request of (b)'s kind, counted by
//       callgrind for this proxy (and the BENCH_COMPARE_WITH one): repeatable to ~0.3% where time on a shared VM
//       is not; it leaves out the kernel's share and weighs all instructions alike, so it guides, time decides.
//       BENCH_ONLY=callgrind skips (a)-(c); BENCH_CALLGRIND_RUNS=N repeats (d), alternating the two proxies'
//       order, and prints medians (on a busy machine the counts wander: the process runs slower than the clock).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  cluster,
  stopCluster,
  gitClientEnv,
  startGitServer,
  freePort,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
} from '@connectors/test-support';
import {
  gitConnectorsYaml,
  cpuSeconds,
  heapSpaces,
  listening,
  machineLine,
  onCpu,
  rssBreakdown,
  rssKiB,
  startNginx,
  startProxyProcess,
} from './proxy-process.ts';
import { IMAGE_RUNTIME_ENV } from '../image/contents.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const REPO_MB = Number(process.env.BENCH_REPO_MB ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const IDLE = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 1000);
/** nginx worker_processes and the proxy's --workers, always the same. */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
/** The load generator of (b): `ab` (ApacheBench -k, C, one thread) or `node` (bench/load.ts, undici). */
const LOADGEN = process.env.BENCH_LOADGEN ?? 'ab';
/**
 * BENCH_PIN=1: the proxy under test (nginx or the connectors proxy) alone on CPU 1, the load generator and the
 * tool on CPU 0, so that each proxy has one core of its own and the scheduler's placement is out of the figures.
 */
const PIN = process.env.BENCH_PIN === '1';
if (PIN && WORKERS > 1) throw new Error('BENCH_PIN=1 gives each proxy one CPU: it needs BENCH_WORKERS=1');
const PROXY_CPU = PIN ? 1 : undefined;
const LOAD_CPU = PIN ? 0 : undefined;
/** Clones of (a), each way. */
const CLONE_RUNS = Number(process.env.BENCH_CLONE_RUNS ?? 5);
/** BENCH_COMPARE_WITH=<another checkout>: (b) also runs that checkout's proxy, interleaved, as a baseline. */
const COMPARE_WITH = process.env.BENCH_COMPARE_WITH;
/** Interleaved rounds of (b). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Requests before each measured run of (b), not counted. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const CALLGRIND = process.env.BENCH_CALLGRIND === '1';
/** Requests counted by callgrind (BENCH_CALLGRIND_REQUESTS), after BENCH_CALLGRIND_WARMUP uncounted (twice as many). */
const CALLGRIND_REQUESTS = Number(process.env.BENCH_CALLGRIND_REQUESTS ?? 3000);
const CALLGRIND_WARMUP = Number(process.env.BENCH_CALLGRIND_WARMUP ?? 2 * CALLGRIND_REQUESTS);
/** BENCH_CALLGRIND_RUNS: (d) this many times, this proxy and the BENCH_COMPARE_WITH one in alternating order. */
const CALLGRIND_RUNS = Number(process.env.BENCH_CALLGRIND_RUNS ?? 1);
/** BENCH_ONLY=callgrind: only (d), without (a)-(c). */
const CALLGRIND_ONLY = process.env.BENCH_ONLY === 'callgrind';
if (CALLGRIND_ONLY && !CALLGRIND) throw new Error('BENCH_ONLY=callgrind needs BENCH_CALLGRIND=1');
/** Requests of the one-connection latency runs. */
const SERIAL_REQUESTS = Number(process.env.BENCH_SERIAL_REQUESTS ?? 5000);
const out = (s: string) => process.stdout.write(s + '\n');
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** `n` requests from ApacheBench (keep-alive, CONCURRENCY connections) to `url`; its report on stdout. */
function ab(
  url: string,
  headers: Record<string, string> | undefined,
  n: number,
  timeoutS = 30,
): Promise<{ stdout: string }> {
  return runCommand(
    ...onCpu(LOAD_CPU, 'ab', [
      '-q',
      '-k',
      '-s',
      String(timeoutS),
      '-c',
      String(CONCURRENCY),
      '-n',
      String(n),
      ...Object.entries(headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      url,
    ]),
  );
}

type LoadResult = {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuUs?: { user: number; system: number };
};

/**
 * A closed-loop run against `opts.url`. With ab and `opts.pid`, also the CPU time per request of that process
 * (and its children) over the measured run; bench/load.ts warms up inside the run, so it gives none.
 */
async function load(opts: {
  url: string;
  headers?: Record<string, string>;
  connections?: number;
  loadgen?: string;
  requests?: number;
  pid?: number;
}): Promise<LoadResult> {
  const requests = opts.requests ?? REQUESTS;
  if ((opts.loadgen ?? LOADGEN) === 'ab') {
    // ab reports whole milliseconds; warm-up first, as bench/load.ts does.
    await ab(opts.url, opts.headers, WARMUP); // JIT warm-up: the first thousands of requests run unoptimised code
    const cpuBefore = opts.pid === undefined ? undefined : await cpuSeconds(opts.pid);
    const { stdout } = await ab(opts.url, opts.headers, requests);
    const cpuAfter = opts.pid === undefined ? undefined : await cpuSeconds(opts.pid);
    const perRequestUs = (after: number, before: number) => ((after - before) * 1e6) / requests;
    const cpuUs = cpuBefore &&
      cpuAfter && {
        user: perRequestUs(cpuAfter.user, cpuBefore.user),
        system: perRequestUs(cpuAfter.system, cpuBefore.system),
      };
    const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
    return {
      rps: num(/Requests per second:\s+([\d.]+)/),
      p50Ms: num(/^\s+50%\s+(\d+)/m),
      p99Ms: num(/^\s+99%\s+(\d+)/m),
      errors: num(/Failed requests:\s+(\d+)/) + (num(/Non-2xx responses:\s+(\d+)/) || 0),
      cpuUs,
    };
  }
  const { stdout } = await runCommand(
    ...onCpu(LOAD_CPU, process.execPath, [
      join(root, 'bench/load.ts'),
      JSON.stringify({ url: opts.url, headers: opts.headers, connections: opts.connections ?? CONCURRENCY, requests }),
    ]),
  );
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

async function timeClone(url: string, dest: string, env: NodeJS.ProcessEnv): Promise<number> {
  await rm(dest, { recursive: true, force: true });
  const t0 = performance.now();
  await runCommand('git', ['clone', '--quiet', '--no-checkout', url, dest], { env });
  return (performance.now() - t0) / 1000;
}

await ensureSystemPackages(CALLGRIND ? [...TEST_SYSTEM_PACKAGES, 'valgrind'] : TEST_SYSTEM_PACKAGES);
const work = await mkdtemp(join(tmpdir(), 'connectors-proxy-bench-'));
await chmod(work, 0o755);
const c = await cluster();
let proxy: ChildProcess | undefined;
let previous: ChildProcess | undefined;
let nginx: ChildProcess | undefined;
let upstreamNginx: ChildProcess | undefined;
const relays: ChildProcess[] = [];
const git = await startGitServer({ users: { bench: 'bench-pass' } });
try {
  const ns = await c.createNamespace('proxy-bench');
  const sys = await c.createNamespace('proxy-bench-sys');
  out(`# creating a ${REPO_MB} MB repository...`);
  const repo = await git.createRepo('org/big.git', { sizeBytes: REPO_MB * 1024 * 1024 });
  const upstreamPort = await freePort();
  const nginxPort = await freePort();
  const basicAuth = 'Basic ' + Buffer.from('bench:bench-pass').toString('base64');
  await c.kubectl(['apply', '-n', ns, '-f', '-'], {
    input: gitConnectorsYaml(ns, { git: git.url, small: `http://127.0.0.1:${upstreamPort}` }),
  });
  const token = await c.createToken(ns, 'bench', { audience: 'connectors-proxy', expirationSeconds: 3600 });

  const healthPort = await freePort();
  const started = await startProxyProcess({
    kubeconfigPath: c.kubeconfigPath,
    systemNamespace: sys,
    args: [...(WORKERS > 1 ? ['--workers', String(WORKERS)] : []), '--health-port', String(healthPort)],
    env: process.env.BENCH_PROXY_LOG_LEVEL ? { CONNECTORS_LOG_LEVEL: process.env.BENCH_PROXY_LOG_LEVEL } : {},
    cpu: PROXY_CPU,
  });
  proxy = started.proxy;
  const proxyPort = started.port;
  const startedPrevious = COMPARE_WITH
    ? await startProxyProcess({
        kubeconfigPath: c.kubeconfigPath,
        systemNamespace: sys,
        cpu: PROXY_CPU,
        checkout: COMPARE_WITH,
      })
    : undefined;
  previous = startedPrevious?.proxy;
  const connectorsUrl = (port: number) => `http://127.0.0.1:${port}/namespaces/${ns}/connectors`;
  const proxyBase = connectorsUrl(proxyPort);
  for (let i = 0; ; i++) {
    const r = await fetch(`${proxyBase}/git/org/big.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await r.arrayBuffer();
    if (r.status === 200) break;
    if (i > 200) throw new Error(`proxy not ready: ${r.status}`);
    await sleep(100);
  }
  out(await machineLine());

  if (!CALLGRIND_ONLY) {
    // (a) clone throughput
    const home = join(work, 'home');
    await mkdir(home);
    await writeFile(
      join(home, '.gitconfig'),
      `[http]\n    extraHeader = Authorization: Basic ${Buffer.from(':' + token).toString('base64')}\n[url "${proxyBase}/git"]\n    insteadOf = ${git.url}\n`,
    );
    const viaEnv = gitClientEnv(home);
    const directEnv = gitClientEnv(join(work, 'nohome'));
    const direct: number[] = [];
    const via: number[] = [];
    for (let i = 0; i < CLONE_RUNS; i++) {
      direct.push(await timeClone(git.authUrl('org/big.git', 'bench', 'bench-pass'), join(work, 'direct'), directEnv));
      via.push(await timeClone(`${git.url}/org/big.git`, join(work, 'via'), viaEnv));
    }
    const { stdout: packBytes } = await runCommand('du', ['-sb', join(work, 'via', '.git', 'objects')]);
    const mb = Number(packBytes.split('\t')[0]) / 1024 / 1024;
    const best = (xs: number[]) => Math.min(...xs);
    out(`\n(a) git clone of ${repo.path} (${mb.toFixed(0)} MiB of objects), ${CLONE_RUNS} runs each, alternating:`);
    out(
      `    direct       ${best(direct).toFixed(2)} s  ${(mb / best(direct)).toFixed(0)} MiB/s   runs: ${direct.map((s) => s.toFixed(2)).join(', ')}`,
    );
    out(
      `    via proxy    ${best(via).toFixed(2)} s  ${(mb / best(via)).toFixed(0)} MiB/s   runs: ${via.map((s) => s.toFixed(2)).join(', ')}`,
    );
    out(
      `    throughput ratio proxy/direct = ${(median(direct) / median(via)).toFixed(2)} (medians), ${(best(direct) / best(via)).toFixed(2)} (best runs)`,
    );
    await rm(join(work, 'direct'), { recursive: true, force: true });
    await rm(join(work, 'via'), { recursive: true, force: true });
  }

  // (b) small requests
  // The tool and the baseline proxy are separate nginx processes, so nginx pays the same process-to-process hop
  // to the tool as the connectors proxy does.
  upstreamNginx = await startNginx(
    join(work, 'nginx-tool'),
    1,
    upstreamPort,
    `  server { listen 127.0.0.1:${upstreamPort}; location / { default_type text/plain; return 200 "ok from the tool\\n"; } }`,
    LOAD_CPU,
  );
  if (!CALLGRIND_ONLY) {
    nginx = await startNginx(
      join(work, 'nginx-proxy'),
      WORKERS,
      nginxPort,
      `  upstream tool { server 127.0.0.1:${upstreamPort}; keepalive 256; }
    server {
      listen 127.0.0.1:${nginxPort};
      location / {
        proxy_pass http://tool;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Authorization "${basicAuth}";
      }
    }`,
      PROXY_CPU,
    );
    // The floor of any Node proxy (bench/node-relay.ts): bytes relayed between two sockets, nothing else.
    const startRelay = async (onread: boolean) => {
      const port = await freePort();
      const relay = spawn(
        ...onCpu(PROXY_CPU, process.execPath, [join(root, 'bench/node-relay.ts'), String(port), String(upstreamPort)]),
        {
          env: { ...process.env, ...IMAGE_RUNTIME_ENV, RELAY_ONREAD: onread ? '1' : '0' },
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      relays.push(relay);
      await listening(relay, 'node-relay');
      return { url: `http://127.0.0.1:${port}/x`, pid: relay.pid };
    };
    const targets = {
      direct: { url: `http://127.0.0.1:${upstreamPort}/x`, pid: upstreamNginx.pid },
      nginx: { url: `http://127.0.0.1:${nginxPort}/x`, pid: nginx.pid },
      relay: await startRelay(false),
      relayOnread: await startRelay(true),
      proxy: { url: `${proxyBase}/small/x`, headers: { authorization: `Bearer ${token}` }, pid: proxy.pid },
      previous: startedPrevious && {
        url: `${connectorsUrl(startedPrevious.port)}/small/x`,
        headers: { authorization: `Bearer ${token}` },
        pid: startedPrevious.proxy.pid,
      },
    };
    // CPU: of the process answering that target (the tool itself for "directly"), per request of the measured run.
    const row = (name: string, r: LoadResult) =>
      out(
        `    ${name.padEnd(22)} ${Math.round(r.rps).toString().padStart(7)} req/s   p50 ${r.p50Ms.toFixed(2)} ms   ` +
          `p99 ${r.p99Ms.toFixed(2)} ms   errors ${r.errors}` +
          (r.cpuUs === undefined
            ? ''
            : `   CPU ${(r.cpuUs.user + r.cpuUs.system).toFixed(0)} µs/req ` +
              `(user ${r.cpuUs.user.toFixed(0)}, system ${r.cpuUs.system.toFixed(0)})`),
      );
    out(
      `\n(b) ${REQUESTS} GETs, ${CONCURRENCY} concurrent connections, ` +
        `separate load process (${LOADGEN === 'ab' ? 'ab -k' : 'bench/load.ts'}), ` +
        `${WORKERS} worker(s) for nginx and the proxy, ${ROUNDS} interleaved rounds` +
        `${PIN ? ', each proxy alone on CPU 1, load and tool on CPU 0' : ''}:`,
    );
    // Rounds interleave the targets (the relays last), so that a slow or fast spell of the machine meets all of them.
    const ratios: number[] = [];
    const previousRatios: number[] = [];
    const floorRatios: number[] = [];
    const floorCpuRatios: number[] = [];
    const cpu = (r: LoadResult) => (r.cpuUs ? r.cpuUs.user + r.cpuUs.system : NaN);
    for (let round = 1; round <= ROUNDS; round++) {
      const reference = await load(targets.direct);
      const viaNginx = await load(targets.nginx);
      const viaProxy = await load(targets.proxy);
      const viaPrevious = targets.previous && (await load(targets.previous));
      const viaRelay = await load(targets.relay);
      const viaRelayOnread = await load(targets.relayOnread);
      out(`  round ${round}:`);
      row('upstream directly', reference);
      row(`nginx (${WORKERS} worker${WORKERS > 1 ? 's' : ''})`, viaNginx);
      row('node relay (floor)', viaRelay);
      row('node relay, onread', viaRelayOnread);
      floorRatios.push(viaRelay.rps / viaNginx.rps);
      floorCpuRatios.push(cpu(viaRelay) / cpu(viaNginx));
      row('connectors proxy', viaProxy);
      if (viaPrevious) {
        row('previous version', viaPrevious);
        previousRatios.push(viaProxy.rps / viaPrevious.rps);
      }
      ratios.push(viaProxy.rps / viaNginx.rps);
      out(
        `    proxy/nginx rps = ${(viaProxy.rps / viaNginx.rps).toFixed(2)}; p99 added over direct: ` +
          `proxy ${(viaProxy.p99Ms - reference.p99Ms).toFixed(2)} ms, nginx ${(viaNginx.p99Ms - reference.p99Ms).toFixed(2)} ms`,
      );
    }
    out(`  proxy/nginx rps: median ${median(ratios).toFixed(2)} of ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
    out(
      `  node relay (floor)/nginx: rps median ${median(floorRatios).toFixed(2)} of ${floorRatios.map((r) => r.toFixed(2)).join(', ')}; ` +
        `CPU per request median ${median(floorCpuRatios).toFixed(2)} of ${floorCpuRatios.map((r) => r.toFixed(2)).join(', ')}`,
    );
    if (COMPARE_WITH)
      out(
        `  proxy/previous version (${COMPARE_WITH}) rps: median ${median(previousRatios).toFixed(2)} of ${previousRatios.map((r) => r.toFixed(2)).join(', ')}`,
      );
    const serial = async (t: { url: string; headers?: Record<string, string> }) =>
      load({ ...t, connections: 1, loadgen: 'node', requests: SERIAL_REQUESTS });
    const [s0, s1, s2] = [await serial(targets.direct), await serial(targets.nginx), await serial(targets.proxy)];
    out(
      `\n(b') latency added by each hop without queueing: ${SERIAL_REQUESTS} GETs, 1 connection, one at a time (bench/load.ts):`,
    );
    row('upstream directly', s0);
    row('nginx', s1);
    row('connectors proxy', s2);
    out(
      `    added over direct: proxy p50 ${(s2.p50Ms - s0.p50Ms).toFixed(2)} ms, p99 ${(s2.p99Ms - s0.p99Ms).toFixed(2)} ms; ` +
        `nginx p50 ${(s1.p50Ms - s0.p50Ms).toFixed(2)} ms, p99 ${(s1.p99Ms - s0.p99Ms).toFixed(2)} ms`,
    );

    // (c) idle keep-alive connections, for this proxy and then the previous version (each holds its own)
    const idleMemory = async (name: string, pid: number, port: number, health?: number) => {
      await sleep(1000);
      const rssBefore = await rssKiB(pid);
      const breakdownBefore = await rssBreakdown(pid);
      const heapBefore = health === undefined ? '' : await heapSpaces(health);
      const sockets: Socket[] = [];
      const request =
        `GET /namespaces/${ns}/connectors/small/idle HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${token}\r\nConnection: keep-alive\r\n\r\n`;
      for (let i = 0; i < IDLE; i += 50) {
        await Promise.all(
          Array.from(
            { length: Math.min(50, IDLE - i) },
            () =>
              new Promise<void>((resolve, reject) => {
                const s = connect(port, '127.0.0.1', () => s.write(request));
                s.once('data', (d) =>
                  d.toString().startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(d.toString().slice(0, 80))),
                );
                s.once('error', reject);
                sockets.push(s);
              }),
          ),
        );
      }
      await sleep(2000);
      const rssAfter = await rssKiB(pid);
      out(
        `\n(c) ${name} RSS${WORKERS > 1 ? ' (primary process only: use BENCH_WORKERS=1 for this)' : ''}: ` +
          `${(rssBefore / 1024).toFixed(1)} MiB after the load above; ${(rssAfter / 1024).toFixed(1)} MiB with ` +
          `${sockets.length} idle keep-alive connections (+${((rssAfter - rssBefore) / sockets.length).toFixed(1)} KiB each)`,
      );
      out(`    after the load, MiB: ${breakdownBefore}`);
      if (heapBefore) out(`    ${heapBefore}`);
      out(`    with the idle connections, MiB: ${await rssBreakdown(pid)}`);
      for (const s of sockets) s.destroy();
    };
    await idleMemory('proxy', proxy.pid!, proxyPort, WORKERS === 1 ? healthPort : undefined);
    if (startedPrevious)
      await idleMemory(`previous version (${COMPARE_WITH})`, startedPrevious.proxy.pid!, startedPrevious.port);
  }

  if (CALLGRIND) {
    out(
      `\n(d) user-space instructions per request under callgrind (${CALLGRIND_REQUESTS} GETs at ${CONCURRENCY} ` +
        `connections after ${CALLGRIND_WARMUP} uncounted), ${CALLGRIND_RUNS} run(s)` +
        `${CALLGRIND_RUNS > 1 && COMPARE_WITH ? ', the order alternating' : ''}:`,
    );
    const checkouts: Array<[string, string | undefined]> = [['connectors proxy', undefined]];
    if (COMPARE_WITH) checkouts.push(['previous version', COMPARE_WITH]);
    const counts = new Map<string, number[]>(checkouts.map(([name]) => [name, []]));
    for (let runNo = 0; runNo < CALLGRIND_RUNS; runNo++) {
      const order = runNo % 2 === 0 ? checkouts : [...checkouts].reverse();
      for (const [name, checkout] of order) {
        const outFile = join(work, `callgrind-${runNo}-${checkout ? 'previous' : 'this'}.out`);
        const { proxy: p, port } = await startProxyProcess({
          kubeconfigPath: c.kubeconfigPath,
          systemNamespace: sys,
          cpu: PROXY_CPU,
          checkout,
          wrapper: [
            'valgrind',
            '--tool=callgrind',
            '--smc-check=all-non-file',
            '--instr-atstart=no',
            `--callgrind-out-file=${outFile}`,
          ],
        });
        try {
          // A proxy under callgrind runs some fifty times slower: its first answers may take longer than ab's 30 s.
          const run = (n: number) => ab(`${connectorsUrl(port)}/small/x`, { authorization: `Bearer ${token}` }, n, 600);
          for (let left = CALLGRIND_WARMUP; left > 0; left -= CALLGRIND_REQUESTS)
            await run(Math.min(left, CALLGRIND_REQUESTS));
          await runCommand('callgrind_control', ['-i', 'on', String(p.pid)]);
          await run(CALLGRIND_REQUESTS);
          await runCommand('callgrind_control', ['-i', 'off', String(p.pid)]);
          await runCommand('callgrind_control', ['-d', String(p.pid)]); // written to <outFile>.1
          const totals = /^totals: (\d+)/m.exec(await readFile(outFile + '.1', 'utf8'));
          const k = Number(totals?.[1]) / CALLGRIND_REQUESTS / 1000;
          counts.get(name)!.push(k);
          out(
            `    ${name.padEnd(22)} ${k.toFixed(1)}k instructions/request${CALLGRIND_RUNS > 1 ? ` (run ${runNo + 1})` : ''}`,
          );
        } finally {
          p.kill('SIGKILL');
        }
      }
    }
    if (CALLGRIND_RUNS > 1)
      for (const [name, ks] of counts)
        out(`    ${name.padEnd(22)} median ${median(ks).toFixed(1)}k of ${ks.map((k) => k.toFixed(1)).join(', ')}`);
  }
} finally {
  proxy?.kill('SIGTERM');
  previous?.kill('SIGTERM');
  nginx?.kill('SIGQUIT');
  upstreamNginx?.kill('SIGQUIT');
  for (const r of relays) r.kill();
  await git.stop();
  await stopCluster();
  await rm(work, { recursive: true, force: true });
}
