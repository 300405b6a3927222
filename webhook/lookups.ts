// What the handlers read from the cluster: Connectors, ConnectorClasses and Namespaces from watched caches
// (Pod admission is on the hot path), with a direct GET when the cache does not have the object yet (or has
// a Connector without its proxy address, which the controller may just have written); Secrets with a direct
// GET, and only their type and key names (Connector admission is rare, and caching every Secret is not
// worth it).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Connector, ConnectorClass, ResourceInterface } from '../core/api/index.ts';
import { startInformer, type Informer } from '../core/kube/reflector.ts';
import { collectionPath } from '../core/kube/resources.ts';
import { kubeRest } from '../core/kube/rest.ts';
import type { Logger } from '../core/observability/log.ts';
import type { SecretInfo } from './validate/connector.ts';

export interface Lookups {
  connector(namespace: string, name: string): Promise<Connector | undefined>;
  namespaceLabels(name: string): Promise<Record<string, string> | undefined>;
  connectorClass(name: string): Promise<ConnectorClass | undefined>;
  secret(namespace: string, name: string): Promise<SecretInfo | undefined>;
  /** Every ResourceInterface (cluster-scoped and few: a watched cache, a direct LIST until it has synced). */
  resourceInterfaces(): Promise<ResourceInterface[]>;
  synced: Promise<void>;
  stop(): Promise<void>;
}

interface NamespaceObj {
  metadata?: { name?: string; labels?: Record<string, string> };
}

export async function clusterLookups(kc: KubeConfig, log?: Logger): Promise<Lookups> {
  const rest = await kubeRest(kc);
  const connectors: Informer<Connector> = startInformer<Connector>(kc, collectionPath('Connector'), { log });
  const namespaces: Informer<NamespaceObj> = startInformer<NamespaceObj>(kc, '/api/v1/namespaces', { log });
  const classes: Informer<ConnectorClass> = startInformer<ConnectorClass>(kc, collectionPath('ConnectorClass'), {
    log,
  });
  const interfaces: Informer<ResourceInterface> = startInformer<ResourceInterface>(
    kc,
    collectionPath('ResourceInterface'),
    { log },
  );
  return {
    async connector(namespace, name) {
      const cached = connectors.get(name, namespace);
      if (cached?.status?.proxy?.httpAddress?.url) return cached;
      return rest.getIfExists<Connector>(`${collectionPath('Connector', namespace)}/${encodeURIComponent(name)}`);
    },
    async namespaceLabels(name) {
      const cached = namespaces.get(name);
      if (cached) return cached.metadata?.labels ?? {};
      return (await rest.getIfExists<NamespaceObj>(`/api/v1/namespaces/${encodeURIComponent(name)}`))?.metadata?.labels;
    },
    async connectorClass(name) {
      return (
        classes.get(name) ??
        rest.getIfExists<ConnectorClass>(`${collectionPath('ConnectorClass')}/${encodeURIComponent(name)}`)
      );
    },
    async secret(namespace, name) {
      const s = await rest.getIfExists<{ type?: string; data?: Record<string, string> }>(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      );
      return s ? { type: s.type, keys: Object.keys(s.data ?? {}) } : undefined;
    },
    async resourceInterfaces() {
      if (interfaces.hasSynced()) return interfaces.list();
      return (await rest.call<{ items: ResourceInterface[] }>('GET', collectionPath('ResourceInterface'))).items;
    },
    synced: Promise.all([connectors.synced, namespaces.synced, classes.synced, interfaces.synced]).then(
      () => undefined,
    ),
    async stop() {
      await Promise.all([connectors.stop(), namespaces.stop(), classes.stop(), interfaces.stop()]);
      await rest.close();
    },
  };
}
