// A real git smart-HTTP server for tests: Debian's `git http-backend` (CGI) behind apache2 with basic auth on
// every path, on a free loopback port. Push is enabled, protocol v2 works (apache passes the `Git-Protocol`
// header as GIT_PROTOCOL), gzip and chunked request bodies reach git http-backend as git sends them.
// Every request is logged by apache (method, path, query, status, user and the request headers that matter,
// including `Authorization` exactly as it arrived) and `requests()` parses that log.
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeHtpasswd } from './htpasswd.ts';
import { freePort, runCommand, spawnPeer, waitForPort, type PeerProcess } from './process.ts';

export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';
const APACHE = '/usr/sbin/apache2';
const APACHE_MODULES = '/usr/lib/apache2/modules';

export interface CreateRepoOptions {
  /** Files of the single commit on the default branch (path → content). Default: a README.md. */
  files?: Record<string, string | Buffer>;
  /**
   * Adds about this many bytes of incompressible (random) blobs to the commit, in 8 MiB files under `blobs/`,
   * stored uncompressed and undeltified so a clone transfers roughly this many bytes. For benchmarks.
   */
  sizeBytes?: number;
  /** Default branch name (default `main`). */
  branch?: string;
  /** A bare repository without any commit. */
  empty?: boolean;
}

export interface CreatedRepo {
  /** Path below the server root, e.g. `org/repo.git`. */
  path: string;
  /** `http://127.0.0.1:PORT/org/repo.git` (no credentials). */
  url: string;
  /** Commit id of the branch head (undefined for an empty repository). */
  head?: string;
  branch: string;
  /** Directory of the bare repository on disk. */
  dir: string;
}

export interface GitRequestRecord {
  /** Unix time in milliseconds when apache received the request. */
  time: number;
  method: string;
  /** Decoded URL path, e.g. `/org/repo.git/info/refs`. */
  path: string;
  /** Raw query string without `?` ('' when none). */
  query: string;
  status: number;
  /** User apache authenticated ('' when none). */
  user: string;
  /** Request headers as received, lower-case names; a header absent from the request is absent here. */
  headers: Record<string, string>;
}

export interface GitServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** GIT_PROJECT_ROOT on disk. */
  root: string;
  createRepo(path: string, opts?: CreateRepoOptions): Promise<CreatedRepo>;
  /** Repository URL with `user:password@` embedded, for a git client talking to the server directly. */
  authUrl(path: string, user: string, password: string): string;
  /** Replaces the accepted users (apache re-reads the htpasswd file on every request). */
  setUsers(users: Record<string, string>): Promise<void>;
  /** Every request apache logged so far, oldest first. */
  requests(): Promise<GitRequestRecord[]>;
  /** Forgets the requests logged so far. */
  clearRequests(): Promise<void>;
  stop(): Promise<void>;
}

export interface GitServerOptions {
  users: Record<string, string>;
  /** Repositories to create before returning. */
  repos?: Record<string, CreateRepoOptions>;
  /** Extra request headers to record besides the default set (see LOGGED_HEADERS). */
  logHeaders?: string[];
  /** Keep the temporary directory after stop() (debugging). */
  keep?: boolean;
  /** Serve HTTPS (mod_ssl) with this certificate chain and key (PEM) instead of plain HTTP. */
  tls?: { certPem: string; keyPem: string };
}

/** Request headers recorded for every request. */
export const LOGGED_HEADERS = [
  'Authorization',
  'Proxy-Authorization',
  'Git-Protocol',
  'Content-Type',
  'Content-Encoding',
  'Content-Length',
  'Transfer-Encoding',
  'Accept',
  'Accept-Encoding',
  'User-Agent',
  'Host',
  'Cookie',
  'X-Forwarded-For',
  'Expect',
];

/** The user apache's worker processes (and so git http-backend) run as when we start apache as root. */
function workerIdentity(): { user: string; uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'www-data'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0)
    throw new Error('apache runs as root here but the www-data user does not exist');
  return { user: 'www-data', uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function apacheConfig(o: {
  dir: string;
  port: number;
  worker?: { user: string };
  headers: string[];
  tls: boolean;
}): string {
  const modules = [
    'mpm_prefork',
    'authz_core',
    'authn_core',
    'authn_file',
    'auth_basic',
    'authz_user',
    'cgi',
    'env',
    'setenvif',
    'alias',
    ...(o.tls ? ['socache_shmcb', 'ssl'] : []),
  ];
  const fields = ['%{msec}t', '%m', '%U', '%q', '%>s', '%u', ...o.headers.map((h) => `%{${h}}i`)];
  return [
    `ServerRoot "${o.dir}"`,
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${o.port}`,
    ...(o.tls
      ? [
          'SSLEngine on',
          `SSLCertificateFile "${o.dir}/tls.crt"`,
          `SSLCertificateKeyFile "${o.dir}/tls.key"`,
          `SSLSessionCache "shmcb:${o.dir}/run/ssl_scache(512000)"`,
        ]
      : []),
    `PidFile "${o.dir}/run/httpd.pid"`,
    `DefaultRuntimeDir "${o.dir}/run"`,
    ...modules.map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`),
    ...(o.worker ? [`User ${o.worker.user}`, `Group ${o.worker.user}`] : []),
    'StartServers 2',
    'MinSpareServers 2',
    'MaxSpareServers 10',
    'MaxRequestWorkers 64',
    'Timeout 600',
    'KeepAlive On',
    'MaxKeepAliveRequests 0',
    'LimitRequestBody 0',
    `ErrorLog "${o.dir}/error.log"`,
    'LogLevel warn',
    `LogFormat "${fields.join('\\t')}" connectors`,
    `CustomLog "${o.dir}/requests.log" connectors`,
    `SetEnv GIT_PROJECT_ROOT "${o.dir}/repos"`,
    'SetEnv GIT_HTTP_EXPORT_ALL 1',
    `SetEnv GIT_CONFIG_GLOBAL "${o.dir}/gitconfig"`,
    'SetEnv GIT_CONFIG_NOSYSTEM 1',
    `SetEnv HOME "${o.dir}/home"`,
    'SetEnvIf Git-Protocol ".*" GIT_PROTOCOL=$0',
    `ScriptAlias / ${GIT_HTTP_BACKEND}/`,
    `<Directory "/usr/lib/git-core">`,
    '  Require all granted',
    '</Directory>',
    '<Location />',
    '  AuthType Basic',
    '  AuthName "connectors test git"',
    '  AuthBasicProvider file',
    `  AuthUserFile "${o.dir}/htpasswd"`,
    '  Require valid-user',
    '</Location>',
    '',
  ].join('\n');
}

const SERVER_GITCONFIG = [
  '[safe]',
  '\tdirectory = *',
  '[http]',
  '\treceivepack = true',
  '\tuploadpack = true',
  '[uploadpack]',
  '\tallowFilter = true',
  '\tallowAnySHA1InWant = true',
  '[receive]',
  '\tdenyCurrentBranch = ignore',
  '',
].join('\n');

/**
 * The request log once apache has stopped adding to it. Apache writes a request's line after it has sent the
 * response, so a client can be done before its last line is written: on a busy machine tests read the log
 * too early (and a truncation could come before a late line). Read until unchanged for 250 ms (at most 5 s).
 */
async function settledLog(path: string): Promise<string> {
  let last = await readFile(path, 'utf8');
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    await sleep(250);
    const now = await readFile(path, 'utf8');
    if (now === last) break;
    last = now;
  }
  return last;
}

export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  if (!existsSync(APACHE))
    throw new Error(`${APACHE} is missing: run ensureSystemPackages(TEST_SYSTEM_PACKAGES) first`);
  if (!existsSync(GIT_HTTP_BACKEND)) throw new Error(`${GIT_HTTP_BACKEND} is missing: install Debian git`);
  const dir = await mkdtemp(join(tmpdir(), 'connectors-git-'));
  await chmod(dir, 0o755);
  for (const d of ['repos', 'run', 'home']) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  await writeFile(join(dir, 'gitconfig'), SERVER_GITCONFIG, { mode: 0o644 });
  await writeHtpasswd(join(dir, 'htpasswd'), opts.users);
  await writeFile(join(dir, 'requests.log'), '');
  if (opts.tls) {
    await writeFile(join(dir, 'tls.crt'), opts.tls.certPem, { mode: 0o644 });
    await writeFile(join(dir, 'tls.key'), opts.tls.keyPem, { mode: 0o600 });
  }
  const worker = workerIdentity();
  const headers = [
    ...LOGGED_HEADERS,
    ...(opts.logHeaders ?? []).filter((h) => !LOGGED_HEADERS.some((l) => l.toLowerCase() === h.toLowerCase())),
  ];
  for (const h of headers) if (!/^[A-Za-z0-9-]+$/.test(h)) throw new Error(`invalid header name to log: ${h}`);
  if (worker) await runCommand('chown', ['-R', `${worker.uid}:${worker.gid}`, join(dir, 'home'), join(dir, 'repos')]);

  let peer: PeerProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !peer; attempt++) {
    port = await freePort();
    await writeFile(join(dir, 'httpd.conf'), apacheConfig({ dir, port, worker, headers, tls: Boolean(opts.tls) }));
    const p = spawnPeer(APACHE, ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
      cleanupDir: opts.keep ? undefined : dir,
    });
    if (await waitForPort(p, port)) peer = p;
    else {
      await p.stop();
      const log = existsSync(join(dir, 'error.log')) ? await readFile(join(dir, 'error.log'), 'utf8') : '';
      if (!/Address already in use|could not bind/i.test(p.output() + log)) {
        throw new Error(`apache2 failed to start:\n${p.output()}\n${log}`);
      }
    }
  }
  if (!peer) throw new Error('apache2 could not get a free port after 5 attempts');
  const scheme = opts.tls ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const running = peer;

  const server: GitServer = {
    url,
    port,
    root: join(dir, 'repos'),
    async createRepo(path, ropts = {}) {
      return createRepo(dir, url, path, ropts, worker);
    },
    authUrl(path, user, password) {
      return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${path.replace(/^\//, '')}`;
    },
    async setUsers(users) {
      const tmp = join(dir, 'htpasswd.new');
      await writeHtpasswd(tmp, users);
      await runCommand('mv', ['-f', tmp, join(dir, 'htpasswd')]);
    },
    async requests() {
      return parseRequestLog(await settledLog(join(dir, 'requests.log')), headers);
    },
    async clearRequests() {
      // Let the lines of requests just answered arrive first, or they would land after the truncation.
      await settledLog(join(dir, 'requests.log'));
      // Truncate in place: apache keeps the file open in O_APPEND mode.
      await writeFile(join(dir, 'requests.log'), '');
    },
    async stop() {
      await running.stop();
      if (!opts.keep) await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const [path, ropts] of Object.entries(opts.repos ?? {})) await server.createRepo(path, ropts);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Parses apache's log lines written with the `connectors` LogFormat (tab-separated, apache-escaped). */
export function parseRequestLog(text: string, headers: string[] = LOGGED_HEADERS): GitRequestRecord[] {
  const records: GitRequestRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split('\t').map(unescapeApache);
    const [time, method, path, query, status, user] = f;
    const h: Record<string, string> = {};
    headers.forEach((name, i) => {
      const v = f[6 + i];
      if (v !== undefined && v !== '-') h[name.toLowerCase()] = v;
    });
    records.push({
      time: Number(time),
      method,
      path,
      query: query.replace(/^\?/, ''),
      status: Number(status),
      user: user === '-' ? '' : user,
      headers: h,
    });
  }
  return records;
}

function unescapeApache(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  const src = Buffer.from(s, 'latin1');
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c !== 0x5c || i + 1 >= src.length) {
      bytes.push(c);
      continue;
    }
    const n = String.fromCharCode(src[i + 1]);
    if (n === 'x' && i + 3 < src.length) {
      bytes.push(parseInt(src.subarray(i + 2, i + 4).toString('latin1'), 16));
      i += 3;
    } else {
      const map: Record<string, number> = { '\\': 0x5c, '"': 0x22, t: 0x09, n: 0x0a, r: 0x0d, b: 0x08, v: 0x0b };
      bytes.push(map[n] ?? src[i + 1]);
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const BLOB_CHUNK = 8 * 1024 * 1024;

async function createRepo(
  serverDir: string,
  baseUrl: string,
  path: string,
  o: CreateRepoOptions,
  worker: { uid: number; gid: number } | undefined,
): Promise<CreatedRepo> {
  const rel = normalize(path).replace(/^\/+/, '');
  if (rel.startsWith('..') || !rel.endsWith('.git'))
    throw new Error(`repository path must be relative and end in .git: ${path}`);
  const repoDir = join(serverDir, 'repos', rel);
  if (existsSync(repoDir)) throw new Error(`repository ${rel} already exists`);
  await mkdir(dirname(repoDir), { recursive: true, mode: 0o755 });
  const branch = o.branch ?? 'main';
  const env = gitEnv(join(serverDir, 'gitconfig'), join(serverDir, 'home'));
  await runCommand('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, repoDir], { env });
  let head: string | undefined;
  if (!o.empty) {
    const files = o.files ?? (o.sizeBytes ? {} : { 'README.md': `# ${rel}\n` });
    head = await fastImport(repoDir, branch, files, o.sizeBytes ?? 0, env);
  }
  if (o.sizeBytes) {
    // Serving: never search deltas among the random blobs (pack-objects would spend most of a clone on it).
    await runCommand('git', ['--git-dir', repoDir, 'config', 'core.bigFileThreshold', '1m'], { env });
  }
  if (worker) await runCommand('chown', ['-R', `${worker.uid}:${worker.gid}`, repoDir]);
  return { path: rel, url: `${baseUrl}/${rel}`, head, branch, dir: repoDir };
}

function gitEnv(globalConfig: string, home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_GLOBAL: globalConfig,
    GIT_CONFIG_NOSYSTEM: '1',
    LANG: 'C',
  };
}

/**
 * Writes one commit with `files` plus `randomBytes` of random blobs straight into the bare repository with
 * `git fast-import` (no work tree), streaming the random data so big repositories cost no memory.
 * Compression 0 and no deltas: random data doesn't compress, and this keeps creation and serving fast.
 */
async function fastImport(
  repoDir: string,
  branch: string,
  files: Record<string, string | Buffer>,
  randomBytes: number,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const child = spawn(
    'git',
    [
      '-c',
      'core.compression=0',
      '-c',
      'pack.compression=0',
      'fast-import',
      '--quiet',
      '--big-file-threshold=1k',
      '--done',
    ],
    { cwd: repoDir, env: { ...env, GIT_DIR: repoDir }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const errChunks: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => errChunks.push(d));
  // get-mark answers on stdout (cat-blob-fd defaults to stdout).
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`git fast-import failed (exit ${code}): ${Buffer.concat(errChunks).toString()}`)),
    );
  });
  const stdin = child.stdin;
  let failed: Error | undefined;
  stdin.on('error', (e) => {
    failed = e;
  });
  const write = async (data: Buffer | string) => {
    if (failed) throw failed;
    if (stdin.write(data)) return;
    await new Promise<void>((resolve) => {
      const go = () => {
        stdin.off('drain', go);
        child.off('close', go);
        resolve();
      };
      stdin.on('drain', go);
      child.on('close', go);
    });
  };
  const entries: string[] = [];
  let mark = 0;
  for (const [name, content] of Object.entries(files)) {
    const buf = typeof content === 'string' ? Buffer.from(content) : content;
    mark++;
    await write(`blob\nmark :${mark}\ndata ${buf.length}\n`);
    await write(buf);
    await write('\n');
    entries.push(`M 100644 :${mark} ${quotePath(name)}\n`);
  }
  let remaining = Math.max(0, Math.floor(randomBytes));
  let index = 0;
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  while (remaining > 0) {
    const size = Math.min(BLOB_CHUNK, remaining);
    mark++;
    await write(`blob\nmark :${mark}\ndata ${size}\n`);
    for (let left = size; left > 0;) {
      const n = Math.min(chunk.length, left);
      // A fresh copy per write: the stream may still hold the previous buffer.
      await write(Buffer.from(randomFillSync(chunk, 0, n).subarray(0, n)));
      left -= n;
    }
    await write('\n');
    entries.push(`M 100644 :${mark} blobs/blob-${String(index).padStart(4, '0')}.bin\n`);
    remaining -= size;
    index++;
  }
  const msg = 'initial commit\n';
  const when = Math.floor(Date.now() / 1000);
  mark++;
  await write(
    `commit refs/heads/${branch}\nmark :${mark}\n` +
      `author Connectors Test <test@connectors.invalid> ${when} +0000\n` +
      `committer Connectors Test <test@connectors.invalid> ${when} +0000\n` +
      `data ${Buffer.byteLength(msg)}\n${msg}` +
      entries.join('') +
      '\n' +
      `get-mark :${mark}\ndone\n`,
  );
  stdin.end();
  await done;
  const head = Buffer.concat(out).toString('utf8').trim();
  if (!/^[0-9a-f]{40}$/.test(head)) throw new Error(`git fast-import returned no commit id: ${JSON.stringify(head)}`);
  return head;
}

function quotePath(p: string): string {
  if (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(p) || p.startsWith('"')) return JSON.stringify(p);
  return p;
}

/**
 * Environment for a git client in tests: no system or user config, no prompts, a fixed identity. Pass a
 * scratch `home`; anything set in `extra` wins.
 */
export function gitClientEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: join(home, '.gitconfig'),
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    GIT_AUTHOR_NAME: 'Connectors Test',
    GIT_AUTHOR_EMAIL: 'test@connectors.invalid',
    GIT_COMMITTER_NAME: 'Connectors Test',
    GIT_COMMITTER_EMAIL: 'test@connectors.invalid',
    LANG: 'C',
    ...extra,
  };
}
