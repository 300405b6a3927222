// TLS for connections to the proxy: a second listener whose connections, once the handshake is done, are served
// by the same HTTP server as the plain one (the front, reverse and forward mode, OCI). The certificate and key are
// the `tls.crt`/`tls.key` of a Secret in the system namespace (type kubernetes.io/tls, e.g. written by
// cert-manager), taken from the proxy's watched Secrets: a changed Secret replaces the listener's SecureContext
// at once, without a restart (connections already open keep the certificate they were set up with). A Secret
// that is missing or does not parse leaves the last good certificate in place (none yet: handshakes fail) and
// is logged.
//
// The proxy publishes where clients find the TLS listener in the ConfigMap `connectors-proxy-tls` of the system
// namespace: `port` and `ca.crt` (the Secret's `ca.crt`, or its `tls.crt` when it has none: a self-signed
// certificate is its own CA). The CSI driver reads it to point the files it mounts at TLS (csi/tls.ts); the
// ConfigMap is deleted when the proxy runs without TLS, so turning TLS off reverts the mounts too.
import {
  createSecureContext,
  createServer as createTlsServer,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PROXY_TLS_CONFIGMAP } from '../core/api/keys.ts';
import { isConflict, type KubeClient } from '../core/kube/client.ts';
import { resources } from '../core/kube/resources.ts';
import type { ConfigMap } from '../core/kube/types.ts';
import type { Logger } from '../core/observability/log.ts';
import { counter } from '../core/observability/metrics.ts';
import type { ConnectorsState } from '../core/kube/state.ts';

export { PROXY_TLS_CONFIGMAP };
export const DEFAULT_TLS_PORT = 8443;
export const DEFAULT_TLS_SECRET = 'connectors-proxy-tls';

export interface TlsListenerOptions {
  /** Secret (type kubernetes.io/tls) of the system namespace holding tls.crt, tls.key and optionally ca.crt. */
  secretName: string;
  /** 0 picks a free port. */
  port: number;
  host: string;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** What clients must trust: ca.crt, or the certificate itself. */
  ca: string;
  resourceVersion: string;
}

const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Pure: the certificate, key and client CA of a Secret, or why they cannot be used. */
export function tlsMaterialOf(
  secret: { data?: Record<string, string>; metadata?: { resourceVersion?: string } } | undefined,
): TlsMaterial | { error: string } {
  if (!secret) return { error: 'the Secret does not exist' };
  const cert = unb64(secret.data?.['tls.crt']);
  const key = unb64(secret.data?.['tls.key']);
  if (!cert || !key) return { error: 'the Secret has no tls.crt or no tls.key' };
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    return { error: `tls.crt/tls.key cannot be used: ${(err as Error).message}` };
  }
  const ca = unb64(secret.data?.['ca.crt']) || cert;
  return { cert, key, ca, resourceVersion: secret.metadata?.resourceVersion ?? '' };
}

const reloads = () =>
  counter('connectors_proxy_tls_reloads_total', 'Certificate loads of the TLS listener, by result.', ['result']);

export interface TlsListener {
  port: number;
  /** PEM the clients trust (published in ConfigMap connectors-proxy-tls), once a certificate is loaded. */
  caPem(): string | undefined;
  /** resourceVersion of the Secret the current certificate came from. */
  loadedVersion(): string | undefined;
  close(): Promise<void>;
}

/**
 * Listens on TLS and hands every established connection to `server` (as node's https server does); the
 * certificate follows the Secret.
 */
export async function startTlsListener(
  server: HttpServer,
  state: ConnectorsState,
  client: KubeClient,
  namespace: string,
  opts: TlsListenerOptions,
  log: Logger,
): Promise<TlsListener> {
  let current: TlsMaterial | undefined;
  let port = 0;
  const tlsServer: TlsServer = createTlsServer({ ALPNProtocols: ['http/1.1'] });
  tlsServer.on('secureConnection', (socket: TLSSocket) => server.emit('connection', socket));
  // A failed handshake concerns that connection only.
  tlsServer.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());

  const publish = async (m: TlsMaterial) => {
    const data = { port: String(port), 'ca.crt': m.ca };
    const body: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: PROXY_TLS_CONFIGMAP, namespace },
      data,
    };
    try {
      const existing = await client.find(resources.ConfigMap, PROXY_TLS_CONFIGMAP, namespace);
      if (existing?.data?.port === data.port && existing?.data?.['ca.crt'] === m.ca) return;
      if (existing) await client.replace(resources.ConfigMap, body);
      else await client.create(resources.ConfigMap, body);
    } catch (err) {
      if (!isConflict(err))
        log.warn('cannot publish the TLS listener in ConfigMap ' + PROXY_TLS_CONFIGMAP, {
          namespace,
          error: (err as Error).message,
        });
    }
  };

  let publishing = Promise.resolve();
  const load = () => {
    const secret = state.secret(namespace, opts.secretName);
    if (current && secret?.metadata?.resourceVersion === current.resourceVersion) return;
    const m = tlsMaterialOf(secret);
    if ('error' in m) {
      reloads().inc({ result: 'error' });
      log.warn(
        current
          ? 'TLS certificate not replaced; the listener keeps the previous one'
          : 'no TLS certificate yet; TLS handshakes fail until the Secret is usable',
        { namespace, secret: opts.secretName, error: m.error },
      );
      return;
    }
    tlsServer.setSecureContext({ cert: m.cert, key: m.key });
    const first = !current;
    current = m;
    reloads().inc({ result: 'loaded' });
    log.info(first ? 'TLS certificate loaded' : 'TLS certificate replaced', {
      namespace,
      secret: opts.secretName,
      resourceVersion: m.resourceVersion,
    });
    if (port) publishing = publishing.then(() => publish(m));
  };
  state.onSecret((ns, name) => {
    if (ns === namespace && name === opts.secretName) load();
  });
  load();

  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen(opts.port, opts.host, () => resolve());
  });
  port = (tlsServer.address() as AddressInfo).port;
  if (current) publishing = publishing.then(() => publish(current!));
  await publishing;
  log.info('proxy listening on TLS', { port, secret: opts.secretName });
  return {
    port,
    caPem: () => current?.ca,
    loadedVersion: () => current?.resourceVersion,
    async close() {
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    },
  };
}

/** The proxy runs without TLS: no ConfigMap may tell the CSI driver otherwise. */
export async function unpublishTls(client: KubeClient, namespace: string, log: Logger): Promise<void> {
  try {
    await client.delete(resources.ConfigMap, PROXY_TLS_CONFIGMAP, namespace);
  } catch (err) {
    log.warn('cannot remove ConfigMap ' + PROXY_TLS_CONFIGMAP, { namespace, error: (err as Error).message });
  }
}
