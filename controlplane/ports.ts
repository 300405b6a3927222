// Free loopback ports for the control plane's servers. Ports are drawn at random below the kernel's
// ephemeral range (so an outgoing connection cannot take one between the check and the child's bind),
// checked by binding, and remembered for the life of the process so two control planes in one process
// never pick the same one. A bind race with another process is still possible; callers retry.
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const reserved = new Set<number>();

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/** Whether a TCP port can be bound on 127.0.0.1 right now. */
export function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `count` distinct ports free on 127.0.0.1, reserved for this process until `releasePorts`. */
export async function allocatePorts(count: number): Promise<number[]> {
  const [ephemeralLo] = ephemeralRange();
  // Stay between 10000 and the start of the ephemeral range when there is room, else use it all.
  const lo = ephemeralLo > 12000 ? 10000 : 1024;
  const hi = ephemeralLo > 12000 ? ephemeralLo - 1 : 65535;
  const out: number[] = [];
  for (let attempts = 0; out.length < count; attempts++) {
    if (attempts > 1000) throw new Error('could not find free loopback ports');
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (reserved.has(port) || out.includes(port)) continue;
    if (await canBind(port)) out.push(port);
  }
  for (const p of out) reserved.add(p);
  return out;
}

export function releasePorts(ports: number[]): void {
  for (const p of ports) reserved.delete(p);
}

/** Wait until every port can be bound again (its listener has closed), up to `timeoutMs`. */
export async function waitPortsFree(ports: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let busy = ports;
  for (;;) {
    const checks = await Promise.all(busy.map(async (p) => ((await canBind(p)) ? undefined : p)));
    busy = checks.filter((p): p is number => p !== undefined);
    if (!busy.length || Date.now() > deadline) return busy;
    await sleep(50);
  }
}
