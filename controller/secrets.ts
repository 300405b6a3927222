// Secrets the controller needs, without caching every Secret of the cluster: one watch over all Secrets,
// but only Secrets that some Connector references (auth or CA) and the global CA Secrets of the system
// namespace are kept, slimmed to type + data. A newly referenced Secret that the watch had dropped is read
// once with a GET; a 404 is remembered (the watch reports its creation later), so a Connector whose Secret
// is missing costs no request per re-probe. Memory is proportional to the referenced Secrets only.
import type { KubeConfig } from '@kubernetes/client-node';
import { LABELS } from '../core/api/index.ts';
import { startInformer, type Informer, type KObject } from '../core/kube/reflector.ts';
import { KubeApiError, type KubeRest } from '../core/kube/rest.ts';
import type { Logger } from '../core/observability/log.ts';

export interface SlimSecret {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
  };
  type: string;
  /** base64 values, as the API gives them. */
  data: Record<string, string>;
}

export const secretKey = (namespace: string, name: string) => `${namespace}/${name}`;

export interface SecretStore {
  informer: Informer<SlimSecret>;
  /** Replace the set of Secrets one Connector references. */
  setRefs(connectorKey: string, secretKeys: string[]): void;
  /** Connectors that reference a Secret. */
  referrers(secretKey: string): string[];
  /** The Secret, `null` when it does not exist. */
  get(namespace: string, name: string): Promise<SlimSecret | null>;
  /** Global CA Secrets (system namespace, label connectors.cpaas.io/ca-cert=true). */
  globalCAs(): SlimSecret[];
  stop(): Promise<void>;
}

export function startSecretStore(kc: KubeConfig, rest: KubeRest, systemNamespace: string, log: Logger): SecretStore {
  const refs = new Map<string, Set<string>>(); // secret key → connector keys
  const byConnector = new Map<string, string[]>();
  const missing = new Set<string>();
  const isGlobalCA = (raw: KObject) =>
    raw.metadata?.namespace === systemNamespace && raw.metadata?.labels?.[LABELS.caCert] === 'true';
  const slim = (raw: KObject & { type?: string; data?: Record<string, string> }): SlimSecret => ({
    metadata: {
      name: raw.metadata!.name!,
      namespace: raw.metadata!.namespace!,
      resourceVersion: raw.metadata!.resourceVersion,
      uid: raw.metadata!.uid,
      labels: raw.metadata!.labels,
    },
    type: raw.type ?? 'Opaque',
    data: raw.data ?? {},
  });
  const informer = startInformer<SlimSecret>(kc, '/api/v1/secrets', {
    log,
    rest,
    transform: (raw) => {
      const key = secretKey(raw.metadata?.namespace ?? '', raw.metadata?.name ?? '');
      if (!refs.has(key) && !isGlobalCA(raw)) return undefined;
      missing.delete(key);
      return slim(raw);
    },
  });
  informer.on('add', (s) => missing.delete(secretKey(s.metadata.namespace, s.metadata.name)));

  return {
    informer,
    setRefs(connectorKey, secretKeys) {
      for (const k of byConnector.get(connectorKey) ?? []) {
        const set = refs.get(k);
        set?.delete(connectorKey);
        if (set && set.size === 0) {
          refs.delete(k);
          missing.delete(k);
        }
      }
      if (secretKeys.length === 0) {
        byConnector.delete(connectorKey);
        return;
      }
      byConnector.set(connectorKey, secretKeys);
      for (const k of secretKeys) {
        let set = refs.get(k);
        if (!set) refs.set(k, (set = new Set()));
        set.add(connectorKey);
      }
    },
    referrers: (key) => [...(refs.get(key) ?? [])],
    async get(namespace, name) {
      const cached = informer.get(name, namespace);
      if (cached) return cached;
      const key = secretKey(namespace, name);
      if (missing.has(key)) return null;
      try {
        const raw = await rest.call<KObject & { type?: string; data?: Record<string, string> }>(
          'GET',
          `/api/v1/namespaces/${namespace}/secrets/${name}`,
        );
        informer.upsert(raw);
        return informer.get(name, namespace) ?? slim(raw);
      } catch (err) {
        if (err instanceof KubeApiError && err.statusCode === 404) {
          if (!informer.get(name, namespace)) missing.add(key);
          return informer.get(name, namespace) ?? null;
        }
        throw err;
      }
    },
    globalCAs: () => informer.list(systemNamespace).filter((s) => s.metadata.labels?.[LABELS.caCert] === 'true'),
    stop: () => informer.stop(),
  };
}
