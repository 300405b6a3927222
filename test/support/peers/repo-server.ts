// A package-repository server for tests: apache2 on a free loopback port, with basic auth, serving
// - Maven repositories as directories (GET with listings; PUT creates the file and its parent directories, as
//   repository managers do and as mvn's wagon deploy expects: it sends no MKCOL), each at the URL forms of Nexus
//   (/repository/<name>/) and of JFrog Artifactory (/artifactory/<name>/);
// - the npm registry and the Python index given (verdaccio, pypiserver) under Nexus' and Artifactory's repository
//   paths (/repository/npm-hosted/, /artifactory/api/npm/npm-local/, /repository/pypi-hosted/,
//   /artifactory/api/pypi/pypi-local/), with the absolute URLs they write in their answers (npm tarball URLs,
//   pypiserver's /packages/ links) rewritten to that path, pypiserver's as relative links as Nexus writes them;
// - the Nexus and Artifactory endpoints the classes probe: /service/rest/v1/status (authenticated),
//   /artifactory/api/system/ping (anonymous), /artifactory/api/repositories (authenticated).
// It stands in for Nexus and Artifactory, which cannot run here: the real registries answer, at the products' paths.
// Every request is logged (method, path, status, user, Authorization and Proxy-Authorization as received).
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseRequestLog, type GitRequestRecord } from './git-server.ts';
import { writeHtpasswd } from './htpasswd.ts';
import { freePort, runCommand, spawnPeer, waitForPort, type PeerProcess } from './process.ts';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** The repository names and paths the server answers. */
export const NEXUS_NPM = '/repository/npm-hosted/';
export const JFROG_NPM = '/artifactory/api/npm/npm-local/';
export const NEXUS_PYPI = '/repository/pypi-hosted/';
export const JFROG_PYPI = '/artifactory/api/pypi/pypi-local/';

export type RequestRecord = GitRequestRecord;

export interface RepoServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Directory of a Maven repository on disk. */
  mavenDir(name: string): string;
  setUsers(users: Record<string, string>): Promise<void>;
  requests(): Promise<RequestRecord[]>;
  clearRequests(): Promise<void>;
  stop(): Promise<void>;
}

export interface RepoServerOptions {
  users: Record<string, string>;
  /** Maven repositories: name → directory whose content seeds it (or null for an empty one). */
  maven?: Record<string, string | null>;
  /** URL of an npm registry to serve under the Nexus and Artifactory npm paths. */
  npm?: string;
  /** URL of a pypiserver to serve under the Nexus and Artifactory PyPI paths. */
  pypi?: string;
}

/**
 * PUT into a Maven directory: apache runs this CGI with PATH_TRANSLATED = the file the URL names (authentication done
 * by apache). The path must stay under the maven directory; the body is written to a temporary file renamed into place.
 */
const PUT_CGI = `#!/bin/sh
set -eu
root="\${CONNECTORS_MAVEN_ROOT}"
target="\${PATH_TRANSLATED:-}"
case "$target" in
  "$root"/*) ;;
  *) printf 'Status: 403 Forbidden\\r\\nContent-Type: text/plain\\r\\n\\r\\noutside the repositories\\n'; exit 0 ;;
esac
case "$target" in
  */../*|*/./*) printf 'Status: 400 Bad Request\\r\\nContent-Type: text/plain\\r\\n\\r\\nbad path\\n'; exit 0 ;;
esac
mkdir -p "$(dirname "$target")"
cat > "$target.part.$$"
mv -f "$target.part.$$" "$target"
printf 'Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\ncreated\\n'
`;

const LOGGED = ['Authorization', 'Proxy-Authorization', 'Host', 'User-Agent'];

function worker(): { user: string; uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const u = spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'www-data'], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0)
    throw new Error('apache runs as root here but the www-data user does not exist');
  return { user: 'www-data', uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function auth(dir: string): string[] {
  return [
    '  AuthType Basic',
    '  AuthName "connectors test repository"',
    '  AuthBasicProvider file',
    `  AuthUserFile "${dir}/htpasswd"`,
    '  Require valid-user',
  ];
}

/** A reverse-proxied backend under `prefix`, with its absolute URLs in bodies rewritten to the prefix. */
function backend(prefix: string, target: string, front: string, rewrites: string[]): string[] {
  return [
    `<Location ${prefix}>`,
    `  ProxyPass ${target}/`,
    `  ProxyPassReverse ${target}/`,
    // Bodies are rewritten, so they must reach apache uncompressed.
    '  RequestHeader unset Accept-Encoding',
    '  AddOutputFilterByType SUBSTITUTE application/json text/html',
    ...rewrites.map((r) => `  Substitute '${r}'`),
    '</Location>',
  ];
}

function config(o: { dir: string; port: number; worker?: { user: string }; opts: RepoServerOptions }): string {
  const front = `http://127.0.0.1:${o.port}`;
  const modules = [
    'mpm_prefork',
    'authz_core',
    'authn_core',
    'authn_file',
    'auth_basic',
    'authz_user',
    'alias',
    'dir',
    'mime',
    'autoindex',
    'cgi',
    'actions',
    'env',
    'proxy',
    'proxy_http',
    'headers',
    'filter',
    'substitute',
  ];
  const fields = ['%{msec}t', '%m', '%U', '%q', '%>s', '%u', ...LOGGED.map((h) => `%{${h}}i`)];
  const lines = [
    `ServerRoot "${o.dir}"`,
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${o.port}`,
    `PidFile "${o.dir}/run/httpd.pid"`,
    `DefaultRuntimeDir "${o.dir}/run"`,
    ...modules.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
    ...(o.worker ? [`User ${o.worker.user}`, `Group ${o.worker.user}`] : []),
    'StartServers 2',
    'MinSpareServers 2',
    'MaxSpareServers 10',
    'MaxRequestWorkers 64',
    'Timeout 300',
    'KeepAlive On',
    'LimitRequestBody 0',
    `TypesConfig /etc/mime.types`,
    `ErrorLog "${o.dir}/error.log"`,
    'LogLevel warn',
    `LogFormat "${fields.join('\\t')}" connectors`,
    `CustomLog "${o.dir}/requests.log" connectors`,
    `DocumentRoot "${o.dir}/www"`,
    `SetEnv CONNECTORS_MAVEN_ROOT "${o.dir}/maven"`,
    `<Directory "${o.dir}/www">`,
    '  Require all granted',
    '</Directory>',
    // Nexus' status endpoint and Artifactory's ping and repository list, as the classes probe them.
    `Alias /service/rest/v1/status "${o.dir}/www/status.json"`,
    '<Location /service/rest/v1/status>',
    ...auth(o.dir),
    '</Location>',
    `Alias /artifactory/api/system/ping "${o.dir}/www/ping.txt"`,
    `Alias /artifactory/api/repositories "${o.dir}/www/repositories.json"`,
    '<Location /artifactory/api/repositories>',
    ...auth(o.dir),
    '</Location>',
  ];
  for (const name of Object.keys(o.opts.maven ?? {})) {
    const d = `${o.dir}/maven/${name}`;
    lines.push(`Alias /repository/${name} "${d}"`, `Alias /artifactory/${name} "${d}"`);
  }
  lines.push(
    `ScriptAlias /connectors-put "${o.dir}/cgi/put.sh"`,
    `<Directory "${o.dir}/cgi">`,
    '  Require all granted',
    '</Directory>',
    `<Directory "${o.dir}/maven">`,
    '  Options Indexes',
    '  AllowOverride None',
    '  Script PUT /connectors-put',
    ...auth(o.dir),
    '</Directory>',
  );
  const npm = o.opts.npm;
  if (npm) {
    // verdaccio writes tarball URLs on the host it was asked for (apache's X-Forwarded-Host: the front).
    for (const prefix of [NEXUS_NPM, JFROG_NPM])
      lines.push(...backend(prefix, npm, front, [`s|${front}/|${front}${prefix}|n`, `s|${npm}/|${front}${prefix}|n`]));
  }
  const pypi = o.opts.pypi;
  if (pypi) {
    // pypiserver links to /packages/... from the root; Nexus and Artifactory answer relative links.
    for (const prefix of [NEXUS_PYPI, JFROG_PYPI])
      lines.push(...backend(prefix, pypi, front, ['s|href="/packages/|href="../../packages/|n']));
  }
  return lines.join('\n') + '\n';
}

export async function startRepoServer(opts: RepoServerOptions): Promise<RepoServer> {
  if (!existsSync(APACHE))
    throw new Error(`${APACHE} is missing: run ensureSystemPackages(TEST_SYSTEM_PACKAGES) first`);
  const dir = await mkdtemp(join(tmpdir(), 'connectors-repo-'));
  await chmod(dir, 0o755);
  for (const d of ['run', 'www', 'maven', 'cgi']) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  await writeFile(join(dir, 'cgi', 'put.sh'), PUT_CGI, { mode: 0o755 });
  await writeFile(join(dir, 'www', 'index.html'), '<html><body>connectors test repository server</body></html>\n');
  await writeFile(join(dir, 'www', 'status.json'), '{}\n');
  await writeFile(join(dir, 'www', 'ping.txt'), 'OK');
  await writeFile(
    join(dir, 'www', 'repositories.json'),
    JSON.stringify(Object.keys(opts.maven ?? {}).map((key) => ({ key, type: 'LOCAL', packageType: 'Maven' }))) + '\n',
  );
  for (const [name, seed] of Object.entries(opts.maven ?? {})) {
    const d = join(dir, 'maven', name);
    if (seed) await cp(seed, d, { recursive: true });
    else await mkdir(d, { recursive: true });
  }
  await writeHtpasswd(join(dir, 'htpasswd'), opts.users);
  await writeFile(join(dir, 'requests.log'), '');
  const w = worker();
  if (w) await runCommand('chown', ['-R', `${w.uid}:${w.gid}`, join(dir, 'maven'), join(dir, 'run')]);

  let peer: PeerProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !peer; attempt++) {
    port = await freePort();
    await writeFile(join(dir, 'httpd.conf'), config({ dir, port, worker: w, opts }));
    const p = spawnPeer(APACHE, ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
      cleanupDir: dir,
    });
    if (await waitForPort(p, port)) peer = p;
    else {
      await p.stop();
      const log = existsSync(join(dir, 'error.log')) ? await readFile(join(dir, 'error.log'), 'utf8') : '';
      if (!/Address already in use|could not bind/i.test(p.output() + log))
        throw new Error(`apache2 failed to start:\n${p.output()}\n${log}`);
    }
  }
  if (!peer) throw new Error('apache2 could not get a free port after 5 attempts');
  const running = peer;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    mavenDir: (name) => join(dir, 'maven', name),
    async setUsers(users) {
      const tmp = join(dir, 'htpasswd.new');
      await writeHtpasswd(tmp, users);
      await runCommand('mv', ['-f', tmp, join(dir, 'htpasswd')]);
    },
    requests: async () => parseRequestLog(await readFile(join(dir, 'requests.log'), 'utf8'), LOGGED),
    clearRequests: () => writeFile(join(dir, 'requests.log'), ''),
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
