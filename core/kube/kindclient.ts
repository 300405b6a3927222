// Typed CRUD over one of our kinds, for callers that want a client per kind (tests, benchmarks); on the one
// REST client (client.ts).
import type { KindName } from '../api/index.ts';
import { KubeClient, kubeClient, type KubeAccess } from './client.ts';
import { kindResource, type KindObjects } from './resources.ts';
import type { KubeList } from './types.ts';

export type KindList<K extends KindName> = KubeList<KindObjects[K]>;

export class KindClient<K extends KindName> {
  readonly kind: K;
  private readonly client: KubeClient;

  constructor(kc: KubeAccess | KubeClient, kind: K) {
    this.client = kc instanceof KubeClient ? kc : kubeClient(kc);
    this.kind = kind;
  }

  get(name: string, namespace?: string): Promise<KindObjects[K]> {
    return this.client.get(kindResource(this.kind), name, namespace);
  }

  list(namespace?: string, labelSelector?: string): Promise<KindList<K>> {
    return this.client.list(kindResource(this.kind), { namespace, labelSelector });
  }

  create(obj: KindObjects[K]): Promise<KindObjects[K]> {
    return this.client.create(kindResource(this.kind), obj);
  }

  /** Replaces the status subresource; `obj.metadata.resourceVersion` guards against lost updates. */
  replaceStatus(obj: KindObjects[K]): Promise<KindObjects[K]> {
    return this.client.replaceStatus(kindResource(this.kind), obj);
  }

  async delete(name: string, namespace?: string): Promise<void> {
    await this.client.call('DELETE', this.client.path(kindResource(this.kind), { namespace, name }));
  }
}
