// A watched, cached view of one resource type. client-node's ListWatch relists and reconnects with backoff
// on its own; this wrapper adds a typed `synced` promise and one place to log watch errors.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.ts';
import { kubeRest, type KubeRest } from './rest.ts';

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): ReadonlyArray<T>;
  on(event: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  /** Resolves after the first list. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

export interface CacheOptions {
  labelSelector?: string;
  fieldSelector?: string;
  log?: Logger;
}

/**
 * `path` is a collection path such as /api/v1/secrets or collectionPath('Connector'). T is any object
 * with Kubernetes metadata; our API types keep timestamps as the strings the wire carries, which
 * client-node's own types (Date) do not admit, hence the casts at the boundary.
 */
export function startCache<T extends { metadata?: { name?: string; namespace?: string } }>(kc: KubeConfig, path: string, opts: CacheOptions = {}): Cache<T> {
  return startObjectCache(kc, path, opts) as unknown as Cache<T>;
}

function startObjectCache(kc: KubeConfig, path: string, opts: CacheOptions): Cache<KubernetesObject> {
  type T = KubernetesObject;
  let rest: Promise<KubeRest> | undefined;
  const list = async (): Promise<KubernetesListObject<T>> => {
    rest ??= kubeRest(kc);
    return (await rest).call<KubernetesListObject<T>>('GET', path, { query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector } });
  };
  const informer = new ListWatch<T>(path, new Watch(kc), list, false, opts.labelSelector, opts.fieldSelector);
  let markSynced: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  informer.on('connect', () => markSynced());
  informer.on('error', (err) => opts.log?.warn('watch interrupted; reconnecting', { path, error: String((err as Error)?.message ?? err) }));
  void informer.start().then(() => markSynced(), (err) => opts.log?.warn('initial list failed; retrying', { path, error: String(err?.message ?? err) }));
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    on: (event, cb) => informer.on(event, cb),
    synced,
    stop: async () => {
      await informer.stop();
      if (rest) await (await rest).close();
    },
  };
}
