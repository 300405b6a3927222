// What the handlers read from the cluster: Connectors, ConnectorClasses, Namespaces and ResourceInterfaces from
// the manager's shared caches (Pod admission is on the hot path), with a direct GET when the cache does not
// have the object yet (or has a Connector without its proxy address, which the controller may just have
// written); Secrets with a direct GET, and only their type and key names (Connector admission is rare, and
// caching every Secret is not worth it).
import type { Connector, ConnectorClass, ResourceInterface } from '../core/api/index.ts';
import type { Manager } from '../core/kube/manager.ts';
import { resources } from '../core/kube/resources.ts';
import type { SecretInfo } from './validate/connector.ts';

export interface Lookups {
  connector(namespace: string, name: string): Promise<Connector | undefined>;
  namespaceLabels(name: string): Promise<Record<string, string> | undefined>;
  connectorClass(name: string): Promise<ConnectorClass | undefined>;
  secret(namespace: string, name: string): Promise<SecretInfo | undefined>;
  /** Every ResourceInterface (cluster-scoped and few: a watched cache, a direct LIST until it has synced). */
  resourceInterfaces(): Promise<ResourceInterface[]>;
  synced: Promise<void>;
  /** Detach from the caches (they stay the manager's). */
  stop(): Promise<void>;
}

export function clusterLookups(mgr: Manager): Lookups {
  const { client } = mgr;
  const connectors = mgr.informer(resources.Connector);
  const namespaces = mgr.informer(resources.Namespace);
  const classes = mgr.informer(resources.ConnectorClass);
  const interfaces = mgr.informer(resources.ResourceInterface);
  return {
    async connector(namespace, name) {
      const cached = connectors.get(name, namespace);
      if (cached?.status?.proxy?.httpAddress?.url) return cached;
      return client.find(resources.Connector, name, namespace);
    },
    async namespaceLabels(name) {
      const cached = namespaces.get(name);
      if (cached) return cached.metadata?.labels ?? {};
      return (await client.find(resources.Namespace, name))?.metadata?.labels;
    },
    async connectorClass(name) {
      return classes.get(name) ?? client.find(resources.ConnectorClass, name);
    },
    async secret(namespace, name) {
      const s = await client.find(resources.Secret, name, namespace);
      return s ? { type: s.type, keys: Object.keys(s.data ?? {}) } : undefined;
    },
    async resourceInterfaces() {
      if (interfaces.hasSynced()) return interfaces.list();
      return (await client.list(resources.ResourceInterface)).items;
    },
    synced: Promise.all([connectors.synced, namespaces.synced, classes.synced, interfaces.synced]).then(
      () => undefined,
    ),
    async stop() {
      await Promise.all([connectors.stop(), namespaces.stop(), classes.stop(), interfaces.stop()]);
    },
  };
}
