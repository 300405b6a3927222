// What the proxy and API benchmarks share: a ServiceAccount allowed to use the namespace's Connectors, the proxy
// (or the API) started as its own process through the CLI (as in production), nginx, CPU time from /proc, and a
// line naming the machine.
import { freePort, objects } from '@connectors/test-support';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** ServiceAccount `bench` with `get` on the Connectors of `ns` (what the proxy checks). */
export const benchUser = (ns: string) => [
  objects.serviceAccount('bench'),
  ...objects.connectorReader({ name: 'bench', serviceAccount: 'bench', saNamespace: ns }),
];

/** Secret `creds` (basic auth) and a Connector of the git class at each address, by name, with the bench user. */
export const gitConnectorsYaml = (ns: string, addresses: Record<string, string>) =>
  objects.yaml(
    objects.basicAuthSecret('creds', 'bench', 'bench-pass'),
    ...Object.entries(addresses).map(([name, address]) =>
      objects.connector(name, { className: 'git', address, auth: { name: 'basicAuth', secret: 'creds' } }),
    ),
    benchUser(ns),
  );

/**
 * `connectors proxy` (or `command`, e.g. `api`; of this checkout, or of `checkout`; under `wrapper`, e.g. valgrind,
 * if given) on a free loopback port, resolved once it listens. BENCH_PROXY_NODE_ARGS (e.g. --cpu-prof) go to its
 * Node.js; its audit lines go to /dev/null (written, not switched off).
 */
export async function startProxyProcess(opts: {
  kubeconfigPath: string;
  systemNamespace: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cpu?: number;
  checkout?: string;
  wrapper?: string[];
  command?: string;
}): Promise<{ proxy: ChildProcess; port: number }> {
  const port = await freePort();
  const nodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [cmd, ...wrapperArgs] = [...(opts.wrapper ?? []), process.execPath];
  const proxy = spawn(
    ...onCpu(opts.cpu, cmd, [
      ...wrapperArgs,
      ...nodeArgs,
      join(opts.checkout ?? root, 'cli/connectors.js'),
      opts.command ?? 'proxy',
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
    proxy.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    proxy.once('exit', (code) => reject(new Error(`${opts.command ?? 'proxy'} exited ${code}`)));
  });
  proxy.stdout.resume();
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

/** CPU time (user and system, seconds) of `pid` and its children (nginx's workers), from /proc. */
export async function cpuSeconds(pid: number): Promise<{ user: number; system: number }> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  let user = 0;
  let system = 0;
  for (const p of [pid, ...children.split(' ').filter(Boolean).map(Number)]) {
    const fields = (await readFile(`/proc/${p}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
    user += Number(fields[11]); // utime, stime: fields 14 and 15 of stat
    system += Number(fields[12]);
  }
  return { user: user / 100, system: system / 100 }; // USER_HZ
}

/** nginx serving `servers` (http-block text) from `dir`, with `workers` worker processes. */
export async function startNginx(
  dir: string,
  workers: number,
  probePort: number,
  servers: string,
  cpu: number | undefined,
): Promise<ChildProcess> {
  await mkdir(dir, { recursive: true, mode: 0o777 });
  const conf = `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  # nginx's default: one access-log line per request, as the proxy writes one audit line per request.
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${servers}
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = spawn(
    ...onCpu(cpu, '/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', 'daemon off;']),
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${probePort}/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    await sleep(50);
  }
  throw new Error('nginx did not start: ' + (await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')));
}
