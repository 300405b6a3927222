// The writes of one event-loop turn leave together at its end. A socket written to while the turn handles what
// epoll reported stays corked until the check phase; the peer, woken by the first of a burst of writes, then
// finds the others already queued instead of being woken once per write. Waking a sleeping process on another
// CPU (an inter-processor interrupt, a VM exit on virtual machines) was the largest single kernel cost of a
// proxied request.
import type { Socket } from 'node:net';

const batched = Symbol('writes batched until the end of the turn');
type Batchable = Socket & { [batched]?: boolean };

let pending: Batchable[] = [];

function flush(): void {
  const sockets = pending;
  pending = [];
  for (const s of sockets) {
    s[batched] = false;
    s.uncork();
  }
}

/** Holds what is written to `socket` until the end of this turn (idempotent within a turn). */
export function batchWrites(socket: Batchable): void {
  if (socket[batched]) return;
  socket[batched] = true;
  socket.cork();
  if (pending.push(socket) === 1) setImmediate(flush);
}
