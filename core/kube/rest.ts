// A small JSON REST client for the Kubernetes API over undici, with the kubeconfig's TLS and credentials.
// Used where client-node's generated clients are too heavy (hot paths such as TokenReview in the proxy)
// or do not exist (arbitrary list paths for caches).
import { Agent, request } from 'undici';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly body: unknown;
  constructor(statusCode: number, method: string, path: string, body: unknown) {
    const message = (body as { message?: string })?.message ?? (typeof body === 'string' ? body.slice(0, 300) : '');
    super(`${method} ${path}: ${statusCode}${message ? ' ' + message : ''}`);
    this.statusCode = statusCode;
    this.body = body;
  }
}

export interface KubeRest {
  server: string;
  call<T = unknown>(
    method: string,
    path: string,
    opts?: { body?: unknown; query?: Record<string, string | undefined>; contentType?: string },
  ): Promise<T>;
  /** GET that resolves to undefined when the object does not exist (404). */
  getIfExists<T = unknown>(path: string): Promise<T | undefined>;
  close(): Promise<void>;
}

export async function kubeRest(kc: KubeConfig): Promise<KubeRest> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
  const agent = new Agent({
    connect: {
      ca: opts.ca as string | undefined,
      cert: opts.cert as string | undefined,
      key: opts.key as string | undefined,
      rejectUnauthorized: !cluster.skipTLSVerify,
    },
    keepAliveTimeout: 30_000,
    connections: 64,
  });
  const server = cluster.server.replace(/\/$/, '');
  const rest: KubeRest = {
    server,
    async getIfExists<T>(path: string) {
      try {
        return await rest.call<T>('GET', path);
      } catch (err) {
        if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
        throw err;
      }
    },
    async call<T>(
      method: string,
      path: string,
      o: { body?: unknown; query?: Record<string, string | undefined>; contentType?: string } = {},
    ) {
      const url = new URL(server + path);
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
      const res = await request(url, {
        method: method as 'GET',
        dispatcher: agent,
        headers: {
          ...headers,
          accept: 'application/json',
          ...(o.body !== undefined ? { 'content-type': o.contentType ?? 'application/json' } : {}),
        },
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text for the error
      }
      if (res.statusCode >= 400) throw new KubeApiError(res.statusCode, method, path, parsed);
      return parsed as T;
    },
    close: () => agent.close(),
  };
  return rest;
}
