// Rego → wasm with the real, pinned `opa` (core/peers). Compilation is cached in memory (also failures, so a
// broken policy does not spawn opa on every reconcile) and on disk under <cache>/opa/ (successes only),
// keyed by sha256 of (source, entrypoint, file name, OPA version, built-in table).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPA_VERSION, cacheRoot, ensureBinary } from '../peers/index.ts';
import { BUILTINS } from './builtins/index.ts';
import { type Capabilities, buildCapabilities } from './capabilities.ts';
import { extractFromTarGz } from './tar.ts';

export interface CompileOptions {
  /** Rule path of the decision, e.g. `proxy/auth`. */
  entrypoint: string;
  /** Name the module gets in error messages, e.g. `generator.rego`. Default `policy.rego`. */
  fileName?: string;
  /** Use this opa binary instead of the pinned one (its version then enters the cache key as "custom:<path>"). */
  opaPath?: string;
  /** Disk cache directory; `false` disables the disk cache. Default `<cacheRoot>/opa`. */
  cacheDir?: string | false;
}

export interface CompiledPolicy {
  wasm: Buffer;
  /** sha256 (hex) of the wasm module. */
  sha256: string;
  entrypoint: string;
  /** Cache key: sha256 of source, entrypoint, file name, OPA version and our built-ins. */
  key: string;
  /** Rego language version the module compiled as: v1 first, then v0 (`--v0-compatible`) as a fallback. */
  regoVersion: 'v1' | 'v0';
  /** Adjustments made to the source before compiling (e.g. an ignored `import time`). */
  warnings: string[];
}

/** A policy that does not compile; `message` is concise and fit for a status condition. */
export class RegoCompileError extends Error {
  override name = 'RegoCompileError';
}

const MEMORY_CACHE_LIMIT = 512;
const memoryCache = new Map<string, Promise<CompiledPolicy>>();

const BUILTINS_SIGNATURE = createHash('sha256')
  .update(
    JSON.stringify(
      Object.entries(BUILTINS)
        .map(([n, d]) => [n, d.decl ?? null])
        .sort(),
    ),
  )
  .digest('hex');

export function compileCacheKey(source: string, opts: CompileOptions): string {
  const opa = opts.opaPath ? `custom:${opts.opaPath}` : OPA_VERSION;
  return createHash('sha256')
    .update(JSON.stringify([source, opts.entrypoint, opts.fileName ?? 'policy.rego', opa, BUILTINS_SIGNATURE]))
    .digest('hex');
}

/** Compile one Rego module to a wasm policy with a single entrypoint. Rejects with RegoCompileError. */
export function compileRego(source: string, opts: CompileOptions): Promise<CompiledPolicy> {
  if (!/^[A-Za-z_][\w]*(\/[A-Za-z_][\w]*)*$/.test(opts.entrypoint)) {
    return Promise.reject(new RegoCompileError(`invalid entrypoint ${JSON.stringify(opts.entrypoint)}`));
  }
  const key = compileCacheKey(source, opts);
  let result = memoryCache.get(key);
  if (result) {
    memoryCache.delete(key); // re-insert: most recently used last
  } else {
    const fresh = compileCached(source, opts, key);
    // Only a policy's own errors are remembered; a failure to run opa may be transient.
    fresh.catch((err: unknown) => {
      if (!(err instanceof RegoCompileError) && memoryCache.get(key) === fresh) memoryCache.delete(key);
    });
    result = fresh;
  }
  memoryCache.set(key, result);
  while (memoryCache.size > MEMORY_CACHE_LIMIT) memoryCache.delete(memoryCache.keys().next().value as string);
  return result;
}

/** Forget the in-memory cache (tests; the disk cache stays). */
export function clearCompileMemoryCache(): void {
  memoryCache.clear();
}

async function compileCached(source: string, opts: CompileOptions, key: string): Promise<CompiledPolicy> {
  const dir = opts.cacheDir === false ? undefined : (opts.cacheDir ?? join(cacheRoot(), 'opa'));
  if (dir) {
    try {
      const [wasm, meta] = await Promise.all([
        readFile(join(dir, `${key}.wasm`)),
        readFile(join(dir, `${key}.json`), 'utf8'),
      ]);
      const m = JSON.parse(meta) as Pick<CompiledPolicy, 'sha256' | 'regoVersion' | 'warnings'>;
      if (sha256(wasm) === m.sha256)
        return {
          wasm,
          sha256: m.sha256,
          entrypoint: opts.entrypoint,
          key,
          regoVersion: m.regoVersion,
          warnings: m.warnings,
        };
    } catch {
      // not cached (or unreadable): compile
    }
  }
  const compiled = await compileUncached(source, opts, key);
  if (dir) {
    try {
      await mkdir(dir, { recursive: true });
      const tmp = `.${key}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await writeFile(join(dir, `${tmp}.wasm`), compiled.wasm);
      await writeFile(
        join(dir, `${tmp}.json`),
        JSON.stringify({ sha256: compiled.sha256, regoVersion: compiled.regoVersion, warnings: compiled.warnings }),
      );
      // The .json is written last: a reader that finds it finds the complete .wasm too.
      await rename(join(dir, `${tmp}.wasm`), join(dir, `${key}.wasm`));
      await rename(join(dir, `${tmp}.json`), join(dir, `${key}.json`));
    } catch {
      // the disk cache is an optimisation only
    }
  }
  return compiled;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

interface OpaRun {
  ok: boolean;
  stderr: string;
}

function runOpa(opa: string, args: string[], cwd: string): Promise<OpaRun & { stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(opa, args, { cwd, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        reject(new Error(`cannot run ${opa}: ${err.message}`));
        return;
      }
      // opa build prints its diagnostics on stdout, other failures on stderr: keep both for messages.
      resolve({ ok: !err, stdout: String(stdout), stderr: `${stderr}\n${stdout}` });
    });
  });
}

const capabilitiesByOpa = new Map<string, Promise<{ full: Capabilities; restricted: string }>>();

function capabilitiesFor(opa: string): Promise<{ full: Capabilities; restricted: string }> {
  let p = capabilitiesByOpa.get(opa);
  if (!p) {
    p = (async () => {
      const run = await runOpa(opa, ['capabilities', '--current'], tmpdir());
      if (!run.ok) throw new Error(`opa capabilities --current failed: ${run.stderr.trim()}`);
      const full = JSON.parse(run.stdout) as Capabilities;
      return { full, restricted: JSON.stringify(buildCapabilities(full)) };
    })();
    p.catch(() => capabilitiesByOpa.delete(opa));
    capabilitiesByOpa.set(opa, p);
  }
  return p;
}

/** Built-in namespaces (first segment of dotted built-in names), for the `import time` compatibility shim. */
function builtinNamespaces(caps: Capabilities): Set<string> {
  const out = new Set<string>(['hmac']);
  for (const b of caps.builtins) if (b.name.includes('.')) out.add(b.name.split('.')[0]);
  out.delete('internal');
  return out;
}

/**
 * `import time` (as in the documented time-based generator example) is not valid Rego — built-ins need no
 * import and imports must start with data/input/future/rego — so an import of a built-in namespace is
 * blanked out (as a comment, keeping line numbers) and reported as a warning.
 */
export function stripBuiltinImports(source: string, namespaces: Set<string>): { source: string; warnings: string[] } {
  const warnings: string[] = [];
  const lines = source.split('\n').map((line, i) => {
    const m = /^(\s*)import\s+([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)\s*(#.*)?$/.exec(line);
    if (!m || !namespaces.has(m[2])) return line;
    warnings.push(`line ${i + 1}: ignored "import ${m[2]}${m[3]}": built-ins need no import`);
    return `${m[1]}# ${line.trim()} (ignored: built-ins need no import)`;
  });
  return { source: lines.join('\n'), warnings };
}

async function compileUncached(source: string, opts: CompileOptions, key: string): Promise<CompiledPolicy> {
  const opa = opts.opaPath ?? (await ensureBinary('opa'));
  const { full, restricted } = await capabilitiesFor(opa);
  const fileName = opts.fileName ?? 'policy.rego';
  if (!/^[\w.-]+\.rego$/.test(fileName))
    throw new RegoCompileError(`invalid policy file name ${JSON.stringify(fileName)}`);
  const shim = stripBuiltinImports(source, builtinNamespaces(full));
  const work = await mkdtemp(join(tmpdir(), 'connectors-opa-'));
  try {
    await writeFile(join(work, fileName), shim.source);
    await writeFile(join(work, 'capabilities.json'), restricted);
    const build = (v0: boolean, out: string) =>
      runOpa(
        opa,
        [
          'build',
          '-t',
          'wasm',
          '-e',
          opts.entrypoint,
          '--capabilities',
          'capabilities.json',
          ...(v0 ? ['--v0-compatible'] : []),
          '-o',
          out,
          fileName,
        ],
        work,
      );
    let version: 'v1' | 'v0' = 'v1';
    let run = await build(false, 'bundle-v1.tar.gz');
    if (!run.ok) {
      const v0 = await build(true, 'bundle-v0.tar.gz');
      if (v0.ok) {
        version = 'v0';
        run = v0;
      } else {
        // Both failed: report the attempt that got further. A v1 parse error with a v0 semantic error means a
        // v0 policy with a real problem; otherwise the v1 diagnosis is the one to show.
        const report = isParseError(run.stderr) && !isParseError(v0.stderr) ? v0.stderr : run.stderr;
        throw new RegoCompileError(formatOpaError(report, { work, fileName, entrypoint: opts.entrypoint, full }));
      }
    }
    const bundle = await readFile(join(work, version === 'v1' ? 'bundle-v1.tar.gz' : 'bundle-v0.tar.gz'));
    const wasm = extractFromTarGz(bundle, '/policy.wasm');
    if (!wasm) throw new RegoCompileError(`${fileName}: opa build produced no /policy.wasm`);
    return {
      wasm,
      sha256: sha256(wasm),
      entrypoint: opts.entrypoint,
      key,
      regoVersion: version,
      warnings: shim.warnings,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function isParseError(stderr: string): boolean {
  return /rego_parse_error/.test(stderr);
}

/** opa's diagnostics, reduced to `file:line: rego_xxx_error: message` lines (deduplicated, `; `-joined). */
export function formatOpaError(
  stderr: string,
  ctx: { work: string; fileName: string; entrypoint: string; full?: Capabilities },
): string {
  const text = stderr
    .split(ctx.work + '/')
    .join('')
    .split(ctx.work)
    .join('');
  const diagnostics = [
    ...new Set(
      text
        .split('\n')
        .map((l) => /(?:^|\s)([\w.-]+\.rego:\d+(?::\d+)?: rego_\w+: .*)$/.exec(l.trim())?.[1])
        .filter((l): l is string => l !== undefined),
    ),
  ];
  // opa often reports one problem twice, once briefly and once with detail: keep the detailed one.
  const detailed = diagnostics.filter((d) => !diagnostics.some((o) => o !== d && o.startsWith(`${d}:`)));
  const known = new Set((ctx.full?.builtins ?? []).map((b) => b.name));
  const explained = detailed.map((d) => {
    const m = /rego_type_error: undefined function ([\w.]+)$/.exec(d);
    if (m && known.has(m[1])) {
      return `${d} (the OPA built-in ${m[1]} is not supported: policies run as WebAssembly inside Connectors, which does not implement it)`;
    }
    return d;
  });
  if (explained.length > 0) {
    const shown = explained.slice(0, 5).join('; ');
    return explained.length > 5 ? `${shown}; and ${explained.length - 5} more` : shown;
  }
  const entry = /entrypoint "([^"]+)" does not refer to a rule or policy decision/.exec(text);
  if (entry) {
    const parts = ctx.entrypoint.split('/');
    const rule = parts.pop();
    return `${ctx.fileName}: no rule "${rule}" in package "${parts.join('.')}" (entrypoint ${ctx.entrypoint})`;
  }
  const first =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? 'opa build failed';
  return `${ctx.fileName}: ${first.replace(/^error: /, '')}`;
}
