// What the proxy and the Connectors API know about the cluster, from the manager's watched caches only (no
// apiserver call per request): Connectors, ConnectorClasses, Secrets, the policy ConfigMaps of the system
// namespace and the feature flags. Each is a view of the manager's shared informer of that resource type, so in
// `connectors up` the proxy, the API and the controller hold each object once.
import type { Connector, ConnectorClass } from '../api/index.ts';
import { LABELS } from '../api/keys.ts';
import { POLICY_LABEL_SELECTOR } from '../opa/store.ts';
import type { FeatureFlags } from './featureflags.ts';
import type { Manager } from './manager.ts';
import { resources } from './resources.ts';
import type { ConfigMap, Secret } from './types.ts';

const CA_CERT_LABEL = LABELS.caCert;

export interface ConnectorsState {
  connector(namespace: string, name: string): Connector | undefined;
  connectorClass(name: string): ConnectorClass | undefined;
  /** A Secret as the manager keeps it: name, namespace, resourceVersion, type, data and the custom-CA label. */
  secret(namespace: string, name: string): Secret | undefined;
  /** Secrets of the system namespace labelled connectors.cpaas.io/ca-cert=true (custom CAs). */
  caSecrets(): Secret[];
  /** Called when a Secret is added, changed or deleted (after the cache has it). */
  onSecret(cb: (namespace: string, name: string) => void): void;
  /** A compiled-policy ConfigMap of the system namespace. */
  systemConfigMap(name: string): ConfigMap | undefined;
  flags: FeatureFlags;
  synced: Promise<void>;
  /** Detaches the views (the manager and its flags keep running for the other consumers). */
  stop(): Promise<void>;
}

/**
 * Registers the views on `mgr` (every Secret of the cluster: a request may name any Connector's Secret and is
 * answered from the cache; the manager keeps Secrets slim). They list once the manager starts.
 */
export function connectorsState(mgr: Manager): ConnectorsState {
  const systemNamespace = mgr.systemNamespace;
  const connectors = mgr.informer(resources.Connector);
  const classes = mgr.informer(resources.ConnectorClass);
  const secrets = mgr.informer(resources.Secret);
  const configMaps = mgr.informer(resources.ConfigMap, {
    namespace: systemNamespace,
    labelSelector: POLICY_LABEL_SELECTOR,
  });
  const flags = mgr.flags;
  return {
    connector: (ns, name) => connectors.get(name, ns),
    connectorClass: (name) => classes.get(name),
    secret: (ns, name) => secrets.get(name, ns),
    caSecrets: () => secrets.list(systemNamespace).filter((s) => s.metadata?.labels?.[CA_CERT_LABEL] === 'true'),
    onSecret(cb) {
      const call = (s: Secret) => cb(s.metadata?.namespace ?? '', s.metadata?.name ?? '');
      secrets.addHandler({ add: call, update: call, delete: call });
    },
    systemConfigMap: (name) => configMaps.get(name, systemNamespace),
    flags,
    synced: Promise.all([connectors.synced, classes.synced, secrets.synced, configMaps.synced, flags.synced]).then(
      () => undefined,
    ),
    async stop() {
      await Promise.all([connectors.stop(), classes.stop(), secrets.stop(), configMaps.stop()]);
    },
  };
}

/** How long a component waits for the first lists before it listens anyway (the manager's /readyz reports them). */
export const FIRST_SYNC_WAIT_MS = 30_000;

/** Resolves once the state has listed everything, or after `ms`, whichever comes first. */
export function firstSync(state: Pick<ConnectorsState, 'synced'>, ms = FIRST_SYNC_WAIT_MS): Promise<void> {
  return Promise.race([state.synced, new Promise<void>((r) => setTimeout(r, ms).unref())]);
}
