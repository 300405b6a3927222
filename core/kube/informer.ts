// Deprecated alias kept while callers move to core/kube/reflector.ts (`startInformer`), the one watch
// implementation: paginated list, long resumable watches, reconnect with backoff after any error.
import type { KubeConfig } from '@kubernetes/client-node';
import { startInformer, type Informer, type KObject } from './reflector.ts';
import type { Logger } from '../observability/log.ts';

export type Cache<T extends KObject> = Informer<T>;

export interface CacheOptions {
  labelSelector?: string;
  fieldSelector?: string;
  log?: Logger;
}

export function startCache<T extends KObject>(kc: KubeConfig, path: string, opts: CacheOptions = {}): Cache<T> {
  return startInformer<T>(kc, path, opts);
}
