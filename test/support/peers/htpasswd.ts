// htpasswd files with bcrypt entries (accepted by apache mod_authn_file and by docker-registry's htpasswd auth),
// written with `htpasswd` from Debian apache2-utils.
import { writeFile } from 'node:fs/promises';
import { runCommand } from './process.ts';

/** One `user:$2y$...` line; cost 4 (the minimum) keeps per-request verification fast in tests. */
export async function bcryptEntry(user: string, password: string): Promise<string> {
  if (user.includes(':')) throw new Error(`htpasswd user names cannot contain ':' (${JSON.stringify(user)})`);
  const { stdout } = await runCommand('htpasswd', ['-n', '-b', '-B', '-C', '4', user, password]);
  const line = stdout.split('\n')[0].trim();
  if (!line.startsWith(`${user}:$2`)) throw new Error(`unexpected htpasswd output for ${user}`);
  return line;
}

export async function writeHtpasswd(path: string, users: Record<string, string>): Promise<void> {
  const lines = await Promise.all(Object.entries(users).map(([u, p]) => bcryptEntry(u, p)));
  await writeFile(path, lines.join('\n') + (lines.length ? '\n' : ''), { mode: 0o644 });
}
