// Server-side apply of arbitrary objects (CRDs, RBAC, built-in ConnectorClasses, system ConfigMaps, webhook
// configurations), as `kubectl apply --server-side --force-conflicts` does it, with one field manager for
// the project. The resource of each kind comes from API discovery (cached; looked up again for a kind that
// a CRD applied a moment ago has just added).
import { setTimeout as sleep } from 'node:timers/promises';
import { FIELD_MANAGER, KubeClient, kubeClient, type KubeAccess } from './client.ts';
import { discoveredType, discoveryPath, type ResourceType } from './resources.ts';
import type { KubeObject } from './types.ts';

export { FIELD_MANAGER };

interface APIResourceList {
  resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
}

/** Kind → resource, from the API server's discovery documents. */
export class Discovery {
  private readonly client: KubeClient;
  private readonly cache = new Map<string, Promise<APIResourceList>>();

  constructor(client: KubeClient) {
    this.client = client;
  }

  private groupVersion(apiVersion: string, fresh: boolean): Promise<APIResourceList> {
    const path = discoveryPath(apiVersion);
    let p = fresh ? undefined : this.cache.get(apiVersion);
    if (!p) {
      p = this.client.call<APIResourceList>('GET', path).catch((err) => {
        this.cache.delete(apiVersion);
        throw err;
      });
      this.cache.set(apiVersion, p);
    }
    return p;
  }

  /** The resource of `kind` in `apiVersion`; waits up to `waitMs` for a kind that is not served yet. */
  async resourceFor(apiVersion: string, kind: string, waitMs = 15_000): Promise<ResourceType> {
    const deadline = Date.now() + waitMs;
    for (let fresh = false; ; fresh = true) {
      let list: APIResourceList | undefined;
      try {
        list = await this.groupVersion(apiVersion, fresh);
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      const r = list?.resources?.find((x) => x.kind === kind && !x.name.includes('/'));
      if (r) return discoveredType(apiVersion, r);
      if (Date.now() > deadline) throw new Error(`the API server does not serve kind ${kind} in ${apiVersion}`);
      await sleep(300);
    }
  }
}

/** Server-side apply of each object in order (force: this project owns the fields it applies). */
export async function applyObjects(kc: KubeAccess | KubeClient, objects: KubeObject[]): Promise<void> {
  const client = kc instanceof KubeClient ? kc : kubeClient(kc);
  const discovery = new Discovery(client);
  try {
    for (const obj of objects) {
      if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
        throw new Error(
          `cannot apply an object without apiVersion, kind and metadata.name: ${JSON.stringify(obj).slice(0, 200)}`,
        );
      const r = await discovery.resourceFor(obj.apiVersion, obj.kind);
      const namespace = r.namespaced ? obj.metadata.namespace || 'default' : undefined;
      const body = { ...obj, metadata: { ...obj.metadata, ...(namespace ? { namespace } : {}) } };
      delete body.metadata.resourceVersion;
      await client.patch(r, obj.metadata.name, namespace, body, 'apply', { force: true, fieldManager: FIELD_MANAGER });
    }
  } finally {
    if (!(kc instanceof KubeClient)) await client.close();
  }
}
