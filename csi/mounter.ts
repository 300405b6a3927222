// Where a volume's files live. In a cluster the driver mounts a small tmpfs at the target path (so tokens
// never touch the node's disk and the volume goes away with the mount), which needs root with
// CAP_SYS_ADMIN in the host mount namespace (the DaemonSet's privileged container). Where mounting is
// impossible (an unprivileged container, CI without CAP_SYS_ADMIN) the directory mounter simply uses a
// directory at the target path. `detectMounter` tries a real tmpfs mount once and picks.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Mounter {
  readonly kind: 'tmpfs' | 'dir';
  /** Makes `target` a (mounted) empty volume; a no-op when it already is one. */
  mount(target: string): Promise<void>;
  /** Whether `target` is a volume of this mounter. */
  isMounted(target: string): Promise<boolean>;
  /** Removes the volume and the target directory; a no-op when there is none. */
  unmount(target: string): Promise<void>;
}

/** Decodes the octal escapes (\040 for space ...) of /proc/self/mountinfo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.add(unescapeMountinfo(fields[4]));
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the target directory: with its contents when they are a volume of ours (the atomic writer's
 * ..data layout, e.g. left by the directory mounter), else only when empty — never someone else's files.
 */
async function removeTarget(target: string): Promise<void> {
  if (await exists(join(target, '..data'))) {
    await rm(target, { recursive: true, force: true });
    return;
  }
  try {
    await rmdir(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTEMPTY' || code === 'EEXIST')
      throw new Error(`${target} is not empty and not a connectors-csi volume; left in place`, { cause: err });
    throw err;
  }
}

export class TmpfsMounter implements Mounter {
  readonly kind = 'tmpfs' as const;
  private readonly sizeBytes: number;

  constructor(opts: { sizeBytes?: number } = {}) {
    this.sizeBytes = opts.sizeBytes ?? 4 * 1024 * 1024;
  }

  async isMounted(target: string): Promise<boolean> {
    return (await mountPoints()).has(resolve(target));
  }

  async mount(target: string): Promise<void> {
    if (await this.isMounted(target)) return;
    await mkdir(target, { recursive: true, mode: 0o750 });
    try {
      await run('mount', [
        '-t',
        'tmpfs',
        '-o',
        `size=${this.sizeBytes},mode=0755,nosuid,nodev,noexec`,
        'connectors-csi',
        target,
      ]);
    } catch (err) {
      throw new Error(
        `mount -t tmpfs at ${target}: ${((err as { stderr?: string }).stderr || (err as Error).message).trim()}`,
        { cause: err },
      );
    }
  }

  async unmount(target: string): Promise<void> {
    if (await this.isMounted(target)) {
      try {
        await run('umount', [target]);
      } catch (err) {
        throw new Error(`umount ${target}: ${((err as { stderr?: string }).stderr || (err as Error).message).trim()}`, {
          cause: err,
        });
      }
    }
    await removeTarget(target);
  }
}

/** A plain directory at the target path: for environments that cannot mount (see the module comment). */
export class DirMounter implements Mounter {
  readonly kind = 'dir' as const;

  async isMounted(target: string): Promise<boolean> {
    return exists(join(target, '..data'));
  }

  async mount(target: string): Promise<void> {
    await mkdir(target, { recursive: true, mode: 0o755 });
  }

  async unmount(target: string): Promise<void> {
    await removeTarget(target);
  }
}

/** tmpfs when this process can mount one (root with CAP_SYS_ADMIN), else the directory mounter. */
export async function detectMounter(): Promise<Mounter> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return new DirMounter();
  const probe = await mkdtemp(join(tmpdir(), 'connectors-csi-probe-'));
  const tmpfs = new TmpfsMounter({ sizeBytes: 64 * 1024 });
  try {
    await tmpfs.mount(probe);
    await tmpfs.unmount(probe);
    return new TmpfsMounter();
  } catch {
    return new DirMounter();
  } finally {
    await rm(probe, { recursive: true, force: true }).catch(() => {});
  }
}

export async function mounterFor(kind: 'auto' | 'tmpfs' | 'dir'): Promise<Mounter> {
  if (kind === 'tmpfs') return new TmpfsMounter();
  if (kind === 'dir') return new DirMounter();
  return detectMounter();
}
