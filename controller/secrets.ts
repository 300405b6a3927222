// Secrets the controller needs, without caching every Secret of the cluster: the manager's one watch over
// all Secrets, of which this view keeps only those some Connector references (auth or CA; the Connector
// cache's index says which) and the global CA Secrets of the system namespace, slimmed to type + data. The
// Secrets are listed once the Connectors are known, so the first list keeps exactly the referenced ones. A
// newly referenced Secret that the watch had dropped is read once with a GET; a 404 is remembered (the
// watch reports its creation later), so a Connector whose Secret is missing costs no request per re-probe.
// Memory is proportional to the referenced Secrets only.
import { LABELS } from '../core/api/keys.ts';
import type { Informer } from '../core/kube/informer.ts';
import { isNotFound } from '../core/kube/client.ts';
import type { Manager } from '../core/kube/manager.ts';
import { resources } from '../core/kube/resources.ts';
import type { KubeObject, Secret } from '../core/kube/types.ts';

export interface SlimSecret extends Secret {
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

/** The index of the Connector cache: the Secrets (`ns/name`) a Connector reads. */
export const SECRETS_INDEX = 'connectors.cpaas.io/secrets';

export interface SecretStore {
  informer: Informer<SlimSecret>;
  /** The Secret, `null` when it does not exist. */
  get(namespace: string, name: string): Promise<SlimSecret | null>;
  /** Global CA Secrets (system namespace, label connectors.cpaas.io/ca-cert=true). */
  globalCAs(): SlimSecret[];
  isGlobalCA(s: KubeObject): boolean;
}

export function secretStore<C extends KubeObject>(
  mgr: Manager,
  connectors: Informer<C>,
  referencedKeys: (c: C) => string[],
  systemNamespace: string,
): SecretStore {
  /** Secrets known not to exist; forgotten when a Connector starts referencing them (they may exist by now). */
  const missing = new Set<string>();
  const forget = (c: C) => {
    for (const k of referencedKeys(c)) missing.delete(k);
  };
  connectors.addHandler({
    add: forget,
    update: (c, old) => {
      if (referencedKeys(c).join() !== referencedKeys(old).join()) forget(c);
    },
    delete: forget,
  });
  const isGlobalCA = (o: KubeObject) =>
    o.metadata?.namespace === systemNamespace && o.metadata?.labels?.[LABELS.caCert] === 'true';
  const referenced = (o: KubeObject) =>
    connectors.byIndex(SECRETS_INDEX, secretKey(o.metadata?.namespace ?? '', o.metadata?.name ?? '')).length > 0;
  const informer = mgr.informer(resources.Secret, {
    keep: (o) => referenced(o) || isGlobalCA(o),
    after: [connectors],
  }) as Informer<SlimSecret>;
  informer.addHandler({ add: (s) => missing.delete(secretKey(s.metadata.namespace, s.metadata.name)) });

  return {
    informer,
    isGlobalCA,
    async get(namespace, name) {
      const cached = informer.get(name, namespace);
      if (cached) return cached;
      const key = secretKey(namespace, name);
      if (missing.has(key)) return null;
      try {
        const raw = await mgr.client.get(resources.Secret, name, namespace);
        informer.upsert(raw);
        const stored = informer.get(name, namespace);
        if (stored) return stored;
        // Not kept (no longer referenced): answer from what was read, slimmed the same way.
        return {
          metadata: {
            name,
            namespace,
            resourceVersion: raw.metadata.resourceVersion,
            uid: raw.metadata.uid,
            labels: raw.metadata.labels,
          },
          type: raw.type ?? 'Opaque',
          data: raw.data ?? {},
        };
      } catch (err) {
        if (isNotFound(err)) {
          if (!informer.get(name, namespace)) missing.add(key);
          return informer.get(name, namespace) ?? null;
        }
        throw err;
      }
    },
    globalCAs: () => informer.list(systemNamespace).filter((s) => isGlobalCA(s)),
  };
}
