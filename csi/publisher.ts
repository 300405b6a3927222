// The publisher: puts a volume's files at its target path and takes them away, the same for any volume
// source. One operation per target at a time (a per-target lock: kubelet may retry a publish while the
// first is still running, or unpublish during a republish).
//
// publish: mount (tmpfs or directory, mounter.ts) unless mounted, then the atomic write of the whole file
// set (atomicwriter.ts: a new ..data directory swapped in by one rename), so a reader sees the old files or
// the new ones, never a mix. A failure on a first publish unmounts again and removes the directory it
// created: a failed publish leaves nothing at the target. A republish (requiresRepublish, a retry) of a
// mounted volume only rewrites its files, and writes nothing when nothing changed.
// unpublish: unmount and remove the target; a target that is not there is fine (idempotent).
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../core/observability/log.ts';
import { writeFileSet } from './atomicwriter.ts';
import { internal } from './errors.ts';
import type { Mounter } from './mounter.ts';

/** Runs one function per key at a time, in call order. */
export class Locks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export class Publisher {
  readonly mounter: Mounter;
  private readonly locks = new Locks();
  private readonly log: Logger;

  constructor(mounter: Mounter, log: Logger) {
    this.mounter = mounter;
    this.log = log;
  }

  /** Writes `files` at `target` (absolute); true when something was written. Throws CsiError(Internal). */
  publish(target: string, files: Map<string, string>): Promise<boolean> {
    return this.locks.run(target, async () => {
      const wasMounted = await this.mounter.isMounted(target);
      const existed =
        wasMounted ||
        (await stat(target).then(
          () => true,
          () => false,
        ));
      try {
        await mkdir(dirname(target), { recursive: true });
        await this.mounter.mount(target);
        return await writeFileSet(target, files);
      } catch (err) {
        if (!wasMounted) {
          // A failed first publish leaves nothing behind: no mount, and no directory we created.
          await this.mounter
            .unmount(target)
            .catch((e) => this.log.warn('cleanup after failed publish', { target, error: (e as Error).message }));
          if (!existed) await rm(target, { recursive: true, force: true }).catch(() => {});
        }
        throw internal(`failed to write volume at ${target}: ${(err as Error).message}`);
      }
    });
  }

  /** Removes the volume at `target`; nothing there is fine. Throws CsiError(Internal). */
  unpublish(target: string): Promise<void> {
    return this.locks.run(target, async () => {
      try {
        await this.mounter.unmount(target);
      } catch (err) {
        throw internal(`failed to unmount ${target}: ${(err as Error).message}`);
      }
    });
  }
}
