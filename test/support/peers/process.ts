// Shared plumbing for the real test peers: orphan-proof child processes, free loopback ports, readiness polls.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A shell that runs the peer and watches its parent (this test process): it polls `kill -0 $PPID` every
 * 0.5 s and, once the parent is gone (even if killed with SIGKILL), sends SIGTERM to the peer, then SIGKILL
 * after 5 s. SIGTERM/SIGINT/SIGHUP to the shell itself stop the peer the same way, which is what `stop()` uses.
 * The shell runs in a process group of its own, so a Ctrl-C in a terminal reaches it only through the parent
 * check (within 0.5 s).
 */
const WATCHDOG = `
"$@" &
child=$!
stopping=0
terminate_child() {
  kill -TERM "$child" 2>/dev/null
  i=0
  while kill -0 "$child" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1 & wait $!; i=$((i+1)); done
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
}
on_signal() {
  [ "$stopping" = 1 ] && return
  stopping=1
  terminate_child
  exit 0
}
trap on_signal TERM INT HUP
while kill -0 "$child" 2>/dev/null; do
  if ! kill -0 "$PPID" 2>/dev/null; then
    stopping=1
    terminate_child
    if [ -n "$CONNECTORS_PEER_CLEANUP" ]; then rm -rf "$CONNECTORS_PEER_CLEANUP"; fi
    exit 0
  fi
  sleep 0.5 & wait $!
done
wait "$child"
exit $?
`;

export interface PeerProcess {
  child: ChildProcess;
  /** stdout+stderr of the peer, last 64 KiB. */
  output(): string;
  /** Resolves with the exit code (or null) once the watchdog shell has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function spawnPeer(
  command: string,
  args: string[],
  /** cleanupDir: removed by the watchdog if this process dies without stopping the peer. */
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; cleanupDir?: string } = {},
): PeerProcess {
  const env = { ...(opts.env ?? process.env) };
  if (opts.cleanupDir) env.CONNECTORS_PEER_CLEANUP = opts.cleanupDir;
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'connectors-peer-watchdog', command, ...args], {
    env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: apache's prefork MPM signals its whole process group on shutdown, which would
    // otherwise include this test process and the shell running it.
    detached: true,
  });
  let buf = '';
  const append = (d: Buffer) => {
    buf += d.toString('utf8');
    if (buf.length > 65536) buf = buf.slice(-65536);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  let stopped: Promise<void> | undefined;
  return {
    child,
    output: () => buf,
    exited,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}

/** A port that was free on 127.0.0.1 a moment ago (the caller retries if it loses the race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Waits until `port` accepts connections, or fails early if the peer exits (e.g. the port was taken).
 * Returns false if the peer exited before listening.
 */
export async function waitForPort(peer: PeerProcess, port: number, timeoutMs = 20_000): Promise<boolean> {
  let dead = false;
  void peer.exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) return false;
    if (await canConnect(port)) {
      // A port we did not get could be someone else's: make sure our peer is still alive.
      await sleep(50);
      return !dead;
    }
    await sleep(50);
  }
  throw new Error(`peer did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${peer.output()}`);
}

/** Runs a command to completion, failing with its output on a non-zero exit. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: Buffer | string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr}${stdout}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
  });
}
