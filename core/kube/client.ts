// The one REST client every component uses to talk to the Kubernetes API server: JSON over node:https with the
// kubeconfig's TLS and credentials, typed calls on resource types (resources.ts) and a streaming call for
// watches (watch.ts). node:https rather than undici: the proxy talks to the API server only to list, watch and
// review, and undici's module graph alone cost it ~10-25 MiB of resident memory.
//
// Credentials are read from the kubeconfig when the client is first used and again at most every minute
// and after any 401, so rotating credentials (the in-cluster ServiceAccount token file, exec plugins) keep
// working in a long-running process. A changed client certificate replaces the connection pool.
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { Agent as NodeHttpAgent, request as httpRequest } from '../util/node-http.ts';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { KeyObject } from 'node:tls';
import { counter } from '../observability/metrics.ts';
import { resourcePath, type ObjectOf, type PathOptions, type ResourceType } from './resources.ts';
import type { KubeList, KubeObject, Status } from './types.ts';

/**
 * What the client needs of a kubeconfig: the current cluster and the TLS options and headers of its user.
 * `@kubernetes/client-node`'s KubeConfig has this shape, and so does core/kube/kubeconfig.ts's.
 */
export interface KubeAccess {
  getCurrentCluster(): { server: string; skipTLSVerify?: boolean } | null;
  applyToHTTPSOptions(opts: HttpsRequestOptions): Promise<void>;
}

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly body: unknown;
  /** metav1.Status reason (NotFound, AlreadyExists, Conflict, Expired, ...), when the server gave one. */
  readonly reason: string | undefined;
  constructor(statusCode: number, method: string, path: string, body: unknown) {
    const message = (body as Status)?.message ?? (typeof body === 'string' ? body.slice(0, 300) : '');
    super(`${method} ${path}: ${statusCode}${message ? ' ' + message : ''}`);
    this.statusCode = statusCode;
    this.body = body;
    this.reason = (body as Status)?.reason;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 409;
/** 410 Gone: a resourceVersion too old to watch or list from (compacted). */
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 410;

export type Query = Record<string, string | undefined>;

export interface CallOptions {
  body?: unknown;
  query?: Query;
  contentType?: string;
  signal?: AbortSignal;
}

/** The untyped surface (kept for callers that build paths themselves; new code uses the typed calls). */
export interface KubeRest {
  server: string;
  call<T = unknown>(method: string, path: string, opts?: CallOptions): Promise<T>;
  /** GET that resolves to undefined when the object does not exist (404). */
  getIfExists<T = unknown>(path: string): Promise<T | undefined>;
  close(): Promise<void>;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** The field manager of every write this project makes with server-side apply. */
export const FIELD_MANAGER = 'connectors';

/** An open streaming response (a watch): the caller reads the body and destroys it when done. */
export interface StreamResponse {
  statusCode: number;
  body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown };
}

/** A response whose head has arrived. */
interface RawResponse {
  statusCode: number;
  body: IncomingMessage;
}

/** A response body as JSON when it parses, else as the text itself (an empty body: undefined). */
function jsonOrText(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The whole body as text (UTF-8). */
async function readText(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface KubeClientOptions {
  /** Connections per API server (default 64; every open watch holds one). */
  connections?: number;
  /** How long credentials read from the kubeconfig are reused (default 60 s). */
  credentialsTtlMs?: number;
  /** Longest silence of the API server in a call other than a watch, before its response ends (default 5 min). */
  idleTimeoutMs?: number;
}

const requestsTotal = () =>
  counter(
    'connectors_kube_requests_total',
    'Requests to the Kubernetes API server by verb, resource and HTTP status code.',
    ['verb', 'resource', 'code'],
  );

/** `watch connectors`, `get secrets`, ... — the metric labels of a request. */
function describe(method: string, path: string, query?: Query): { verb: string; resource: string } {
  const parts = path.split('?')[0].split('/').filter(Boolean);
  // /api/v1/... or /apis/group/version/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : [];
  if (rest[0] === 'namespaces' && rest.length > 2) rest.splice(0, 2);
  const resource = rest.length ? rest[0] + (rest.length > 2 ? `/${rest[2]}` : '') : '(non-resource)';
  const named = rest.length > 1;
  let verb = method.toLowerCase();
  if (method === 'GET') verb = query?.watch ? 'watch' : named ? 'get' : 'list';
  else if (method === 'POST') verb = 'create';
  else if (method === 'PUT') verb = 'update';
  return { verb, resource };
}

interface Credentials {
  headers: Record<string, string>;
  servername?: string;
  ca?: string;
  cert?: string;
  key?: string;
  at: number;
}

export class KubeClient implements KubeRest {
  readonly server: string;
  private readonly access: KubeAccess;
  private readonly skipTLSVerify: boolean;
  private readonly connections: number;
  private readonly ttlMs: number;
  private cached: Credentials | undefined;
  private loading: Promise<Credentials> | undefined;
  private readonly idleTimeoutMs: number;
  private agent: HttpAgent | undefined;
  private agentIdentity = '';
  private closed = false;

  constructor(access: KubeAccess, opts: KubeClientOptions = {}) {
    const cluster = access.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    this.access = access;
    this.server = cluster.server.replace(/\/+$/, '');
    this.skipTLSVerify = Boolean(cluster.skipTLSVerify);
    this.connections = opts.connections ?? 64;
    this.ttlMs = opts.credentialsTtlMs ?? 60_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
  }

  private async readCredentials(): Promise<Credentials> {
    const opts: HttpsRequestOptions = {};
    await this.access.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    // The kubeconfig loader sets each of these to one string or Buffer; a list is joined as String() would.
    type PemSource = string | Buffer | KeyObject | Array<string | Buffer | KeyObject> | undefined;
    const pem = (v: PemSource): string | undefined =>
      v === undefined
        ? undefined
        : Array.isArray(v)
          ? v.map((e) => pem(e)).join(',')
          : typeof v === 'string'
            ? v
            : Buffer.isBuffer(v)
              ? v.toString('utf8')
              : pem(v.pem);
    return {
      headers,
      servername: opts.servername ?? undefined,
      ca: pem(opts.ca),
      cert: pem(opts.cert),
      key: pem(opts.key),
      at: Date.now(),
    };
  }

  /** Credentials and the connection pool for them: re-read after the TTL, or at once with `refresh`. */
  private async current(refresh = false): Promise<{ creds: Credentials; agent: HttpAgent }> {
    const cached = this.cached;
    if (cached && this.agent && !refresh && Date.now() - cached.at <= this.ttlMs)
      return { creds: cached, agent: this.agent };
    this.loading ??= this.readCredentials().finally(() => (this.loading = undefined));
    let creds: Credentials;
    try {
      creds = await this.loading;
    } catch (err) {
      // A failed re-read (an exec plugin that is down) keeps the last credentials until they are refused.
      if (!cached || refresh) throw err;
      creds = { ...cached, at: Date.now() };
    }
    this.cached = creds;
    const identity = `${creds.servername ?? ''}\u0000${creds.ca ?? ''}\u0000${creds.cert ?? ''}\u0000${creds.key ?? ''}`;
    if (!this.agent || identity !== this.agentIdentity) {
      // The old pool is dropped, not destroyed: its requests (watches too) finish, its idle connections time out.
      const pool = { keepAlive: true, maxSockets: this.connections, maxFreeSockets: 16, timeout: 30_000 };
      this.agent = this.server.startsWith('https:')
        ? new HttpsAgent({
            ...pool,
            ca: creds.ca,
            cert: creds.cert,
            key: creds.key,
            servername: creds.servername,
            rejectUnauthorized: !this.skipTLSVerify,
          })
        : new NodeHttpAgent(pool);
      this.agentIdentity = identity;
    }
    return { creds, agent: this.agent };
  }

  private async send(method: string, path: string, o: CallOptions & { stream?: boolean }): Promise<RawResponse> {
    if (this.closed) throw new Error(`${method} ${path}: the Kubernetes client is closed`);
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    const attempt = async (refresh: boolean): Promise<RawResponse> => {
      const { creds, agent } = await this.current(refresh);
      const headers: Record<string, string> = { ...creds.headers, accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = o.contentType ?? 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      return new Promise<RawResponse>((resolve, reject) => {
        const req = send(url, { method, agent, headers, signal: o.signal }, (res) => {
          // A failure while the body is read reaches its reader (an error of the stream), not this promise.
          resolve({ statusCode: res.statusCode ?? 0, body: res });
        });
        req.once('error', reject);
        // A watch is quiet for minutes between events: watch.ts keeps its own idle deadline.
        if (!o.stream)
          req.setTimeout(this.idleTimeoutMs, () =>
            req.destroy(new Error(`${method} ${path}: no answer from the API server for ${this.idleTimeoutMs} ms`)),
          );
        req.end(body);
      });
    };
    let res = await attempt(false);
    if (res.statusCode === 401) {
      // Credentials may have rotated (token file, exec plugin): read them again once.
      res.body.resume();
      res = await attempt(true);
    }
    const { verb, resource } = describe(method, path, o.query);
    requestsTotal().inc({ verb, resource, code: String(res.statusCode) });
    return res;
  }

  async call<T = unknown>(method: string, path: string, o: CallOptions = {}): Promise<T> {
    const res = await this.send(method, path, o);
    const parsed = jsonOrText(await readText(res.body));
    if (res.statusCode >= 400) throw new KubeApiError(res.statusCode, method, path, parsed);
    return parsed as T;
  }

  async getIfExists<T = unknown>(path: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** A streaming GET (watch.ts): the caller reads and closes the body. Errors (>= 400) are thrown, body read. */
  async stream(path: string, query: Query, signal?: AbortSignal): Promise<StreamResponse> {
    const res = await this.send('GET', path, { query, signal, stream: true });
    if (res.statusCode >= 400) {
      const text = await readText(res.body).catch(() => '');
      throw new KubeApiError(res.statusCode, 'GET', path, jsonOrText(text));
    }
    return res;
  }

  // ---- typed calls on resource types

  get<R extends ResourceType>(r: R, name: string, namespace?: string): Promise<ObjectOf<R>> {
    return this.call<ObjectOf<R>>('GET', resourcePath(r, { namespace, name }));
  }

  /** The object, or undefined when it does not exist. */
  async find<R extends ResourceType>(r: R, name: string, namespace?: string): Promise<ObjectOf<R> | undefined> {
    return this.getIfExists<ObjectOf<R>>(resourcePath(r, { namespace, name }));
  }

  list<R extends ResourceType>(r: R, o: ListOptions = {}): Promise<KubeList<ObjectOf<R>>> {
    return this.call<KubeList<ObjectOf<R>>>('GET', resourcePath(r, { namespace: o.namespace }), {
      query: {
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
        limit: o.limit === undefined ? undefined : String(o.limit),
        continue: o.continue,
        resourceVersion: o.resourceVersion,
      },
    });
  }

  /** POST to the collection of the object's namespace (or `namespace`). */
  create<R extends ResourceType>(r: R, obj: ObjectOf<R>, namespace?: string): Promise<ObjectOf<R>> {
    const ns = namespace ?? (obj as KubeObject).metadata?.namespace;
    return this.call<ObjectOf<R>>('POST', resourcePath(r, { namespace: ns }), { body: obj });
  }

  /** PUT; `metadata.resourceVersion` guards against lost updates. */
  replace<R extends ResourceType>(r: R, obj: ObjectOf<R>): Promise<ObjectOf<R>> {
    const m = (obj as KubeObject).metadata ?? {};
    return this.call<ObjectOf<R>>('PUT', resourcePath(r, { namespace: m.namespace, name: m.name }), { body: obj });
  }

  /** PUT of the status subresource; `metadata.resourceVersion` guards against lost updates. */
  replaceStatus<R extends ResourceType>(r: R, obj: ObjectOf<R>): Promise<ObjectOf<R>> {
    const m = (obj as KubeObject).metadata ?? {};
    return this.call<ObjectOf<R>>(
      'PUT',
      resourcePath(r, { namespace: m.namespace, name: m.name, subresource: 'status' }),
      { body: obj },
    );
  }

  patch<R extends ResourceType>(
    r: R,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    type: PatchType = 'merge',
    o: { subresource?: string; fieldManager?: string; force?: boolean } = {},
  ): Promise<ObjectOf<R>> {
    return this.call<ObjectOf<R>>('PATCH', resourcePath(r, { namespace, name, subresource: o.subresource }), {
      body: patch,
      contentType: PATCH_CONTENT_TYPES[type],
      query: {
        fieldManager: o.fieldManager ?? (type === 'apply' ? FIELD_MANAGER : undefined),
        force: o.force === undefined ? undefined : String(o.force),
      },
    });
  }

  /** DELETE; false when the object was already gone. */
  async delete(r: ResourceType, name: string, namespace?: string): Promise<boolean> {
    try {
      await this.call('DELETE', resourcePath(r, { namespace, name }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** POST to a subresource (a ServiceAccount's `token`, ...). */
  createSubresource<T>(
    r: ResourceType,
    name: string,
    namespace: string | undefined,
    subresource: string,
    body: unknown,
  ) {
    return this.call<T>('POST', resourcePath(r, { namespace, name, subresource }), { body });
  }

  /** A path of this resource type (for the rare call the typed methods do not cover). */
  path(r: ResourceType, o?: PathOptions): string {
    return resourcePath(r, o);
  }

  close(): Promise<void> {
    this.closed = true;
    this.agent?.destroy();
    this.agent = undefined;
    return Promise.resolve();
  }
}

/** A client for a kubeconfig (nothing is read or connected until the first call). */
export function kubeClient(access: KubeAccess, opts?: KubeClientOptions): KubeClient {
  return new KubeClient(access, opts);
}
