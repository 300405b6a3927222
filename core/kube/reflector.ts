// A standalone informer over a raw collection path, for callers not yet on the manager (manager.ts shares
// one informer per resource type among all consumers of a process; this one has its own watch).
import { KubeClient, kubeClient, type KubeAccess, type KubeRest } from './client.ts';
import { SharedInformer, type Informer } from './informer.ts';
import type { Logger } from '../observability/log.ts';
import type { KubeObject } from './types.ts';

export { stripManagedFields, type Informer } from './informer.ts';

export type KObject = KubeObject;
export type Meta = NonNullable<KubeObject['metadata']>;

export interface InformerOptions<T> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Slim or drop (undefined) each object before it is stored. Default: drop managedFields. */
  transform?: (raw: KubeObject) => T | undefined;
  log?: Logger;
  pageSize?: number;
  rest?: KubeRest;
}

export function startInformer<T extends KubeObject>(
  kc: KubeAccess,
  path: string,
  opts: InformerOptions<T> = {},
): Informer<T> {
  const own = !(opts.rest instanceof KubeClient);
  const client = opts.rest instanceof KubeClient ? opts.rest : kubeClient(kc);
  const informer = new SharedInformer<T>(client, path, {
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    slim: opts.transform,
    log: opts.log,
    pageSize: opts.pageSize,
  });
  const view = informer.view({}, async () => {
    await informer.stop();
    if (own) await client.close();
  });
  informer.start();
  return view;
}
