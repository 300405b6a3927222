// The proxy's CA for HTTPS interception in forward mode. Kept in the Secret `connectors-proxy-ca` of the
// system namespace (tls.crt, tls.key, ca.crt), created by the first proxy replica that finds none (a
// create conflict means another replica won: its CA is read back), so every replica signs with one CA. The
// public certificate is also published in the ConfigMap `connectors-proxy-ca` (key ca.crt), which the CSI
// driver reads for the `ca.crt` it mounts (readProxyCA) without needing access to the key.
//
// The certificate library (core/pki, @peculiar/x509: ~10 MiB of memory) is not part of a proxy that does not
// intercept HTTPS: the CA is created by a short child process (ca-create.ts; a worker thread was tried, and its
// isolate, thread arena and bootstrap left the proxy ~20 MiB larger than the library itself), and the library is
// loaded into the proxy at the first per-host certificate.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isConflict, kubeClient, type KubeAccess, type KubeClient } from '../core/kube/client.ts';
import { resources } from '../core/kube/resources.ts';
import type { ConfigMap, Secret } from '../core/kube/types.ts';
import type { Logger } from '../core/observability/log.ts';
import type { IssuedCertificate } from '../core/pki/index.ts';
import { PROXY_CA_NAME } from '../core/api/keys.ts';

export { PROXY_CA_NAME };

/** The interception CA as PEM, checked (a certificate and a private key) but not loaded into the library. */
export interface ProxyCA {
  certPem: string;
  keyPem: string;
}

/** Per-host serving certificates signed by `ca`, issued on first use (core/pki's ServingCertCache, loaded then). */
export function servingCerts(ca: ProxyCA): { get(host: string): Promise<IssuedCertificate> } {
  let cache: Promise<{ get(host: string): Promise<IssuedCertificate> }> | undefined;
  return {
    async get(host) {
      cache ??= import('../core/pki/index.ts').then(
        async (pki) => new pki.ServingCertCache(await pki.loadCA(ca.certPem, ca.keyPem)),
      );
      cache.catch(() => (cache = undefined));
      return (await cache).get(host);
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Loads the shared CA, creating it (and its public ConfigMap) when absent. */
export async function ensureProxyCA(client: KubeClient, namespace: string): Promise<ProxyCA> {
  let secret = await client.find(resources.Secret, PROXY_CA_NAME, namespace);
  if (!secret) {
    const ca = await createInChild();
    const created: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: PROXY_CA_NAME, namespace, labels: { 'app.kubernetes.io/managed-by': 'connectors-proxy' } },
      data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem), 'ca.crt': b64(ca.certPem) },
    };
    try {
      await client.create(resources.Secret, created);
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    secret = await client.get(resources.Secret, PROXY_CA_NAME, namespace);
  }
  const ca = { certPem: unb64(secret.data?.['tls.crt']), keyPem: unb64(secret.data?.['tls.key']) };
  // A broken Secret is refused here, at startup, not at the first intercepted request.
  const cert = new X509Certificate(ca.certPem);
  if (!cert.ca) throw new Error(`Secret ${PROXY_CA_NAME}: tls.crt is not a CA certificate`);
  if (!cert.checkPrivateKey(createPrivateKey(ca.keyPem)))
    throw new Error(`Secret ${PROXY_CA_NAME}: tls.key does not belong to tls.crt`);
  await publishCA(client, namespace, ca.certPem);
  return ca;
}

/**
 * Loads the CA now (ensureProxyCA) and hands it to `loaded`; while it cannot, logs why and tries again every
 * 30 s (HTTPS interception stays off meanwhile). Resolves after the first attempt.
 */
export async function keepLoadingProxyCA(
  client: KubeClient,
  namespace: string,
  log: Logger,
  loaded: (ca: ProxyCA) => void,
): Promise<{ close(): void }> {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const attempt = async (): Promise<void> => {
    try {
      const ca = await ensureProxyCA(client, namespace);
      if (!closed) loaded(ca);
    } catch (err) {
      log.warn('cannot load the interception CA; HTTPS interception is off until it can', {
        namespace,
        error: (err as Error).message,
      });
      if (closed) return;
      timer = setTimeout(() => void attempt(), 30_000);
      timer.unref();
    }
  };
  await attempt();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

function createInChild(): Promise<ProxyCA> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL('./ca-create.ts', import.meta.url));
    execFile(process.execPath, [script], { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`creating the proxy CA failed: ${err.message} ${stderr.slice(0, 500)}`));
      try {
        resolve(JSON.parse(stdout) as ProxyCA);
      } catch {
        reject(new Error('creating the proxy CA failed: no CA in the output of proxy/ca-create.ts'));
      }
    });
  });
}

async function publishCA(client: KubeClient, namespace: string, certPem: string): Promise<void> {
  const existing = await client.find(resources.ConfigMap, PROXY_CA_NAME, namespace);
  if (existing?.data?.['ca.crt'] === certPem) return;
  const body: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: PROXY_CA_NAME, namespace },
    data: { 'ca.crt': certPem },
  };
  try {
    if (existing) await client.replace(resources.ConfigMap, body);
    else await client.create(resources.ConfigMap, body);
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/** The proxy CA certificate (PEM), for the CSI driver's ca.crt; undefined when no proxy has created it yet. */
export async function readProxyCA(kc: KubeAccess, namespace: string): Promise<string | undefined> {
  const client = kubeClient(kc);
  try {
    const cm = await client.find(resources.ConfigMap, PROXY_CA_NAME, namespace);
    if (cm?.data?.['ca.crt']) return cm.data['ca.crt'];
    const secret = await client.find(resources.Secret, PROXY_CA_NAME, namespace);
    return secret ? unb64(secret.data?.['ca.crt'] ?? secret.data?.['tls.crt']) || undefined : undefined;
  } finally {
    await client.close();
  }
}
