// Where the proxy's memory goes before it serves anything: which packages its module graph loads, and what each
// adds to the resident set and to V8's heap when imported one after another (in a fresh Node.js, with the compile
// cache warm as a restarted process has it). Run from the repository root: `node bench/proxy-memory.bench.ts`;
// BENCH_COMPARE_WITH=<another checkout> measures that checkout's proxy too (e.g. a `git worktree` of an older
// commit with a node_modules link). Each measurement runs BENCH_MEMORY_RUNS (3) times; the medians are shown.
// The running proxy's memory under load (RSS after 10,000 requests and with 1,000 idle connections) is part (c)
// of bench/proxy.bench.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 3);
const COMPARE_WITH = process.env.BENCH_COMPARE_WITH;

// In the child: list the modules the proxy's entry point loads (a resolve hook), then import, in a second child,
// the packages in the order the graph first reached them and the proxy last, measuring after each import.
const LIST = `
import { registerHooks } from 'node:module';
const order = [];
registerHooks({ resolve(s, c, next) { const r = next(s, c); const m = /node_modules\\/((@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m && !order.some((o) => o[0] === m[1]) && !(c.parentURL ?? '').includes('/node_modules/')) order.push([m[1], r.url]);
  return r; } });
await import(process.argv[1]);
console.log(JSON.stringify(order));
`;
const MEASURE = `
const mods = JSON.parse(process.argv[1]);
const mem = () => { gc(); gc(); const m = process.memoryUsage(); return { rss: m.rss, heap: m.heapUsed }; };
const out = [['node.js', mem()]];
for (const b of ['node:net', 'node:https', 'node:tls', 'node:crypto', 'node:stream', 'node:zlib']) await import(b);
(await import('node:module')).createRequire(import.meta.url)('node:http'); // as core/util/node-http.ts loads it
out.push(['built-ins', mem()]);
for (const m of mods) { await import(m); out.push([m, mem()]); }
console.log(JSON.stringify(out));
`;

function node(checkout: string, script: string, arg: string, cache: string): string {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, arg], {
    cwd: checkout,
    env: { ...process.env, NODE_COMPILE_CACHE: cache, NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${checkout}: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop()!;
}

interface Step {
  what: string;
  rss: number;
  heap: number;
}

function measure(checkout: string): Step[] {
  const entry = join(checkout, 'proxy/index.ts');
  const cache = mkdtempSync(join(tmpdir(), 'proxy-memory-cache-'));
  // [package, the URL the proxy's modules import it by], in the order the graph first reaches them.
  const found = JSON.parse(node(checkout, LIST, entry, cache)) as Array<[string, string]>;
  const packages = found.map(([p]) => p);
  const specifiers = [...found.map(([, url]) => url), entry];
  const runs: Step[][] = [];
  for (let i = 0; i < RUNS; i++) {
    const raw = JSON.parse(node(checkout, MEASURE, JSON.stringify(specifiers), cache)) as Array<
      [string, { rss: number; heap: number }]
    >;
    runs.push(raw.map(([what, m]) => ({ what, rss: m.rss, heap: m.heap })));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return runs[0].map((s, i) => ({
    what:
      i === 0
        ? 'node.js'
        : i === 1
          ? 'node:net, http, https, tls, crypto, stream, zlib'
          : i === runs[0].length - 1
            ? 'the proxy (own modules)'
            : packages[i - 2],
    rss: med(runs.map((r) => r[i].rss)),
    heap: med(runs.map((r) => r[i].heap)),
  }));
}

const mib = (n: number) => (n / 1048576).toFixed(1);
function report(label: string, steps: Step[]): void {
  process.stdout.write(`\n${label}\n  ${'import'.padEnd(48)} ${'RSS +MiB'.padStart(9)} ${'heap +MiB'.padStart(10)}\n`);
  steps.forEach((s, i) => {
    const rss = i === 0 ? s.rss : s.rss - steps[i - 1].rss;
    const heap = i === 0 ? s.heap : s.heap - steps[i - 1].heap;
    process.stdout.write(`  ${s.what.padEnd(48)} ${mib(rss).padStart(9)} ${mib(heap).padStart(10)}\n`);
  });
  const last = steps[steps.length - 1];
  process.stdout.write(`  ${'total'.padEnd(48)} ${mib(last.rss).padStart(9)} ${mib(last.heap).padStart(10)}\n`);
}

process.stdout.write(`node ${process.version}; ${RUNS} runs, medians; compile cache warm\n`);
report(`this checkout (${root})`, measure(root));
if (COMPARE_WITH) report(`compared (${resolve(COMPARE_WITH)})`, measure(resolve(COMPARE_WITH)));
