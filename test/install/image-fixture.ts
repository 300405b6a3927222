// The image of `npm run image`, built once per test process for the tests that need it (image.test.ts,
// pods.test.ts), and its layers unpacked into a root directory, in a temporary directory removed when the
// process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from '../../image/build.ts';
import { runCommand } from '@connectors/test-support';

let work: string | undefined;
let image: Promise<BuiltImage> | undefined;
let rootfs: Promise<string> | undefined;

function workDir(): string {
  if (!work) {
    const dir = mkdtempSync(join(tmpdir(), 'connectors-image-fixture-'));
    work = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return work;
}

/** The image, built into an OCI layout on first use. */
export function sharedImage(): Promise<BuiltImage> {
  image ??= buildImage({ out: join(workDir(), 'layout') });
  return image;
}

/** The image's environment (`config.Env`) as a map. */
export function imageEnv(image: BuiltImage): Record<string, string> {
  const env = (JSON.parse(image.config.toString()) as { config: { Env: string[] } }).config.Env;
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/** The image's layers unpacked in order into a directory (owned by root, as a container runtime would). */
export function sharedRootfs(): Promise<string> {
  rootfs ??= (async () => {
    const built = await sharedImage();
    const dir = join(workDir(), 'rootfs');
    await mkdir(dir);
    const manifest = JSON.parse(await readFile(join(built.dir, 'blobs', 'sha256', built.digest.slice(7)), 'utf8')) as {
      layers: Array<{ digest: string }>;
    };
    for (const l of manifest.layers)
      await runCommand('tar', ['-xzf', join(built.dir, 'blobs', 'sha256', l.digest.slice(7)), '-C', dir]);
    return dir;
  })();
  return rootfs;
}
