// A real Python package index for tests: pypiserver (pinned, in the venv tools.ts makes) with an htpasswd file,
// authentication required to list, download and upload, on a free loopback port.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { freePort, runCommand, spawnPeer, waitForPort, type PeerProcess } from './process.ts';
import { pythonToolsBin } from './tools.ts';

/** htpasswd with apr1 (MD5) entries: passlib verifies those without the optional bcrypt module. */
async function writeApr1Htpasswd(path: string, users: Record<string, string>): Promise<void> {
  const lines: string[] = [];
  for (const [u, p] of Object.entries(users))
    lines.push((await runCommand('htpasswd', ['-n', '-b', '-m', u, p])).stdout.split('\n')[0].trim());
  await writeFile(path, lines.join('\n') + '\n', { mode: 0o644 });
}

/** Writes a minimal wheel to upload: `python MAKE_WHEEL NAME VERSION OUTDIR` prints the wheel's path. */
export const MAKE_WHEEL = fileURLToPath(new URL('./make_wheel.py', import.meta.url));

export interface PypiServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Files of the packages it holds. */
  packages(): Promise<string[]>;
  setUsers(users: Record<string, string>): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPypiServer(opts: { users: Record<string, string> }): Promise<PypiServer> {
  const bin = await pythonToolsBin();
  const dir = await mkdtemp(join(tmpdir(), 'connectors-pypi-'));
  const packages = join(dir, 'packages');
  await mkdir(packages);
  const htpasswd = join(dir, 'htpasswd');
  await writeApr1Htpasswd(htpasswd, opts.users);
  let peer: PeerProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !peer; attempt++) {
    port = await freePort();
    const p = spawnPeer(
      join(bin, 'pypi-server'),
      [
        'run',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--authenticate',
        'list,download,update',
        '--passwords',
        htpasswd,
        '--disable-fallback',
        '--hash-algo',
        'sha256',
        '-v',
        packages,
      ],
      { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, LANG: 'C.UTF-8' }, cleanupDir: dir },
    );
    if (await waitForPort(p, port, 30_000)) peer = p;
    else {
      await p.stop();
      if (!/Address already in use/i.test(p.output())) throw new Error(`pypiserver failed to start:\n${p.output()}`);
    }
  }
  if (!peer) throw new Error('pypiserver could not get a free port after 5 attempts');
  const running = peer;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    packages: () => readdir(packages),
    setUsers: (users) => writeApr1Htpasswd(htpasswd, users),
    output: () => running.output(),
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
