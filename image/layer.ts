// One image layer from a list of entries: a tar stream with sorted entries, a fixed mtime, uid/gid 0 and no
// user or group names, gzip-compressed (level 6) by the pinned Node's zlib. The same entries give the same bytes, so
// the same digests: nothing of the machine that builds it (owners, times, umask, directory order) leaks in.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

export type LayerEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; mode?: number; source: string }
  | { path: string; type: 'file'; mode?: number; content: Buffer | string }
  | { path: string; type: 'symlink'; target: string };

export interface BuiltLayer {
  /** sha256 digest of the gzip blob (the manifest's layer digest). */
  digest: string;
  /** sha256 digest of the uncompressed tar (the config's diff_id). */
  diffId: string;
  size: number;
  blob: Buffer;
  entries: number;
}

/** Entry paths in a layer are relative (`usr/bin/node`), without a leading `/` or `./`. */
function normalise(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/^\.\//, '').replace(/\/+$/, '');
  if (!p || p.split('/').some((s) => s === '..' || s === '.' || s === ''))
    throw new Error(`bad layer path ${JSON.stringify(path)}`);
  return p;
}

/**
 * Adds every parent directory an entry needs (mode 0755), drops exact duplicates (a later entry of the same
 * path replaces an earlier one) and sorts by path, so a tree is written the same whatever order it was read in.
 */
export function completeEntries(entries: LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) byPath.set(normalise(e.path), { ...e, path: normalise(e.path) });
  for (const p of [...byPath.keys()]) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'dir' });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function header(e: LayerEntry, mtime: Date): Partial<Header> & { name: string } {
  const common = { uid: 0, gid: 0, uname: '', gname: '', mtime };
  switch (e.type) {
    case 'dir':
      return { ...common, name: e.path + '/', type: 'directory', mode: e.mode ?? 0o755 };
    case 'symlink':
      return { ...common, name: e.path, type: 'symlink', linkname: e.target, mode: 0o777 };
    case 'file':
      return { ...common, name: e.path, type: 'file', mode: e.mode ?? 0o644 };
  }
}

async function readAll(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(path)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Builds the layer in memory (the largest, node itself, is ~40 MiB compressed). */
export async function buildLayer(entries: LayerEntry[], opts: { mtime?: Date } = {}): Promise<BuiltLayer> {
  const mtime = opts.mtime ?? new Date(0);
  const sorted = completeEntries(entries);
  const tar = pack();
  const diff = createHash('sha256');
  const digest = createHash('sha256');
  const out: Buffer[] = [];
  let size = 0;
  const done = pipeline(
    // tar-stream's streams are streamx streams: async iterable, not node:stream Readables.
    tar as unknown as AsyncIterable<Buffer>,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        diff.update(chunk);
        yield chunk;
      }
    },
    // zlib's default level: level 9 took 2.3 times as long on the Node.js binary for a 0.5% smaller layer.
    createGzip({ level: 6 }),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        digest.update(chunk);
        out.push(chunk);
        size += chunk.length;
        cb();
      },
    }),
  );
  try {
    for (const e of sorted) {
      const h = header(e, mtime);
      if (e.type === 'file') {
        const body = 'source' in e ? await readAll(e.source) : Buffer.from(e.content);
        await new Promise<void>((resolve, reject) =>
          tar.entry({ ...h, size: body.length }, body, (err) => (err ? reject(err) : resolve())),
        );
      } else {
        await new Promise<void>((resolve, reject) => tar.entry(h, (err) => (err ? reject(err) : resolve())));
      }
    }
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
  return {
    digest: 'sha256:' + digest.digest('hex'),
    diffId: 'sha256:' + diff.digest('hex'),
    size,
    blob: Buffer.concat(out),
    entries: sorted.length,
  };
}
