// OPA generator evaluation: how fast the proxy can run a generator.rego per request, and what compiling costs.
// Run: node bench/opa.bench.ts   (from the repository root, with node_modules/.bin first on PATH)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinary } from '../core/peers/index.ts';
import {
  applyAuthInjection,
  clearCompileMemoryCache,
  compileRego,
  generatorPolicy,
  regoRequest,
} from '../core/opa/index.ts';

const BEARER =
  'package proxy\nauth = {\n  "position": "header",\n  "auth": {\n    "Authorization": concat(" ", ["Bearer", input.token])\n  }\n}\n';
const V0_CONDITIONAL =
  'package proxy\nauth = {"position": "header", "auth": {"Authorization": concat(" ", ["Bearer", input.oauth_token])}} {\n  input.oauth_token != ""\n}\n';

function rate(label: string, n: number, fn: () => void): void {
  for (let i = 0; i < Math.min(n, 5000); i++) fn(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(
    `${label}: ${Math.round(n / s).toLocaleString('en-US')}/s (${((s / n) * 1e6).toFixed(2)} µs each, n=${n})\n`,
  );
}

async function timeCompile(label: string, source: string, cacheDir: string): Promise<void> {
  let t = performance.now();
  await compileRego(source, { entrypoint: 'proxy/auth', fileName: 'generator.rego', cacheDir });
  const cold = performance.now() - t;
  clearCompileMemoryCache();
  t = performance.now();
  await compileRego(source, { entrypoint: 'proxy/auth', fileName: 'generator.rego', cacheDir });
  const disk = performance.now() - t;
  t = performance.now();
  await compileRego(source, { entrypoint: 'proxy/auth', fileName: 'generator.rego', cacheDir });
  const memory = performance.now() - t;
  process.stdout.write(
    `compile ${label}: cold ${cold.toFixed(0)} ms, disk cache ${disk.toFixed(2)} ms, memory cache ${memory.toFixed(3)} ms\n`,
  );
}

await ensureBinary('opa');
const cacheDir = mkdtempSync(join(tmpdir(), 'opa-bench-'));
try {
  await timeCompile('Bearer (v1-compatible)', BEARER, cacheDir);
  await timeCompile('conditional (v0 only: v1 attempt + v0 fallback)', V0_CONDITIONAL, cacheDir);

  const g = await generatorPolicy(BEARER, { compile: { cacheDir } });
  const secret = { token: 'ghp_0123456789abcdef0123456789abcdef0123' };
  const request = regoRequest({
    method: 'GET',
    path: '/api/v1/repos?page=2',
    headers: { host: 'tool.example.com', accept: 'application/json', 'user-agent': 'bench' },
  });
  rate('Policy.evaluate (Bearer, raw wasm call)', 200_000, () =>
    g.policy.evaluate({ token: secret.token, data: secret }),
  );
  rate('GeneratorPolicy.generate (Bearer, with request input + validation)', 200_000, () =>
    g.generate(secret, request),
  );
  rate('generate + applyAuthInjection (header)', 200_000, () =>
    applyAuthInjection(
      { headers: { host: 'tool.example.com', authorization: 'Bearer sa' }, query: 'page=2' },
      g.generate(secret, request),
    ),
  );
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
