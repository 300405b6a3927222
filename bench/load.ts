// A small closed-loop HTTP load generator (undici), run as its own process so it does not share an event loop
// with what it measures: `node bench/load.ts '<json options>'` prints one JSON line
// {requests, errors, seconds, rps, p50Ms, p99Ms, statuses}.
// Options: url, headers, connections (concurrency), requests (fixed count), warmup (requests before timing).
import { Pool } from 'undici';

interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  requests: number;
  warmup?: number;
}

const o = JSON.parse(process.argv[2]) as LoadOptions;
const target = new URL(o.url);
const pool = new Pool(target.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000 });
const path = target.pathname + target.search;

async function run(
  count: number,
  latencies?: Float64Array,
): Promise<{ errors: number; statuses: Record<string, number> }> {
  let next = 0;
  let errors = 0;
  const statuses: Record<string, number> = {};
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      try {
        const res = await pool.request({ path, method: 'GET', headers: o.headers });
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 400) errors++;
      } catch {
        errors++;
      }
      if (latencies) latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: o.connections }, worker));
  return { errors, statuses };
}

await run(o.warmup ?? Math.min(2000, o.requests));
const latencies = new Float64Array(o.requests);
const t0 = performance.now();
const { errors, statuses } = await run(o.requests, latencies);
const seconds = (performance.now() - t0) / 1000;
latencies.sort();
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
process.stdout.write(
  JSON.stringify({
    requests: o.requests,
    errors,
    seconds,
    rps: o.requests / seconds,
    p50Ms: pct(50),
    p99Ms: pct(99),
    statuses,
  }) + '\n',
);
await pool.close();
