// REST paths and typed access for our kinds, so components never spell a group, version or plural.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  GROUP,
  VERSION,
  KINDS,
  type KindName,
  type Connector,
  type ConnectorClass,
  type AccessPolicy,
  type AccessRequest,
  type ResourceInterface,
} from '../api/index.ts';

export interface KindObjects {
  Connector: Connector;
  ConnectorClass: ConnectorClass;
  AccessPolicy: AccessPolicy;
  AccessRequest: AccessRequest;
  ResourceInterface: ResourceInterface;
}

/** Collection path, e.g. /apis/connectors.alauda.io/v1alpha1/connectors (all namespaces) or .../namespaces/ns/connectors. */
export function collectionPath(kind: KindName, namespace?: string): string {
  const info = KINDS[kind];
  const ns = info.scope === 'Namespaced' && namespace ? `/namespaces/${namespace}` : '';
  return `/apis/${GROUP}/${VERSION}${ns}/${info.plural}`;
}

export interface KindList<K extends KindName> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: KindObjects[K][];
}

/** Typed CRUD over one of our kinds. */
export class KindClient<K extends KindName> {
  private readonly api: CustomObjectsApi;
  readonly kind: K;
  private readonly plural: string;
  private readonly namespaced: boolean;

  constructor(kc: KubeConfig, kind: K) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.kind = kind;
    this.plural = KINDS[kind].plural;
    this.namespaced = KINDS[kind].scope === 'Namespaced';
  }

  async get(name: string, namespace?: string): Promise<KindObjects[K]> {
    return (
      this.namespaced
        ? await this.api.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: namespace!,
            plural: this.plural,
            name,
          })
        : await this.api.getClusterCustomObject({ group: GROUP, version: VERSION, plural: this.plural, name })
    ) as KindObjects[K];
  }

  async list(namespace?: string, labelSelector?: string): Promise<KindList<K>> {
    return (
      this.namespaced && namespace
        ? await this.api.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: this.plural,
            labelSelector,
          })
        : await this.api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: this.plural, labelSelector })
    ) as KindList<K>;
  }

  async create(obj: KindObjects[K]): Promise<KindObjects[K]> {
    return (
      this.namespaced
        ? await this.api.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: obj.metadata.namespace!,
            plural: this.plural,
            body: obj,
          })
        : await this.api.createClusterCustomObject({ group: GROUP, version: VERSION, plural: this.plural, body: obj })
    ) as KindObjects[K];
  }

  /** Replaces the status subresource; `obj.metadata.resourceVersion` guards against lost updates. */
  async replaceStatus(obj: KindObjects[K]): Promise<KindObjects[K]> {
    const name = obj.metadata.name!;
    return (
      this.namespaced
        ? await this.api.replaceNamespacedCustomObjectStatus({
            group: GROUP,
            version: VERSION,
            namespace: obj.metadata.namespace!,
            plural: this.plural,
            name,
            body: obj,
          })
        : await this.api.replaceClusterCustomObjectStatus({
            group: GROUP,
            version: VERSION,
            plural: this.plural,
            name,
            body: obj,
          })
    ) as KindObjects[K];
  }

  async delete(name: string, namespace?: string): Promise<void> {
    if (this.namespaced)
      await this.api.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: namespace!,
        plural: this.plural,
        name,
      });
    else await this.api.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: this.plural, name });
  }
}
