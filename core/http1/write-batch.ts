// The writes of one event-loop turn leave together at its end. A socket written to while the turn handles what
// epoll reported stays corked until the check phase; the peer, woken by the first of a burst of writes, then
// finds the others already queued instead of being woken once per write. Waking a sleeping process on another
// CPU (an inter-processor interrupt, a VM exit on virtual machines) was the largest single kernel cost of a
// proxied request.
import type { Socket } from 'node:net';

/** The sockets corked in this turn (a Set, not a mark on the socket: a property would change its shape). */
const pending = new Set<Socket>();

function flush(): void {
  for (const s of pending) s.uncork();
  pending.clear();
}

/** Holds what is written to `socket` until the end of this turn (idempotent within a turn). */
export function batchWrites(socket: Socket): void {
  if (pending.has(socket)) return;
  pending.add(socket);
  socket.cork();
  if (pending.size === 1) setImmediate(flush);
}
