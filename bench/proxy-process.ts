// What the proxy benchmarks share: a ServiceAccount allowed to use the namespace's Connectors, the proxy
// started as its own process through the CLI (as in production), and a line naming the machine.
import { connectorReaderYaml } from '../test/harness/rbac.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/peers/process.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** YAML of ServiceAccount `bench` with `get` on the Connectors of `ns` (what the proxy checks). */
export const benchUserYaml = (ns: string) => `apiVersion: v1
kind: ServiceAccount
metadata: {name: bench}
---
${connectorReaderYaml({ name: 'bench', serviceAccount: 'bench', saNamespace: ns })}`;

/**
 * `connectors proxy` (of this checkout, or of `checkout`; under `wrapper`, e.g. valgrind, if given) on a free
 * loopback port, resolved once it listens. BENCH_PROXY_NODE_ARGS (e.g. --cpu-prof) go to its Node.js; its audit
 * lines go to /dev/null (written, not switched off).
 */
export async function startProxyProcess(opts: {
  kubeconfigPath: string;
  systemNamespace: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cpu?: number;
  checkout?: string;
  wrapper?: string[];
}): Promise<{ proxy: ChildProcess; port: number }> {
  const port = await freePort();
  const nodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [cmd, ...wrapperArgs] = [...(opts.wrapper ?? []), process.execPath];
  const proxy = spawn(
    ...onCpu(opts.cpu, cmd, [
      ...wrapperArgs,
      ...nodeArgs,
      join(opts.checkout ?? root, 'cli/connectors.js'),
      'proxy',
      '--kubeconfig',
      opts.kubeconfigPath,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      ...(opts.args ?? []),
    ]),
    {
      env: { ...process.env, CONNECTORS_SYSTEM_NAMESPACE: opts.systemNamespace, ...opts.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    proxy.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    proxy.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
  proxy.stdout!.resume();
  return { proxy, port };
}

/** `cmd args` run on one CPU (taskset, which execs the command: same pid), or as they are. */
export function onCpu(cpu: number | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]];
}

export async function machineLine(): Promise<string> {
  const cpu = await readFile('/proc/cpuinfo', 'utf8');
  return `node ${process.version}, ${cpu.match(/model name\s*:\s*(.*)/)?.[1]} x${cpu.match(/^processor/gm)?.length}`;
}
