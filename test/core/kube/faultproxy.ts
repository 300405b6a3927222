// A plain-HTTP pass-through to the real test apiserver (with the admin's client certificate), that records
// every request and can inject the faults a watch client must survive: cut the open watches, answer the
// next matching requests with an error status, or rewrite a watch's resourceVersion (to one the apiserver
// has compacted away), or answer a watch with the ERROR event the apiserver sends for an expired one.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestOptions } from 'node:https';
import { Agent, request } from 'undici';
import type { KubeAccess } from '../../../core/kube/client.ts';
import type { Cluster } from '@connectors/test-support';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  at: number;
  /** The status sent back. */
  status?: number;
  /** A fault rewrote its query before it was forwarded. */
  rewritten?: boolean;
}

export interface Fault {
  /** Which requests (default: all). */
  match?: (r: Recorded) => boolean;
  /** How many times (default 1; Infinity for all until cleared). */
  times?: number;
  /** Answer with this status and a metav1.Status body. */
  status?: number;
  /** Answer a watch with 200 and this one ERROR event (what the apiserver sends for an expired resourceVersion). */
  errorEvent?: { code: number; reason: string; message: string };
  /** Rewrite the query (e.g. resourceVersion) before forwarding. */
  rewrite?: (q: URLSearchParams) => void;
}

export interface FaultProxy {
  url: string;
  /** A KubeAccess for the proxy (no credentials: the proxy adds them). */
  access: KubeAccess;
  requests: Recorded[];
  /** Requests of one kind: `list` or `watch` on a path prefix. */
  count(verb: 'list' | 'watch', pathPrefix: string): number;
  inject(f: Fault): void;
  clearFaults(): void;
  /** Ends every open watch response abruptly (the TCP connection is destroyed). */
  cutWatches(): number;
  /** Watches open now on a path prefix. */
  openWatches(pathPrefix: string): number;
  close(): Promise<void>;
}

export const isWatch = (r: Recorded) => r.method === 'GET' && r.query.get('watch') === '1';
export const isList = (r: Recorded) => r.method === 'GET' && !isWatch(r);

export async function startFaultProxy(c: Cluster): Promise<FaultProxy> {
  const tls: RequestOptions = {};
  await c.kubeConfig.applyToHTTPSOptions(tls);
  const agent = new Agent({
    connect: { ca: tls.ca as string, cert: tls.cert as string, key: tls.key as string },
    connections: 128,
  });
  const authorization = (tls.headers as Record<string, string> | undefined)?.Authorization;
  const requests: Recorded[] = [];
  let faults: Array<Fault & { left: number }> = [];
  const watches = new Map<ServerResponse, Recorded>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const rec: Recorded = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, at: Date.now() };
    requests.push(rec);
    const fault = faults.find((f) => f.left > 0 && (!f.match || f.match(rec)));
    if (fault) fault.left--;
    if (fault?.status) {
      rec.status = fault.status;
      const body = JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message: 'injected',
        code: fault.status,
      });
      res.writeHead(fault.status, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (fault?.errorEvent) {
      rec.status = 200;
      const object = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...fault.errorEvent };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'ERROR', object }) + '\n');
      return;
    }
    const query = new URLSearchParams(url.searchParams);
    if (fault?.rewrite) {
      fault.rewrite(query);
      rec.rewritten = true;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
      if (authorization) headers.authorization = authorization;
      const up = await request(`${c.server}${url.pathname}${query.size ? `?${query.toString()}` : ''}`, {
        method: rec.method as 'GET',
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
        dispatcher: agent,
        bodyTimeout: 0,
      });
      rec.status = up.statusCode;
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(up.headers))
        if (typeof v === 'string' && !['connection', 'transfer-encoding', 'keep-alive'].includes(k)) out[k] = v;
      res.writeHead(up.statusCode, out);
      if (isWatch(rec)) {
        watches.set(res, rec);
        res.once('close', () => {
          watches.delete(res);
          up.body.destroy();
        });
      }
      for await (const chunk of up.body) res.write(chunk);
      res.end();
    } catch {
      res.destroy();
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    access: {
      getCurrentCluster: () => ({ server: url }),
      applyToHTTPSOptions: async () => {},
    },
    requests,
    count: (verb, prefix) =>
      requests.filter((r) => (verb === 'watch' ? isWatch(r) : isList(r)) && r.path.startsWith(prefix)).length,
    inject(f) {
      faults.push({ ...f, left: f.times ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    cutWatches() {
      const n = watches.size;
      for (const w of watches.keys()) w.socket?.destroy();
      return n;
    },
    openWatches: (prefix) => [...watches.values()].filter((r) => r.path.startsWith(prefix)).length,
    async close() {
      for (const w of watches.keys()) w.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await agent.destroy();
    },
  };
}
