// The proxy as its own process, started with the CLI (`connectors proxy`) as in production: tests that must show
// the process survives an input watch it from outside (exitCode, signalCode) instead of sharing its fate.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@connectors/test-support';

const cli = fileURLToPath(new URL('../../cli/connectors.js', import.meta.url));

export interface ProxyProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Whether the process is still running. */
  alive(): boolean;
  /** What it wrote to stderr (for failure messages). */
  stderr(): string;
  /** Its audit lines so far, parsed. */
  audit(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startProxyProcess(opts: {
  kubeconfigPath: string;
  systemNamespace: string;
  args?: string[];
}): Promise<ProxyProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      cli,
      'proxy',
      '--kubeconfig',
      opts.kubeconfigPath,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      ...(opts.args ?? []),
    ],
    {
      env: { ...process.env, CONNECTORS_SYSTEM_NAMESPACE: opts.systemNamespace },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${err}`)));
  });
  const audit: Array<Record<string, unknown>> = [];
  let partial = '';
  child.stderr.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      if (!l.startsWith('{')) continue;
      try {
        const rec = JSON.parse(l) as Record<string, unknown>;
        if (rec.audit === true) audit.push(rec);
      } catch {
        // not a log line
      }
    }
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    alive: () => child.exitCode === null && child.signalCode === null,
    stderr: () => err,
    audit: () => audit,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
