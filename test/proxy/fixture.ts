// Shared set-up for the proxy tests: the real apiserver of the test run, a namespace with ServiceAccounts
// and RBAC, a private system namespace per proxy, a running proxy, and helpers to mint tokens.
import { cluster, objects, type Cluster } from '@connectors/test-support';
import { createSign, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../proxy/index.ts';
import { setLogSink } from '../../core/observability/log.ts';
import { FEATURE_FLAGS_CONFIGMAP, type ConnectorClass } from '../../core/api/index.ts';
import { compileRego } from '../../core/opa/index.ts';
import { encodePolicyConfigMap } from '../../core/opa/store.ts';

export const basic = (user: string, password: string) =>
  'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

/** Injects an Opaque Secret's `token` as the Private-Token header (GitLab's). */
export const PRIVATE_TOKEN_GENERATOR = `package proxy
auth = {"position": "header", "auth": {"Private-Token": input.data.token}}
`;

/**
 * A class with one auth type, `private-token` (PRIVATE_TOKEN_GENERATOR), whose proxy takes the client's token as the
 * authExtractor `extractor` says.
 */
export function privateTokenClass(name: string, extractor: string): ConnectorClass {
  return objects.connectorClass(name, {
    address: { name: 'address', type: 'string' },
    auth: { types: [objects.regoAuthType('private-token', PRIVATE_TOKEN_GENERATOR)] },
    proxy: { authExtractor: { rego: extractor } },
  });
}

export interface Env {
  c: Cluster;
  ns: string;
  systemNs: string;
  proxy: RunningProxy;
  logs: string[];
  restoreLogs: () => void;
  apply(yaml: string): Promise<void>;
  /** A ServiceAccount with `get` on the given connectors (all when omitted). */
  serviceAccount(name: string, connectors?: string[] | 'none'): Promise<void>;
  token(sa: string, audience?: string | string[]): Promise<string>;
  setFlag(flag: string, on: boolean): Promise<void>;
  /** Compile a policy with the real opa and store it as the controller would. */
  storePolicy(rego: string, entrypoint?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function setup(prefix: string, opts: ProxyOptions = {}): Promise<Env> {
  const c = await cluster();
  const ns = await c.createNamespace(prefix);
  const systemNs = await c.createNamespace(`${prefix}-sys`);
  const logs: string[] = [];
  const restoreLogs = setLogSink((line) => logs.push(line));
  const proxy = await startProxy(c.kubeConfig, { host: '127.0.0.1', port: 0, systemNamespace: systemNs, ...opts });
  const apply = async (yaml: string) => {
    await c.kubectl(['apply', '-n', ns, '-f', '-'], { input: yaml });
  };
  return {
    c,
    ns,
    systemNs,
    proxy,
    logs,
    restoreLogs,
    apply,
    async serviceAccount(name, connectors) {
      await c.createServiceAccount(ns, name);
      if (connectors === 'none') return;
      await apply(
        objects.yaml(
          objects.connectorReader({
            name: `${name}-get`,
            serviceAccount: name,
            saNamespace: ns,
            resourceNames: connectors,
          }),
        ),
      );
    },
    token: (sa, audience = 'connectors-proxy') => c.createToken(ns, sa, { audience }),
    async setFlag(flag, on) {
      await c.kubectl(['apply', '-n', systemNs, '-f', '-'], {
        input: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${FEATURE_FLAGS_CONFIGMAP}}\ndata:\n  ${flag}: "${on}"\n`,
      });
    },
    async storePolicy(rego, entrypoint = 'proxy/auth') {
      const compiled = await compileRego(rego, { entrypoint });
      const cm = encodePolicyConfigMap({ source: rego, namespace: systemNs, compiled });
      await c.kubectl(['apply', '-n', systemNs, '-f', '-'], { input: JSON.stringify(cm) });
    },
    async stop() {
      restoreLogs();
      await proxy.stop();
      await c.deleteNamespace(ns);
      await c.deleteNamespace(systemNs);
    },
  };
}

/**
 * A ServiceAccount token signed with the test apiserver's real ServiceAccount signing key (the control plane's
 * pki/sa.key), with the claims TokenRequest would give it but any `exp`: the only way to get a token that is
 * genuinely expired, since TokenRequest refuses lifetimes under 10 minutes.
 */
export async function signedToken(
  c: Cluster,
  ns: string,
  sa: string,
  o: { audience: string[]; expiresInSeconds: number },
): Promise<string> {
  const key = await readFile(join(c.controlPlane.stateDir, 'pki', 'sa.key'), 'utf8');
  const account = await c.core.readNamespacedServiceAccount({ name: sa, namespace: ns });
  const now = Math.floor(Date.now() / 1000);
  const exp = now + o.expiresInSeconds;
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = {
    aud: o.audience,
    exp,
    iat: Math.min(now, exp - 600),
    nbf: Math.min(now, exp - 600),
    iss: c.controlPlane.serviceAccountIssuer,
    jti: randomBytes(8).toString('hex'),
    sub: `system:serviceaccount:${ns}:${sa}`,
    'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: account.metadata!.uid } },
  };
  const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc(header)}.${enc(claims)}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key).toString('base64url');
  return `${input}.${signature}`;
}

/** The audit lines (parsed) captured so far. */
export function auditLines(logs: string[]): Array<Record<string, unknown>> {
  return logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === 'request' && l.audit === true);
}
