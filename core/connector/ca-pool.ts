// Custom CA certificates for the connections of the proxy and the Connectors API to the tools (feature flag
// enable-custom-ca-certs): a Connector's upstream TLS trusts the system pool, plus every Secret of the system
// namespace labelled `connectors.cpaas.io/ca-cert: "true"`, plus the Connector's own `spec.caCertSecretRef` (a
// Secret of the Connector's namespace: the reference has no namespace field, so it cannot name another one).
// Which keys count is core/connector/ca.ts, shared with the controller's probes.
//
// The pool is cached per Connector for 5 minutes (`ttlMs`): a new, changed or removed CA Secret reaches a
// Connector's requests within that time, without a restart; a change of the Connector's caCertSecretRef itself
// is seen at once. The flag is read on every request (its ConfigMap is watched): on → the next request builds
// the pool, off → the next request uses the system pool only. Connections are pooled per (origin, CA set), so a
// connection verified under one set of CAs is never reused for a request that must trust another.
import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { SecretLike } from '../kube/types.ts';
import type { Connector, FeatureFlag } from '../api/index.ts';
import { caCertificatesOf } from './ca.ts';
import { caSecretRefOf, decodeSecret } from './secret.ts';
import type { UpstreamTrust } from '../http1/upstream.ts';

/** What the pool reads: the watched flags and Secrets (core/kube/state.ts gives them). */
export interface TrustSource {
  flags: { enabled(flag: FeatureFlag): boolean };
  /** The labelled CA Secrets of the system namespace. */
  caSecrets(): SecretLike[];
  secret(namespace: string, name: string): SecretLike | undefined;
}

export const CUSTOM_CA_FLAG = 'enable-custom-ca-certs';
export const DEFAULT_CA_POOL_TTL_MS = 5 * 60_000;

export interface ConnectorTrustOptions {
  ttlMs?: number;
  now?: () => number;
}

export class ConnectorTrust {
  private readonly state: TrustSource;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { at: number; ref: string; trust: UpstreamTrust | undefined }>();
  /** One array per distinct CA set, shared by the Connectors that have it. */
  private readonly sets = new Map<string, UpstreamTrust>();

  constructor(state: TrustSource, opts: ConnectorTrustOptions = {}) {
    this.state = state;
    this.ttlMs = opts.ttlMs ?? DEFAULT_CA_POOL_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  /** The trust for a Connector's upstream connections; undefined: the system pool alone. */
  for(connector: Connector): UpstreamTrust | undefined {
    if (!this.state.flags.enabled(CUSTOM_CA_FLAG)) return undefined;
    const ns = connector.metadata.namespace!;
    const key = `${ns}/${connector.metadata.name}`;
    const caRef = caSecretRefOf(connector);
    const ref = caRef?.name ?? '';
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.ref === ref && now - hit.at < this.ttlMs) return hit.trust;
    const extra: string[] = [];
    for (const s of this.state.caSecrets()) extra.push(...caCertificatesOf(decodeSecret(s)).pems);
    if (caRef) {
      const own = this.state.secret(caRef.namespace, caRef.name);
      if (own) extra.push(...caCertificatesOf(decodeSecret(own, caRef)).pems);
    }
    const trust = this.trustOf([...new Set(extra)]);
    if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { at: now, ref, trust });
    return trust;
  }

  private trustOf(extra: string[]): UpstreamTrust | undefined {
    if (extra.length === 0) return undefined;
    const key = createHash('sha256').update(extra.join('\n')).digest('hex').slice(0, 32);
    let t = this.sets.get(key);
    if (!t) {
      if (this.sets.size >= 1000) this.sets.clear();
      this.sets.set(key, (t = { key, ca: [...rootCertificates, ...extra] }));
    }
    return t;
  }

  clear(): void {
    this.cache.clear();
  }
}
