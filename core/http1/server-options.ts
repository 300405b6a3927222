// The node:http server options of a listener with the given limits, shared by the proxy and the API.
import type { ServerOptions } from 'node:http';

export interface ServerLimits {
  maxHeaderSize: number;
  /** Longest time to receive a whole request, body included; then 408. */
  requestTimeoutMs: number;
  /** Idle keep-alive time of client connections. */
  keepAliveTimeoutMs: number;
}

export function serverOptions(l: ServerLimits): ServerOptions & { headersTimeout: number } {
  return {
    maxHeaderSize: l.maxHeaderSize,
    requestTimeout: l.requestTimeoutMs,
    // node:http wants it no longer than the request timeout.
    headersTimeout: Math.min(60_000, l.requestTimeoutMs),
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // How often node looks for requests past their timeouts (its default, 30 s, unless they are shorter).
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, l.requestTimeoutMs / 4)),
  };
}
