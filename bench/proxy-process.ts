// What the proxy and API benchmarks share: a ServiceAccount allowed to use the namespace's Connectors, the proxy
// (or the API) started as its own process through the CLI (as in production), nginx, CPU time and resident memory
// from /proc (V8's heap from the proxy's /metrics), and a line naming the machine.
import { freePort, objects } from '@connectors/test-support';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_RUNTIME_ENV } from '../image/contents.ts';

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
 * if given) on a free loopback port, resolved once it listens. It runs with the image's runtime settings
 * (NODE_OPTIONS, MALLOC_ARENA_MAX: as deployed; BENCH_PROXY_NODE_OPTIONS replaces the first);
 * BENCH_PROXY_NODE_ARGS (e.g. --cpu-prof) go to its Node.js too; its audit lines go to /dev/null (written, not
 * switched off).
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
      env: {
        ...process.env,
        ...IMAGE_RUNTIME_ENV,
        NODE_OPTIONS: process.env.BENCH_PROXY_NODE_OPTIONS ?? IMAGE_RUNTIME_ENV.NODE_OPTIONS,
        CONNECTORS_SYSTEM_NAMESPACE: opts.systemNamespace,
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  await listening(proxy, opts.command ?? 'proxy');
  return { proxy, port };
}

/** Resolves once `child` prints "listening" on its stdout; rejects if it exits first. */
export async function listening(child: ChildProcess, name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}`)));
  });
  child.stdout!.resume();
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

/** Resident set (VmRSS) of `pid`, KiB. */
export function rssKiB(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)![1]));
}

/**
 * Where a process's resident memory is, from /proc/PID/smaps: the node binary's pages (code, the snapshot, ICU data
 * touched), anonymous mappings (V8's heap and generated code, thread stacks), malloc's heap, the rest.
 */
export async function rssBreakdown(pid: number): Promise<string> {
  const kib: Record<string, number> = { 'node binary': 0, 'anonymous (V8 heap, code)': 0, malloc: 0, other: 0 };
  let area = 'other';
  for (const line of (await readFile(`/proc/${pid}/smaps`, 'utf8')).split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[1];
      area =
        name === ''
          ? 'anonymous (V8 heap, code)'
          : name === '[heap]'
            ? 'malloc'
            : /\/node$/.test(name)
              ? 'node binary'
              : 'other';
    } else if (line.startsWith('Rss:')) kib[area] += Number(line.split(/\s+/)[1]);
  }
  return Object.entries(kib)
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`)
    .join(', ');
}

/** V8 heap spaces in use (MiB), from the proxy's /metrics (prom-client's default metrics). */
export async function heapSpaces(healthPort: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const used = [...text.matchAll(/^nodejs_heap_space_size_used_bytes\{space="(\w+)"\} (\d+)/gm)];
  const total = /^nodejs_heap_size_total_bytes (\d+)/m.exec(text);
  const external = /^nodejs_external_memory_bytes (\d+)/m.exec(text);
  const mib = (n: string | number) => (Number(n) / 1048576).toFixed(1);
  return (
    `heap total ${mib(total?.[1] ?? 0)} MiB; used by space: ` +
    used
      .filter(([, , v]) => Number(v) >= 1 << 20)
      .map(([, k, v]) => `${k} ${mib(v)}`)
      .join(', ') +
    `; external ${mib(external?.[1] ?? 0)} MiB`
  );
}
