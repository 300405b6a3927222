// A real npm registry for tests: verdaccio (pinned, installed by tools.ts) with htpasswd users, no uplinks,
// every package readable and publishable by authenticated users only, on a free loopback port.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnPeer, waitForPort, type PeerProcess } from './process.ts';
import { writeHtpasswd } from './htpasswd.ts';
import { verdaccioMain } from './tools.ts';

export interface Verdaccio {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  setUsers(users: Record<string, string>): Promise<void>;
  /** The registry's log (JSON lines), to check what it saw. */
  output(): string;
  stop(): Promise<void>;
}

export async function startVerdaccio(opts: { users: Record<string, string> }): Promise<Verdaccio> {
  const main = await verdaccioMain();
  const dir = await mkdtemp(join(tmpdir(), 'connectors-verdaccio-'));
  await mkdir(join(dir, 'storage'));
  const htpasswd = join(dir, 'htpasswd');
  await writeHtpasswd(htpasswd, opts.users);
  await writeFile(
    join(dir, 'config.yaml'),
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${htpasswd}`,
      '    max_users: -1',
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $authenticated',
      '    publish: $authenticated',
      'log: { type: stdout, format: json, level: http }',
      '',
    ].join('\n'),
  );
  let peer: PeerProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !peer; attempt++) {
    port = await freePort();
    const p = spawnPeer(
      process.execPath,
      [main, '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NODE_ENV: 'production' },
        cleanupDir: dir,
      },
    );
    if (await waitForPort(p, port, 60_000)) peer = p;
    else {
      await p.stop();
      if (!/EADDRINUSE/.test(p.output())) throw new Error(`verdaccio failed to start:\n${p.output()}`);
    }
  }
  if (!peer) throw new Error('verdaccio could not get a free port after 5 attempts');
  const running = peer;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setUsers: (users) => writeHtpasswd(htpasswd, users),
    output: () => running.output(),
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
