// A list+watch informer for controllers that must stay cheap at rest and bounded in memory:
// - paginated lists (limit=500), then one long watch with allowWatchBookmarks and a server-side
//   timeoutSeconds of 5-10 minutes (client-go's choice), resumed from the last resourceVersion, so a quiet
//   resource costs one request per ~7 minutes;
// - reconnects on any error with backoff (1 s doubling to 30 s); a 410 Gone relists, and a relist reports
//   deletions of objects that vanished meanwhile;
// - `transform` may slim an object (drop managedFields, keep only what is needed) or drop it entirely
//   (return undefined: not stored; a stored object that becomes undefined is reported deleted). That is how
//   the Secret informer keeps only Secrets that Connectors reference while watching all of them.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { kubeRest, KubeApiError, type KubeRest } from './rest.ts';
import type { Logger } from '../observability/log.ts';

export interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  managedFields?: unknown;
}

export interface KObject {
  metadata?: Meta;
}

export interface Informer<T extends KObject> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): T[];
  size(): number;
  on(event: 'add' | 'update' | 'delete', cb: (obj: T, old?: T) => void): void;
  /** Resolves after the first complete list. */
  synced: Promise<void>;
  hasSynced(): boolean;
  /** Re-run `transform` over a raw object obtained elsewhere (e.g. a GET) and store it as if watched. */
  upsert(raw: KObject): void;
  stop(): Promise<void>;
}

export interface InformerOptions<T> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Slim or drop (undefined) each object before it is stored. Default: drop managedFields. */
  transform?: (raw: KObject) => T | undefined;
  log?: Logger;
  pageSize?: number;
  rest?: KubeRest;
}

const keyOf = (name?: string, namespace?: string) => `${namespace ?? ''}/${name ?? ''}`;

export function stripManagedFields<T extends KObject>(raw: KObject): T {
  if (raw.metadata?.managedFields) delete raw.metadata.managedFields;
  return raw as T;
}

export function startInformer<T extends KObject>(
  kc: KubeConfig,
  path: string,
  opts: InformerOptions<T> = {},
): Informer<T> {
  const transform = opts.transform ?? ((raw: KObject) => stripManagedFields<T>(raw));
  const store = new Map<string, T>();
  // get() by namespace then name, so that a lookup (per proxied request) builds no `ns/name` key string.
  const index = new Map<string, Map<string, T>>();
  /** `ns/name` (or `/name`) as [ns, name]: a namespace has no '/'. */
  const splitKey = (key: string): [string, string] => {
    const slash = key.indexOf('/');
    return [key.slice(0, slash), key.slice(slash + 1)];
  };
  const put = (key: string, obj: T) => {
    store.set(key, obj);
    const [ns, name] = splitKey(key);
    let names = index.get(ns);
    if (!names) index.set(ns, (names = new Map()));
    names.set(name, obj);
  };
  const remove = (key: string) => {
    store.delete(key);
    const [ns, name] = splitKey(key);
    const names = index.get(ns);
    if (names?.delete(name) && names.size === 0) index.delete(ns);
  };
  const handlers: Record<'add' | 'update' | 'delete', Array<(obj: T, old?: T) => void>> = {
    add: [],
    update: [],
    delete: [],
  };
  let restPromise: Promise<KubeRest> | undefined;
  const rest = () => (restPromise ??= opts.rest ? Promise.resolve(opts.rest) : kubeRest(kc));
  const watch = new Watch(kc);
  let resourceVersion = '';
  let stopped = false;
  let synced = false;
  let markSynced!: () => void;
  const syncedPromise = new Promise<void>((r) => (markSynced = r));
  let abort: AbortController | undefined;
  let retryDelay = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const emit = (ev: 'add' | 'update' | 'delete', obj: T, old?: T) => {
    for (const h of handlers[ev]) {
      try {
        h(obj, old);
      } catch (err) {
        opts.log?.error('informer handler failed', { path, error: (err as Error).message });
      }
    }
  };

  function apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: KObject): void {
    const key = keyOf(raw.metadata?.name, raw.metadata?.namespace);
    const old = store.get(key);
    if (type === 'DELETED') {
      if (old) {
        remove(key);
        emit('delete', old);
      }
      return;
    }
    const obj = transform(raw);
    if (obj === undefined) {
      if (old) {
        remove(key);
        emit('delete', old);
      }
      return;
    }
    put(key, obj);
    if (old) emit('update', obj, old);
    else emit('add', obj);
  }

  async function list(): Promise<void> {
    const r = await rest();
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await r.call<{ metadata?: { resourceVersion?: string; continue?: string }; items?: KObject[] }>(
        'GET',
        path,
        {
          query: {
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: String(opts.pageSize ?? 500),
            continue: cont,
          },
        },
      );
      for (const item of page.items ?? []) {
        seen.add(keyOf(item.metadata?.name, item.metadata?.namespace));
        apply('MODIFIED', item);
      }
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont && !stopped);
    for (const [key, obj] of [...store]) {
      if (!seen.has(key)) {
        remove(key);
        emit('delete', obj);
      }
    }
    resourceVersion = rv;
  }

  function scheduleRetry(err: unknown): void {
    if (stopped) return;
    retryDelay = Math.min(retryDelay ? retryDelay * 2 : 1000, 30_000);
    opts.log?.warn('watch interrupted; reconnecting', {
      path,
      inMs: retryDelay,
      error: String((err as Error)?.message ?? err),
    });
    retryTimer = setTimeout(() => void run(), retryDelay);
  }

  async function run(): Promise<void> {
    if (stopped) return;
    try {
      if (!resourceVersion) {
        await list();
        if (!synced) {
          synced = true;
          markSynced();
        }
      }
    } catch (err) {
      scheduleRetry(err);
      return;
    }
    if (stopped) return;
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    // client-node aborts a watch silent for 30 s; ours stay quiet for minutes (bookmarks aside).
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = (timeoutSeconds + 60) * 1000;
    let gone = false;
    let gotEvent = false;
    const startedAt = Date.now();
    try {
      abort = await watch.watch(
        path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
        },
        (type: string, obj: KObject & { code?: number }) => {
          gotEvent = true;
          if (type === 'ERROR') {
            if (obj.code === 410) gone = true;
            return;
          }
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') apply(type, obj);
          if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
        },
        (err: unknown) => {
          abort = undefined;
          if (stopped) return;
          const status =
            (err as { statusCode?: number; code?: number })?.statusCode ?? (err as { code?: number })?.code;
          if (gone || status === 410) {
            resourceVersion = '';
            void run();
          } else if (err && (err as Error).name !== 'TimeoutError' && !(err as Error).name?.includes('Abort')) {
            scheduleRetry(err);
          } else if (!gotEvent && Date.now() - startedAt < 1000) {
            scheduleRetry(new Error('watch closed at once'));
          } else {
            retryDelay = 0;
            void run();
          }
        },
      );
      retryDelay = 0;
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 410) resourceVersion = '';
      scheduleRetry(err);
    }
  }

  void run();

  return {
    get: (name, namespace) => index.get(namespace ?? '')?.get(name),
    list: (namespace) => {
      const all = [...store.values()];
      return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
    },
    size: () => store.size,
    on: (event, cb) => void handlers[event].push(cb),
    synced: syncedPromise,
    hasSynced: () => synced,
    upsert: (raw) => apply('MODIFIED', raw),
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      abort?.abort();
      if (restPromise && !opts.rest) await (await restPromise).close().catch(() => {});
    },
  };
}
