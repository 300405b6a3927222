// Inactivity timeouts as deadlines checked by one periodic sweep, not a timer per socket: re-arming a socket
// timer for every request and body chunk was a measurable part of a small proxied request.

/** Something that times out: `deadline` in epoch ms (0: none). */
export interface Expiring {
  deadline: number;
  expire(): void;
}

/**
 * Expires what `items` yields once its deadline has passed, checking every quarter of the shortest timeout
 * (25 ms to 1 s): a timeout fires at most that late. Does not keep the process alive; stop with clearInterval.
 */
export function sweepDeadlines(items: () => Iterable<Expiring>, shortestTimeoutMs: number): NodeJS.Timeout {
  const timer = setInterval(
    () => {
      const now = Date.now();
      // A copy: expiring one may remove it (or others) from what `items` iterates.
      for (const item of [...items()]) if (item.deadline !== 0 && item.deadline <= now) item.expire();
    },
    Math.max(25, Math.min(1000, shortestTimeoutMs / 4)),
  );
  timer.unref();
  return timer;
}
