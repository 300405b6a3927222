// Child processes that cannot outlive their parent.
//
// Each component (etcd, kube-apiserver, ...) runs in its own session and process group (setsid via
// `detached`), with stdout/stderr going straight to a log file, so it never depends on a pipe to Node
// and a terminal's Ctrl-C reaches only Node, which then stops the components in order.
//
// A watchdog (`sh`, one per group of components) is the safety net for when Node cannot stop them
// itself (SIGKILL, a crash, an abrupt `process.exit`): its stdin is a pipe whose only writer is this
// Node process. Node writes `add <pgid>` for each component and `rmdir <path>` for a directory to
// remove. When the pipe reaches EOF (Node closed it in `close()` or the kernel closed it because Node
// died, however it died) the watchdog sends SIGTERM to every registered process group, SIGKILL to the
// ones still alive after a grace period, removes the directories and exits. An EOF on a pipe is
// immediate and cannot be confused by pid reuse, unlike polling the parent's pid; Linux `prctl`
// (PDEATHSIG) is not reachable from Node.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

const WATCHDOG_SCRIPT = `
groups=""
dirs=""
while read -r cmd arg; do
  case "$cmd" in
    add) groups="$groups $arg" ;;
    del) keep=""; for g in $groups; do [ "$g" = "$arg" ] || keep="$keep $g"; done; groups="$keep" ;;
    rmdir) dirs="$dirs $arg" ;;
  esac
done
for g in $groups; do kill -TERM -"$g" 2>/dev/null; done
i=0
while [ -n "$groups" ] && [ "$i" -lt "$GRACE_TENTHS" ]; do
  alive=""
  for g in $groups; do kill -0 -"$g" 2>/dev/null && alive="$alive $g"; done
  groups="$alive"
  [ -n "$groups" ] && sleep 0.1
  i=$((i + 1))
done
for g in $groups; do kill -KILL -"$g" 2>/dev/null; done
[ -n "$groups" ] && sleep 0.2
for d in $dirs; do rm -rf -- "$d"; done
exit 0
`;

/** Resolves true if `p` settles within `ms`, false otherwise; never keeps the event loop alive by itself. */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** Paths given to the watchdog must be plain (they are split on whitespace). */
function checkPlain(value: string): void {
  if (/\s/.test(value)) throw new Error(`watchdog argument contains whitespace: ${JSON.stringify(value)}`);
}

export class Watchdog {
  readonly process: ChildProcess;
  private readonly exited: Promise<void>;
  private closed = false;

  constructor(opts: { graceSeconds?: number; logFile?: string } = {}) {
    const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
    // The script travels in the environment so `ps` shows a short command line naming the parent.
    this.process = spawn(
      '/bin/sh',
      ['-c', 'eval "$CONNECTORS_WATCHDOG_SCRIPT"', 'connectors-watchdog', `parent=${process.pid}`],
      {
        stdio: ['pipe', out, out],
        detached: true,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          GRACE_TENTHS: String(Math.round((opts.graceSeconds ?? 5) * 10)),
          CONNECTORS_WATCHDOG_SCRIPT: WATCHDOG_SCRIPT,
        },
      },
    );
    this.exited = once(this.process, 'exit').then(
      () => {},
      () => {},
    );
    if (typeof out === 'number') closeSync(out);
    this.process.unref();
    (this.process.stdin as unknown as { unref?: () => void }).unref?.();
    this.process.stdin?.on('error', () => {}); // EPIPE if it died; nothing to do
  }

  private send(line: string): void {
    if (this.closed) throw new Error('watchdog already closed');
    this.process.stdin?.write(line + '\n');
  }

  watchGroup(pgid: number): void {
    this.send(`add ${pgid}`);
  }

  forgetGroup(pgid: number): void {
    this.send(`del ${pgid}`);
  }

  removeDirOnExit(dir: string): void {
    checkPlain(dir);
    this.send(`rmdir ${dir}`);
  }

  /** Close the lifeline: the watchdog stops what is still registered, removes the directories and exits. */
  async close(timeoutMs = 15_000): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.process.stdin?.end();
    }
    await within(this.exited, timeoutMs);
  }
}

export interface Component {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves when the process has exited (with its exit code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start a command in its own process group with output appended to `logFile`, registered with the watchdog. */
export function startComponent(
  name: string,
  command: string,
  args: string[],
  opts: { logFile: string; watchdog: Watchdog; env?: NodeJS.ProcessEnv; cwd?: string },
): Component {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ['ignore', fd, fd],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    // spawn failed (ENOENT, ...): the error arrives asynchronously; make it an exit.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('error', () => resolve({ code: 127, signal: null })),
    );
    return { name, child, pid: -1, logFile: opts.logFile, exited };
  }
  opts.watchdog.watchGroup(pid);
  child.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.once('error', () => {});
  return { name, child, pid, logFile: opts.logFile, exited };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a pid names a live (not zombie) process. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Send a signal to a component's whole process group, ignoring a group that is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited and its group is empty. */
export async function stopComponent(c: Component, graceMs: number): Promise<void> {
  if (c.pid <= 0) return;
  const done = c.child.exitCode !== null || c.child.signalCode !== null;
  if (!done) signalGroup(c.pid, 'SIGTERM');
  const exited = await within(c.exited, graceMs);
  if (!exited) {
    signalGroup(c.pid, 'SIGKILL');
    await c.exited;
  }
  // Anything the component forked into its group.
  for (let i = 0; groupAlive(c.pid) && i < 50; i++) {
    if (i === 10) signalGroup(c.pid, 'SIGKILL');
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------------
// Process-wide cleanup: every live group of components is stopped on SIGINT/SIGTERM and, as far as
// synchronous code allows, on exit.

export interface Stoppable {
  /** Stop everything (async, orderly). */
  stop(): Promise<void>;
  /** Best effort from an `exit` handler: signal every process synchronously. */
  killSync(): void;
}

const live = new Set<Stoppable>();
let handlersInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  const all = [...live];
  void Promise.allSettled(all.map((s) => s.stop())).then(() => {
    // Restore the default behaviour (terminate) unless someone else handles the signal.
    process.removeListener(signal, onSignal);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function onExit(): void {
  for (const s of live) s.killSync();
}

export function registerLive(s: Stoppable, handleSignals: boolean): void {
  live.add(s);
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on('exit', onExit);
  }
  if (handleSignals) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      if (!process.listeners(sig).includes(onSignal)) process.on(sig, onSignal);
  }
}

export function unregisterLive(s: Stoppable): void {
  live.delete(s);
  if (live.size === 0)
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(sig, onSignal);
}
