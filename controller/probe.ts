// HTTP probes (liveness, auth, class API reachability), with the reference system's rules:
// - http probes use only the scheme and host of the Connector address, never its path prefix; an empty
//   `host` is the Connector's, and an empty `scheme` is the Connector's when the host is too, else http;
// - redirects are followed (at most 10, like Go) unless disableRedirect; a redirect to another origin
//   (scheme, host or port) never carries Authorization, Cookie or any header the probe configured, so no
//   credential reaches a host other than the Connector's;
// - a timeout (default 10 s) bounds the whole exchange; the body read is capped at 1 MiB;
// - transport errors read like Go's net/http errors (`Get "https://x": dial tcp: lookup x: no such host`),
//   which is what the reference system's conditions show.
import { rootCertificates } from 'node:tls';
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';

export interface ProbeRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Array<{ name: string; value: string }>;
  disableRedirect?: boolean;
  timeoutMs?: number;
  /** Extra PEM CAs trusted on top of the system store. */
  extraCAs?: string[];
  /** Replace query values by xxxxx in error messages (templated auth-probe paths may carry credentials). */
  redactQuery?: boolean;
}

export interface ProbeResponse {
  statusCode: number;
  headers: Record<string, string[]>;
  bodyString: string;
  /** Parsed JSON body when the response is JSON, else undefined. */
  body: unknown;
  /** The URL that produced this response (after redirects). */
  url: string;
}

export class ProbeError extends Error {
  override name = 'ProbeError';
}

const MAX_BODY = 1 << 20;
const MAX_REDIRECTS = 10;
const SENSITIVE = new Set(['authorization', 'cookie', 'proxy-authorization', 'www-authenticate']);

/** Pure: URL of an http probe against a Connector address (scheme and host only, see above). */
export function httpProbeURL(address: string, probe: { path: string; host?: string; scheme?: string }): string {
  const a = new URL(address);
  const host = probe.host?.trim() || '';
  const sameHost = !host || host === a.host || host === a.hostname;
  const scheme = probe.scheme || (sameHost ? a.protocol.replace(/:$/, '') : 'http');
  const authority = host || a.host;
  const path = probe.path.startsWith('/') ? probe.path : `/${probe.path}`;
  return `${scheme}://${authority}${path}`;
}

/** Pure: URL of an api probe: the resolved class API address (with its uri prefix) plus the path. */
export function apiProbeURL(apiAddress: string, path: string): string {
  return `${apiAddress.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/**
 * The URL as Go prints it in errors (`https://h/` reads `https://h` in the reference's messages), with a
 * password redacted as Go's URL.Redacted does, and query values too when asked.
 */
export function goURL(url: string, redactQuery = false): string {
  const u = new URL(url);
  if (u.password) u.password = 'xxxxx';
  if (redactQuery) for (const k of [...new Set(u.searchParams.keys())]) u.searchParams.set(k, 'xxxxx');
  const s = u.toString();
  return u.pathname === '/' && !u.search ? s.replace(/\/$/, '') : s;
}

const METHOD_WORD: Record<string, string> = { GET: 'Get', POST: 'Post' };

/** Pure: a Go net/http-like message for a transport error. */
export function goErrorMessage(
  method: string,
  url: string,
  err: unknown,
  timeoutMs: number,
  redactQuery = false,
): string {
  const prefix = `${METHOD_WORD[method] ?? method} ${JSON.stringify(goURL(url, redactQuery))}: `;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string }; name?: string };
  const code = e?.code ?? e?.cause?.code;
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const hostPort = `${u.hostname.replace(/^\[|\]$/g, '')}:${port}`;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return `${prefix}dial tcp: lookup ${u.hostname}: no such host`;
    case 'EAI_AGAIN':
      return `${prefix}dial tcp: lookup ${u.hostname}: server misbehaving`;
    case 'ECONNREFUSED':
      return `${prefix}dial tcp ${hostPort}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `${prefix}dial tcp ${hostPort}: connect: no route to host`;
    case 'ENETUNREACH':
      return `${prefix}dial tcp ${hostPort}: connect: network is unreachable`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `${prefix}read tcp ${hostPort}: connection reset by peer`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `${prefix}dial tcp ${hostPort}: i/o timeout`;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ABORT_ERR':
      return `${prefix}context deadline exceeded (Client.Timeout exceeded while awaiting headers after ${timeoutMs / 1000}s)`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `${prefix}tls: failed to verify certificate: x509: certificate signed by unknown authority`;
    case 'CERT_HAS_EXPIRED':
      return `${prefix}tls: failed to verify certificate: x509: certificate has expired or is not yet valid`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `${prefix}tls: failed to verify certificate: x509: certificate is not valid for ${u.hostname}`;
    default:
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
        return `${prefix}context deadline exceeded (Client.Timeout exceeded while awaiting headers after ${timeoutMs / 1000}s)`;
      }
      return `${prefix}${e?.cause?.message ?? e?.message ?? String(err)}`;
  }
}

const agents = new Map<string, Agent>();

function agentFor(extraCAs: string[] | undefined): Dispatcher {
  const key = extraCAs?.length ? createHash('sha256').update(extraCAs.join('\n')).digest('hex') : '';
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({
      keepAliveTimeout: 4_000,
      connections: 32,
      connect: key ? { ca: [...rootCertificates, ...extraCAs!] } : {},
    });
    agents.set(key, agent);
    if (agents.size > 64) {
      const [oldKey, old] = agents.entries().next().value as [string, Agent];
      agents.delete(oldKey);
      void old.close();
    }
  }
  return agent;
}

export async function closeProbeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close().catch(() => {})));
}

const origin = (u: URL) => `${u.protocol}//${u.host}`;

/** Runs one probe; resolves with the final response or rejects with a ProbeError whose message is Go-like. */
export async function runProbe(req: ProbeRequest): Promise<ProbeResponse> {
  const timeoutMs = req.timeoutMs ?? 10_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const firstOrigin = origin(new URL(req.url));
  const configured = new Set(req.headers.map((h) => h.name.toLowerCase()));
  let url = req.url;
  let method: string = req.method;
  for (let hop = 0; ; hop++) {
    const target = new URL(url);
    const sameOrigin = origin(target) === firstOrigin;
    const headers: Record<string, string> = { 'user-agent': 'connectors-controller' };
    for (const h of req.headers) {
      const name = h.name.toLowerCase();
      if (!sameOrigin && (configured.has(name) || SENSITIVE.has(name))) continue;
      if (h.value === '') continue;
      headers[name] = h.value;
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, {
        method: method as 'GET',
        headers,
        dispatcher: agentFor(req.extraCAs),
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(method === 'POST' ? { body: '' } : {}),
      });
    } catch (err) {
      throw new ProbeError(goErrorMessage(method, url, err, timeoutMs, req.redactQuery));
    }
    const status = res.statusCode;
    const location = res.headers.location;
    if (!req.disableRedirect && [301, 302, 303, 307, 308].includes(status) && location) {
      await res.body.dump().catch(() => {});
      if (hop + 1 >= MAX_REDIRECTS)
        throw new ProbeError(
          `${METHOD_WORD[method] ?? method} ${JSON.stringify(goURL(url, req.redactQuery))}: stopped after ${MAX_REDIRECTS} redirects`,
        );
      url = new URL(Array.isArray(location) ? location[0] : location, target).toString();
      if ((status === 301 || status === 302 || status === 303) && method === 'POST') method = 'GET';
      continue;
    }
    let bodyString: string;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        if (size + b.length > MAX_BODY) {
          chunks.push(b.subarray(0, MAX_BODY - size));
          size = MAX_BODY;
          break;
        }
        chunks.push(b);
        size += b.length;
      }
      bodyString = Buffer.concat(chunks).toString('utf8');
      if (size >= MAX_BODY) res.body.destroy();
    } catch (err) {
      throw new ProbeError(goErrorMessage(method, url, err, timeoutMs, req.redactQuery));
    }
    const outHeaders: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      const canon = k.replace(/(^|-)([a-z])/g, (_m, d: string, ch: string) => d + ch.toUpperCase());
      outHeaders[canon] = Array.isArray(v) ? v : [String(v)];
    }
    let body: unknown;
    const ct = String(res.headers['content-type'] ?? '');
    if (/[/+]json\b/i.test(ct) || /^\s*[{[]/.test(bodyString)) {
      try {
        body = JSON.parse(bodyString);
      } catch {
        body = undefined;
      }
    }
    return { statusCode: status, headers: outHeaders, bodyString, body, url };
  }
}

/** Tries a TCP (and TLS, for https) connection to a URL's host — the class API reachability check. */
export async function tryConnect(url: string, timeoutMs = 10_000, extraCAs?: string[]): Promise<void> {
  await runProbe({ method: 'GET', url, headers: [], disableRedirect: true, timeoutMs, extraCAs });
}
