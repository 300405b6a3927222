// Pure: the files of a volume point at the proxy's TLS listener when the proxy has one. The proxy publishes it in
// the ConfigMap connectors-proxy-tls of the system namespace (`port`, `ca.crt`; proxy/tls.ts), which the driver
// watches, so turning TLS on or off needs nothing from the controller or the Pods' authors: the next publish
// (kubelet republishes every volume periodically) writes the new addresses.
//
// With TLS:
// - a Connector served by the built-in proxy (its class's proxy is the Service connectors-proxy-service, or an
//   explicit address in local mode) gets the proxy address `https://<proxy host>:<tls port>/namespaces/<ns>/
//   connectors/<name>`: the path form on the proxy's own name, the one name its certificate must hold (a host
//   form `c-<name>.<ns>.svc` per Connector would need a certificate naming every Connector of every namespace);
//   Connectors of classes with their own proxy keep their address;
// - the forward proxy (`.env`, http.proxy, https.proxy) is `https://...@<proxy host>:<tls port>`;
// - ca.crt, ca.cert and context.proxy.caCert hold the CA of the TLS certificate followed by the interception CA
//   (clients of the forward proxy's CONNECT need that one too): one bundle for SSL_CERT_FILE, git's sslCAInfo,
//   curl's --cacert.
import type { Connector, ConnectorClass } from '../core/api/index.ts';
import { PROXY_SERVICE_NAME } from '../core/api/keys.ts';

export interface ProxyTls {
  port: number;
  caPem: string;
}

/** The TLS listener of the ConfigMap connectors-proxy-tls; undefined when absent or unusable. */
export function proxyTlsOf(data: Record<string, string> | undefined): ProxyTls | undefined {
  const port = Number(data?.port);
  const caPem = data?.['ca.crt'] ?? '';
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !caPem.includes('-----BEGIN')) return undefined;
  return { port, caPem };
}

/** `https://<host of the forward proxy URL>:<tls port>`. */
export function tlsBaseURL(forwardProxyURL: string, tls: ProxyTls): string {
  const u = new URL(forwardProxyURL);
  return `https://${u.hostname}:${tls.port}`;
}

/** Whether the class's proxy is the built-in Connectors Proxy (whose TLS listener this is). */
export function usesBuiltinProxy(cls: ConnectorClass): boolean {
  const ref = cls.spec?.proxy?.ref;
  if (!ref || cls.spec?.proxy?.uri?.match(/^[a-z][a-z0-9+.-]*:\/\//i)) return false;
  return Boolean(ref.address) || ref.name === PROXY_SERVICE_NAME;
}

/** The Connector as the volume's templates see it: its proxy address on the TLS listener. */
export function withTlsAddress(c: Connector, cls: ConnectorClass, base: string, tls: ProxyTls): Connector {
  if (!c.status?.proxy?.httpAddress?.url || !usesBuiltinProxy(cls)) return c;
  const url = `${base}/namespaces/${c.metadata.namespace}/connectors/${c.metadata.name}`;
  return {
    ...c,
    status: {
      ...c.status,
      proxy: { ...c.status.proxy, httpAddress: { ...c.status.proxy.httpAddress, url, CACerts: tls.caPem } },
    },
  };
}

/** The TLS CA first, then the interception CA (if any and different). */
export function caBundle(tls: ProxyTls, interceptionCa: string): string {
  const a = tls.caPem.trim();
  const b = interceptionCa.trim();
  return b && b !== a ? `${a}\n${b}\n` : `${a}\n`;
}
