// A real OCI registry for tests: Debian's docker-registry (CNCF distribution 2.8) on a free loopback port, with
// filesystem storage in a temp dir, deletes enabled, and either htpasswd (bcrypt) auth or token auth against a
// token server that runs in this process (distribution's token spec: Basic credentials in, RS256 JWT out).
//
// Requests to the registry go through a transparent recording relay in this process (`url`), so tests can
// assert exactly which headers the registry received; `directUrl` is the registry itself. The token server
// records its requests too.
//
// distribution 2.8 token rules (registry/auth/token/token.go, libtrust util.go):
// - the JWT header must carry `x5c` (chain to rootcertbundle), `jwk`, or `kid`; a `kid` must equal the libtrust
//   key ID of a certificate's public key in rootcertbundle: base32(SHA-256(DER SubjectPublicKeyInfo)[:30]) in
//   12 groups of 4 joined by ':';
// - `aud` must be a single string equal to the configured service (a JSON array fails to parse in 2.8);
// - `iss` must equal the configured issuer; `exp`/`nbf` are integers checked with 60 s leeway;
// - `access` lists {type, name, actions} and must cover every action the request needs.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  randomFillSync,
  sign,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
// @peculiar/x509 v2 resolves its services through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { writeHtpasswd } from './htpasswd.ts';
import { freePort, runCommand, spawnPeer, waitForPort, type PeerProcess } from './process.ts';

export const DOCKER_REGISTRY = '/usr/bin/docker-registry';
export const TOKEN_SERVICE = 'connectors-test-registry';
export const TOKEN_ISSUER = 'connectors-test-token-server';

export interface AccessRequest {
  type: string;
  name: string;
  actions: string[];
}

/** Which of the requested actions a user (undefined: anonymous) gets. */
export type AccessPolicy = (user: string | undefined, request: AccessRequest) => string[];

/** Default policy: every authenticated user gets every requested action; anonymous gets nothing. */
export const allowAuthenticated: AccessPolicy = (user, req) => (user === undefined ? [] : req.actions);

export interface RegistryOptions {
  auth: 'htpasswd' | 'token';
  users: Record<string, string>;
  /**
   * Token mode only: which actions a user gets (default: allowAuthenticated); the token carries the intersection
   * with what was requested. htpasswd mode has no authorisation: every listed user may pull and push.
   */
  access?: AccessPolicy;
  /** Token mode: lifetime of issued tokens in seconds (default 300; the spec's floor of 60 is enforced). */
  tokenExpiresIn?: number;
  /** Keep the temp dir after stop() (debugging). */
  keep?: boolean;
  /**
   * Blob GET/HEAD answered with a 307 to a separate storage server (distribution's `redirect` storage
   * middleware), as registries on object storage (S3, GCS) do. The storage server is a recording static file
   * server over the registry's storage directory, on another origin; see `storageUrl`/`storageRequests`.
   */
  redirectBlobs?: boolean;
  /**
   * Serve the registry's address (`url`) and the token service over HTTPS with this certificate (PEM), e.g. one
   * from a private CA (custom CA tests). The registry behind the relay stays plain HTTP on `directUrl`.
   */
  tls?: { certPem: string; keyPem: string };
}

export interface RecordedHttpRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Status the server answered with (set once the response started). */
  status?: number;
  receivedAt: number;
}

export interface TokenRequestRecord extends RecordedHttpRequest {
  /** Form body of a POST (OAuth2 style), else empty. */
  form: URLSearchParams;
  /** User whose Basic credentials (or password grant) were accepted, if any. */
  user?: string;
  /** Scopes requested, as sent. */
  scopes: string[];
  /** Access granted in the issued token. */
  granted: AccessRequest[];
  offlineToken: boolean;
  clientId?: string;
}

export interface PushedImage {
  /** `127.0.0.1:PORT/repo:tag` on the registry's recorded address. */
  ref: string;
  /** sha256 digest of the manifest. */
  digest: string;
  manifest: Buffer;
  /** Total bytes of blobs (config + layers). */
  blobBytes: number;
}

export interface Registry {
  /** `http://127.0.0.1:PORT` of the recording relay in front of the registry (use this one). */
  url: string;
  /** `127.0.0.1:PORT` of `url`, the registry host part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT` of docker-registry itself (not recorded). */
  directUrl: string;
  auth: 'htpasswd' | 'token';
  /** Token mode: `http://127.0.0.1:PORT/token`, the realm the registry advertises. */
  tokenRealm?: string;
  service: string;
  /** PEM of the certificate the registry trusts for tokens (token mode). */
  tokenCertificatePem?: string;
  /** Requests the registry received through `url`, oldest first. */
  requests: RecordedHttpRequest[];
  /** Requests the token server received (token mode), oldest first. */
  tokenRequests: TokenRequestRecord[];
  /** With redirectBlobs: `http://localhost:PORT` of the blob storage server the registry redirects to. */
  storageUrl?: string;
  /** With redirectBlobs: requests the storage server received. */
  storageRequests: RecordedHttpRequest[];
  clearRequests(): void;
  /** Mint a registry token directly (token mode), e.g. for a test acting as an already-authorised client. */
  issueToken(user: string | undefined, access: AccessRequest[], expiresIn?: number): string;
  /**
   * Builds an OCI image (one random layer; `sizeBytes` of incompressible data for benchmarks) and pushes it with
   * `skopeo copy` to `<host>/<repoAndTag>`, with the credentials of `user` (default: the first user).
   */
  pushTestImage(repoAndTag: string, opts?: { sizeBytes?: number; user?: string }): Promise<PushedImage>;
  /** Docker-registry's own log output (last 64 KiB). */
  logs(): string;
  stop(): Promise<void>;
}

interface SigningMaterial {
  privateKey: KeyObject;
  kid: string;
  certPem: string;
}

/** libtrust key ID of a public key: base32(sha256(SPKI DER)[:30]) in 4-character groups joined by ':'. */
export function libtrustKeyId(spkiDer: Buffer): string {
  const b32 = base32(createHash('sha256').update(spkiDer).digest().subarray(0, 30));
  return b32.match(/.{1,4}/g)!.join(':');
}

function base32(buf: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

async function makeSigningMaterial(): Promise<SigningMaterial> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(8)
        .toString('hex')
        .replace(/^[89a-f]/, '1'),
      name: 'CN=connectors test registry token signer',
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 7 * 86400_000),
      keys,
      signingAlgorithm: alg,
    },
    webcrypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, kid: libtrustKeyId(spki), certPem: cert.toString('pem') + '\n' };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function signJwt(m: SigningMaterial, claims: Record<string, unknown>): string {
  const header = { typ: 'JWT', alg: 'RS256', kid: m.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), m.privateKey))}`;
}

/** Parses `repository:name:pull,push` (names may contain ':' e.g. host:port; type may be `repository(plugin)`). */
export function parseScope(scope: string): AccessRequest | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  return {
    type,
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function trackSockets(server: Server): () => void {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return () => {
    for (const s of sockets) s.destroy();
  };
}

function close(server: Server, destroy: () => void): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    destroy();
  });
}

/** An HTTP server, or HTTPS with the registry's `tls` certificate. */
function serve(opts: RegistryOptions, handler: RequestListener): Server {
  return opts.tls
    ? createHttpsServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, handler)
    : createHttpServer(handler);
}

export async function startRegistry(opts: RegistryOptions): Promise<Registry> {
  if (!existsSync(DOCKER_REGISTRY))
    throw new Error(`${DOCKER_REGISTRY} is missing: run ensureSystemPackages(TEST_SYSTEM_PACKAGES) first`);
  const dir = await mkdtemp(join(tmpdir(), 'connectors-registry-'));
  await mkdir(join(dir, 'storage'));
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
  };
  try {
    return await startInDir(opts, dir, cleanups, stopAll);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startInDir(
  opts: RegistryOptions,
  dir: string,
  cleanups: Array<() => Promise<void>>,
  stopAll: () => Promise<void>,
): Promise<Registry> {
  const policy = opts.access ?? allowAuthenticated;
  const expiresIn = Math.max(60, opts.tokenExpiresIn ?? 300);
  const tokenRequests: TokenRequestRecord[] = [];
  const requests: RecordedHttpRequest[] = [];
  let signing: SigningMaterial | undefined;
  let tokenRealm: string | undefined;
  const refreshTokens = new Map<string, string>();

  const issueToken = (user: string | undefined, access: AccessRequest[], lifetime = expiresIn): string => {
    if (!signing) throw new Error('issueToken needs a registry started with auth: token');
    const now = Math.floor(Date.now() / 1000);
    return signJwt(signing, {
      iss: TOKEN_ISSUER,
      sub: user ?? '',
      aud: TOKEN_SERVICE,
      exp: now + lifetime,
      nbf: now - 5,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    });
  };

  const auth: Record<string, unknown> = {};
  if (opts.auth === 'htpasswd') {
    await writeHtpasswd(join(dir, 'htpasswd'), opts.users);
    auth.htpasswd = { realm: 'connectors-test-registry', path: join(dir, 'htpasswd') };
  } else {
    signing = await makeSigningMaterial();
    await writeFile(join(dir, 'token-ca.pem'), signing.certPem);
    const tokenServer = serve(opts, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://token.invalid');
        const isForm =
          req.method === 'POST' && /application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '');
        const form = new URLSearchParams(isForm ? Buffer.concat(chunks).toString('utf8') : '');
        const params = req.method === 'POST' ? form : url.searchParams;
        const scopes =
          req.method === 'POST'
            ? (form.get('scope') ?? '').split(' ').filter(Boolean)
            : url.searchParams.getAll('scope');
        const rec: TokenRequestRecord = {
          method: req.method ?? '',
          url: req.url ?? '/',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          receivedAt: Date.now(),
          form,
          scopes,
          granted: [],
          offlineToken: params.get('offline_token') === 'true' || params.get('access_type') === 'offline',
          clientId: params.get('client_id') ?? undefined,
        };
        tokenRequests.push(rec);
        const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          rec.status = status;
          const text = JSON.stringify(body);
          res.writeHead(status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            ...headers,
          });
          res.end(text);
        };
        if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
          return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'token endpoint is /token' }] });
        }
        const service = params.get('service');
        if (service && service !== TOKEN_SERVICE) {
          return reply(400, { errors: [{ code: 'DENIED', message: `unknown service ${service}` }] });
        }
        // Who is asking: Basic credentials (GET or POST), an OAuth2 password grant, or a refresh token.
        let user: string | undefined;
        const denied = () =>
          reply(
            401,
            { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
            {
              'www-authenticate': 'Basic realm="connectors-test-token-server"',
            },
          );
        const grant = req.method === 'POST' ? form.get('grant_type') : null;
        if (grant === 'refresh_token') {
          user = refreshTokens.get(form.get('refresh_token') ?? '');
          if (user === undefined) return denied();
        } else if (grant === 'password') {
          const u = form.get('username') ?? '';
          if (!(u in opts.users) || opts.users[u] !== form.get('password')) return denied();
          user = u;
        } else if (grant !== null) {
          return reply(400, { errors: [{ code: 'UNSUPPORTED', message: `unsupported grant_type ${grant}` }] });
        } else if (req.headers.authorization !== undefined) {
          const creds = parseBasic(req.headers.authorization);
          if (!creds || !(creds.user in opts.users) || opts.users[creds.user] !== creds.password) return denied();
          user = creds.user;
        }
        rec.user = user;
        for (const s of scopes) {
          const wanted = parseScope(s);
          if (!wanted) continue;
          const allowed = new Set(policy(user, wanted));
          const actions = wanted.actions.filter((a) => allowed.has(a) || allowed.has('*'));
          if (actions.length > 0) rec.granted.push({ type: wanted.type, name: wanted.name, actions });
        }
        const token = issueToken(user, rec.granted);
        const body: Record<string, unknown> = {
          token,
          access_token: token,
          expires_in: expiresIn,
          issued_at: new Date().toISOString(),
        };
        if (user !== undefined && (rec.offlineToken || grant !== null)) {
          const refresh = randomBytes(24).toString('base64url');
          refreshTokens.set(refresh, user);
          body.refresh_token = refresh;
        }
        reply(200, body);
      });
    });
    const tokenPort = await listen(tokenServer);
    const destroy = trackSockets(tokenServer);
    cleanups.push(() => close(tokenServer, destroy));
    tokenRealm = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${tokenPort}/token`;
    auth.token = {
      realm: tokenRealm,
      service: TOKEN_SERVICE,
      issuer: TOKEN_ISSUER,
      rootcertbundle: join(dir, 'token-ca.pem'),
    };
  }

  // Blob storage behind redirects: serves <storage>/docker/registry/v2/... by path, GET and HEAD, on
  // `localhost` (another origin than the registry's 127.0.0.1).
  const storageRequests: RecordedHttpRequest[] = [];
  let storageUrl: string | undefined;
  if (opts.redirectBlobs) {
    const storageRoot = join(dir, 'storage');
    const storage = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://storage.invalid');
      const rec: RecordedHttpRequest = {
        method: req.method ?? '',
        url: req.url ?? '/',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        receivedAt: Date.now(),
      };
      storageRequests.push(rec);
      const file = join(storageRoot, decodeURIComponent(url.pathname));
      if (!file.startsWith(storageRoot + '/') || file.includes('/../')) {
        rec.status = 400;
        res.writeHead(400).end();
        return;
      }
      stat(file).then(
        (st) => {
          rec.status = 200;
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
          if (req.method === 'HEAD') return res.end();
          createReadStream(file).pipe(res);
        },
        () => {
          rec.status = 404;
          res.writeHead(404, { 'content-length': 0 }).end();
        },
      );
    });
    const storagePort = await listen(storage);
    const destroyStorage = trackSockets(storage);
    cleanups.push(() => close(storage, destroyStorage));
    storageUrl = `http://localhost:${storagePort}`;
  }

  // docker-registry itself, on a free port (retried if another process takes the port first).
  let peer: PeerProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !peer; attempt++) {
    port = await freePort();
    const config = {
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: join(dir, 'storage') },
        delete: { enabled: true },
        cache: { blobdescriptor: 'inmemory' },
      },
      http: {
        addr: `127.0.0.1:${port}`,
        secret: randomBytes(16).toString('hex'),
        headers: { 'X-Content-Type-Options': ['nosniff'] },
      },
      auth,
      ...(storageUrl ? { middleware: { storage: [{ name: 'redirect', options: { baseurl: storageUrl } }] } } : {}),
      health: { storagedriver: { enabled: false } },
    };
    // YAML is a superset of JSON.
    await writeFile(join(dir, 'config.yml'), JSON.stringify(config, null, 2));
    const p = spawnPeer(DOCKER_REGISTRY, ['serve', join(dir, 'config.yml')], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      cleanupDir: opts.keep ? undefined : dir,
    });
    if (await waitForPort(p, port)) peer = p;
    else {
      await p.stop();
      if (!/address already in use/i.test(p.output()))
        throw new Error(`docker-registry failed to start:\n${p.output()}`);
    }
  }
  if (!peer) throw new Error('docker-registry could not get a free port after 5 attempts');
  const registryPeer = peer;
  cleanups.push(() => registryPeer.stop());
  const directUrl = `http://127.0.0.1:${port}`;

  // Transparent recording relay in front of the registry. Host is passed through unchanged, so the registry
  // builds Location headers for the relay's address.
  const relay = serve(opts, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay.invalid');
    const rec: RecordedHttpRequest = {
      method: req.method ?? '',
      url: req.url ?? '/',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      receivedAt: Date.now(),
    };
    requests.push(rec);
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      const value = req.rawHeaders[i + 1];
      const prev = headers[name];
      headers[name] = prev === undefined ? value : ([] as string[]).concat(prev, value);
    }
    // Behind a TLS relay the registry must build its Location URLs with https.
    if (opts.tls) headers['X-Forwarded-Proto'] = 'https';
    const upstream = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (ures) => {
      rec.status = ures.statusCode;
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, ures.rawHeaders);
      // A body cut short by the registry (e.g. its 416 answers declare a Content-Length they do not send, then
      // close) is cut short for the client too, as without the relay: never left hanging.
      pipeline(ures, res).catch(() => res.destroy());
    });
    upstream.on('error', (err) => {
      rec.status = 502;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`relay to docker-registry failed: ${err.message}`);
    });
    req.pipe(upstream);
  });
  const relayPort = await listen(relay);
  const destroyRelay = trackSockets(relay);
  cleanups.push(() => close(relay, destroyRelay));
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${relayPort}`;

  // Ready once the registry answers its API base.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await fetch(`${directUrl}/v2/`).catch(() => undefined);
    if (r && (r.status === 401 || r.status === 200)) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer /v2/:\n${registryPeer.output()}`);
    await new Promise((r2) => setTimeout(r2, 100));
  }

  const firstUser = Object.keys(opts.users)[0];
  return {
    url,
    host: `127.0.0.1:${relayPort}`,
    directUrl,
    auth: opts.auth,
    tokenRealm,
    service: opts.auth === 'token' ? TOKEN_SERVICE : 'connectors-test-registry',
    tokenCertificatePem: signing?.certPem,
    requests,
    tokenRequests,
    storageUrl,
    storageRequests,
    clearRequests() {
      requests.length = 0;
      tokenRequests.length = 0;
      storageRequests.length = 0;
    },
    issueToken,
    async pushTestImage(repoAndTag, o = {}) {
      const user = o.user ?? firstUser;
      if (user === undefined || !(user in opts.users)) throw new Error(`pushTestImage: unknown user ${String(user)}`);
      const work = await mkdtemp(join(tmpdir(), 'connectors-oci-'));
      try {
        const layout = await buildOciLayout(join(work, 'layout'), { sizeBytes: o.sizeBytes });
        const ref = `127.0.0.1:${relayPort}/${repoAndTag}`;
        await skopeo([
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          '--dest-creds',
          `${user}:${opts.users[user]}`,
          `oci:${layout.dir}:${layout.tag}`,
          `docker://${ref}`,
        ]);
        return { ref, digest: layout.digest, manifest: layout.manifest, blobBytes: layout.blobBytes };
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
    logs: () => registryPeer.output(),
    stop: stopAll,
  };
}

let policyFile: Promise<string> | undefined;

/** A containers-policy.json accepting anything, so skopeo needs no system configuration. */
function skopeoPolicy(): Promise<string> {
  policyFile ??= (async () => {
    const d = await mkdtemp(join(tmpdir(), 'connectors-skopeo-'));
    const p = join(d, 'policy.json');
    await writeFile(p, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
    return p;
  })();
  return policyFile;
}

/** Runs skopeo with a permissive signature policy and no user auth file. */
export async function skopeo(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  const policy = await skopeoPolicy();
  return runCommand('skopeo', ['--policy', policy, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), REGISTRY_AUTH_FILE: '/dev/null', ...env },
  });
}

export interface OciLayout {
  dir: string;
  tag: string;
  digest: string;
  manifest: Buffer;
  blobBytes: number;
}

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(
    Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0') + '\0',
    136,
  );
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/**
 * Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) with one gzip layer holding a small
 * text file and `sizeBytes` (default 1 KiB) of random bytes, streamed so large images cost no memory.
 */
export async function buildOciLayout(dir: string, o: { sizeBytes?: number; tag?: string } = {}): Promise<OciLayout> {
  const tag = o.tag ?? 'latest';
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const randomSize = Math.max(0, Math.floor(o.sizeBytes ?? 1024));
  const hello = Buffer.from(`connectors test image ${randomBytes(8).toString('hex')}\n`);
  const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
  function* tarParts(): Generator<Buffer> {
    yield tarHeader('hello.txt', hello.length);
    yield hello;
    yield pad(hello.length);
    yield tarHeader('random.bin', randomSize);
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (let left = randomSize; left > 0;) {
      const n = Math.min(chunk.length, left);
      yield Buffer.from(randomFillSync(chunk, 0, n).subarray(0, n));
      left -= n;
    }
    yield pad(randomSize);
    yield Buffer.alloc(1024);
  }
  const diffHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let gzSize = 0;
  const tmpLayer = join(dir, 'layer.tmp');
  await pipeline(
    Readable.from(tarParts()),
    new Transform({
      transform(c: Buffer, _e, cb) {
        diffHash.update(c);
        cb(null, c);
      },
    }),
    // Random data does not compress: level 0 keeps big benchmark images fast to build.
    createGzip({ level: randomSize > 16 * 1024 * 1024 ? 0 : 6 }),
    new Transform({
      transform(c: Buffer, _e, cb) {
        gzHash.update(c);
        gzSize += c.length;
        cb(null, c);
      },
    }),
    createWriteStream(tmpLayer),
  );
  const layerDigest = 'sha256:' + gzHash.digest('hex');
  const diffId = 'sha256:' + diffHash.digest('hex');
  await rm(join(blobs, layerDigest.slice(7)), { force: true });
  await runCommand('mv', [tmpLayer, join(blobs, layerDigest.slice(7))]);
  const config = Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/hello.txt'] },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: new Date().toISOString(), created_by: 'connectors test/support/peers/registry.ts' }],
    }),
  );
  const configDigest = sha256(config);
  await writeFile(join(blobs, configDigest.slice(7)), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: gzSize }],
    }),
  );
  const digest = sha256(manifest);
  await writeFile(join(blobs, digest.slice(7)), manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const layerSize = (await stat(join(blobs, layerDigest.slice(7)))).size;
  return { dir, tag, digest, manifest, blobBytes: layerSize + config.length };
}

/** The index.json of an OCI layout (written by buildOciLayout or by `skopeo copy ... oci:DIR`). */
export async function readLayoutIndex(
  dir: string,
): Promise<{ manifests: Array<{ digest: string; annotations?: Record<string, string> }> }> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
}
