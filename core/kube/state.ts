// What the proxy and the Connectors API know about the cluster, from watched caches only (no apiserver call
// per request): Connectors, ConnectorClasses, Secrets, the policy ConfigMaps of the system namespace and the
// feature flags.
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { KubeAccess } from './client.ts';
import type { Connector, ConnectorClass } from '../api/index.ts';
import { startInformer, stripManagedFields, type Informer, type KObject } from './reflector.ts';
import { collectionPath } from './resources.ts';
import { watchFeatureFlags, type FeatureFlags } from './featureflags.ts';
import type { KubeRest } from './rest.ts';
import type { Logger } from '../observability/log.ts';
import { POLICY_LABEL_SELECTOR } from '../opa/store.ts';
import { LABELS } from '../api/keys.ts';

const CA_CERT_LABEL = LABELS.caCert;

export interface ConnectorsState {
  connector(namespace: string, name: string): Connector | undefined;
  connectorClass(name: string): ConnectorClass | undefined;
  secret(namespace: string, name: string): V1Secret | undefined;
  /** Secrets of the system namespace labelled connectors.cpaas.io/ca-cert=true (custom CAs). */
  caSecrets(): V1Secret[];
  /** Called when a Secret is added, changed or deleted (after the cache has it). */
  onSecret(cb: (namespace: string, name: string) => void): void;
  /** A compiled-policy ConfigMap of the system namespace. */
  systemConfigMap(name: string): V1ConfigMap | undefined;
  flags: FeatureFlags;
  synced: Promise<void>;
  stop(): Promise<void>;
}

/** Secrets are kept slim: name, namespace, type and data only (and the custom-CA label when set). */
function slimSecret(raw: KObject): V1Secret {
  const s = raw as V1Secret;
  const ca = s.metadata?.labels?.[CA_CERT_LABEL] === 'true';
  return {
    metadata: {
      name: s.metadata?.name,
      namespace: s.metadata?.namespace,
      resourceVersion: s.metadata?.resourceVersion,
      ...(ca ? { labels: { [CA_CERT_LABEL]: 'true' } } : {}),
    },
    type: s.type,
    data: s.data,
  };
}

export function watchState(kc: KubeAccess, systemNamespace: string, log: Logger, rest?: KubeRest): ConnectorsState {
  const connectors = startInformer<Connector & KObject>(kc, collectionPath('Connector'), { log, rest });
  const classes = startInformer<ConnectorClass & KObject>(kc, collectionPath('ConnectorClass'), { log, rest });
  const secrets = startInformer<V1Secret & KObject>(kc, '/api/v1/secrets', { log, rest, transform: slimSecret });
  const configMaps: Informer<V1ConfigMap & KObject> = startInformer<V1ConfigMap & KObject>(
    kc,
    `/api/v1/namespaces/${systemNamespace}/configmaps`,
    {
      log,
      rest,
      labelSelector: POLICY_LABEL_SELECTOR,
      transform: (raw) => stripManagedFields<V1ConfigMap & KObject>(raw),
    },
  );
  const flags = watchFeatureFlags(kc, systemNamespace, log);
  return {
    connector: (ns, name) => connectors.get(name, ns),
    connectorClass: (name) => classes.get(name),
    secret: (ns, name) => secrets.get(name, ns),
    caSecrets: () => secrets.list(systemNamespace).filter((s) => s.metadata?.labels?.[CA_CERT_LABEL] === 'true'),
    onSecret(cb) {
      const call = (s: V1Secret) => cb(s.metadata?.namespace ?? '', s.metadata?.name ?? '');
      secrets.on('add', call);
      secrets.on('update', call);
      secrets.on('delete', call);
    },
    systemConfigMap: (name) => configMaps.get(name, systemNamespace),
    flags,
    synced: Promise.all([connectors.synced, classes.synced, secrets.synced, configMaps.synced, flags.synced]).then(
      () => undefined,
    ),
    async stop() {
      await Promise.all([connectors.stop(), classes.stop(), secrets.stop(), configMaps.stop(), flags.stop()]);
    },
  };
}
