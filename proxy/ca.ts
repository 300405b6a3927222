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
import type { KubeAccess } from '../core/kube/client.ts';
import { kubeRest, KubeApiError, type KubeRest } from '../core/kube/rest.ts';
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

interface SecretLike {
  data?: Record<string, string>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Loads the shared CA, creating it (and its public ConfigMap) when absent. */
export async function ensureProxyCA(rest: KubeRest, namespace: string): Promise<ProxyCA> {
  const secretPath = `/api/v1/namespaces/${namespace}/secrets`;
  let secret = await rest.getIfExists<SecretLike>(`${secretPath}/${PROXY_CA_NAME}`);
  if (!secret) {
    const ca = await createInChild();
    try {
      await rest.call('POST', secretPath, {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          metadata: { name: PROXY_CA_NAME, namespace, labels: { 'app.kubernetes.io/managed-by': 'connectors-proxy' } },
          data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem), 'ca.crt': b64(ca.certPem) },
        },
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
    }
    secret = await rest.call<SecretLike>('GET', `${secretPath}/${PROXY_CA_NAME}`);
  }
  const ca = { certPem: unb64(secret.data?.['tls.crt']), keyPem: unb64(secret.data?.['tls.key']) };
  // A broken Secret is refused here, at startup, not at the first intercepted request.
  const cert = new X509Certificate(ca.certPem);
  if (!cert.ca) throw new Error(`Secret ${PROXY_CA_NAME}: tls.crt is not a CA certificate`);
  if (!cert.checkPrivateKey(createPrivateKey(ca.keyPem)))
    throw new Error(`Secret ${PROXY_CA_NAME}: tls.key does not belong to tls.crt`);
  await publishCA(rest, namespace, ca.certPem);
  return ca;
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

async function publishCA(rest: KubeRest, namespace: string, certPem: string): Promise<void> {
  const path = `/api/v1/namespaces/${namespace}/configmaps`;
  const existing = await rest.getIfExists<{ data?: Record<string, string> }>(`${path}/${PROXY_CA_NAME}`);
  if (existing?.data?.['ca.crt'] === certPem) return;
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: PROXY_CA_NAME, namespace },
    data: { 'ca.crt': certPem },
  };
  try {
    if (existing) await rest.call('PUT', `${path}/${PROXY_CA_NAME}`, { body });
    else await rest.call('POST', path, { body });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
  }
}

/** The proxy CA certificate (PEM), for the CSI driver's ca.crt; undefined when no proxy has created it yet. */
export async function readProxyCA(kc: KubeAccess, namespace: string): Promise<string | undefined> {
  const rest = await kubeRest(kc);
  try {
    const cm = await rest.getIfExists<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${namespace}/configmaps/${PROXY_CA_NAME}`,
    );
    if (cm?.data?.['ca.crt']) return cm.data['ca.crt'];
    const secret = await rest.getIfExists<SecretLike>(`/api/v1/namespaces/${namespace}/secrets/${PROXY_CA_NAME}`);
    return secret ? unb64(secret.data?.['ca.crt'] ?? secret.data?.['tls.crt']) || undefined : undefined;
  } finally {
    await rest.close();
  }
}
