// Atomic replacement of a volume's file set, as kubelet's AtomicWriter does for Secret and projected
// volumes, so a reader (or a republish) never sees a half-written set:
//
//   <target>/..2026_01_02_15_04_05.123456789/   the files of one generation (mode 0444)
//   <target>/..data -> ..2026_01_02_...          swapped with rename(2), which is atomic
//   <target>/<file> -> ..data/<file>             one stable symlink per visible file
//
// Writing a new set: write a fresh timestamped directory, point a temporary symlink at it, rename it over
// ..data, add the visible symlinks of new files, remove those of files no longer present, remove the old
// generation. Names starting with ".." are reserved for this layout.
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';

const DATA = '..data';
const DATA_TMP = '..data_tmp';
/** The process umask, read once (files are created 0444; chmod only if the umask narrows that). */
const UMASK = process.umask();

function generationName(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const nanos = p(now.getUTCMilliseconds(), 3) + String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0');
  const day = `${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}`;
  const time = `${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}`;
  return `..${day}_${time}.${nanos}`;
}

async function currentGeneration(target: string): Promise<string | undefined> {
  try {
    return await readlink(join(target, DATA));
  } catch {
    return undefined;
  }
}

/** The visible files and their contents, or undefined when the target holds no generation. */
export async function readFileSet(target: string): Promise<Map<string, string> | undefined> {
  const gen = await currentGeneration(target);
  if (!gen) return undefined;
  const out = new Map<string, string>();
  for (const name of (await readdir(join(target, gen))).sort())
    out.set(name, await readFile(join(target, gen, name), 'utf8'));
  return out;
}

function sameSet(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * Replaces the file set of `target` atomically. Returns false when the set on disk is already identical
 * (nothing written).
 */
export async function writeFileSet(target: string, files: Map<string, string>): Promise<boolean> {
  for (const name of files.keys()) {
    if (name.startsWith('..') || name.includes('/') || name === '' || name === '.')
      throw new Error(`invalid file name ${JSON.stringify(name)}`);
  }
  const previous = await currentGeneration(target);
  if (previous) {
    const existing = await readFileSet(target).catch(() => undefined);
    if (existing && sameSet(existing, files)) return false;
  }
  const gen = generationName();
  const genDir = join(target, gen);
  await mkdir(genDir, { mode: 0o755 });
  await Promise.all(
    [...files].map(async ([name, content]) => {
      const path = join(genDir, name);
      await writeFile(path, content, { mode: 0o444 });
      if ((UMASK & 0o444) !== 0) await chmod(path, 0o444); // a umask that narrowed it
    }),
  );
  const tmp = join(target, DATA_TMP);
  await rm(tmp, { force: true });
  await symlink(gen, tmp);
  await rename(tmp, join(target, DATA));

  const visible = new Set(files.keys());
  const entries = new Set(await readdir(target));
  await Promise.all(
    [...visible].map(async (name) => {
      const link = join(target, name);
      if (entries.has(name)) {
        try {
          if ((await readlink(link)) === join(DATA, name)) return;
        } catch {
          // not a symlink: replaced below
        }
      }
      const linkTmp = join(target, `..${name}.tmp`);
      if (entries.has(`..${name}.tmp`)) await rm(linkTmp, { force: true });
      await symlink(join(DATA, name), linkTmp);
      await rename(linkTmp, link);
    }),
  );
  await Promise.all(
    [...entries]
      .filter((entry) =>
        entry.startsWith('..') ? entry !== DATA && entry !== gen && entry !== DATA_TMP : !visible.has(entry),
      )
      .map((entry) => rm(join(target, entry), { recursive: true, force: true })),
  );
  return true;
}
