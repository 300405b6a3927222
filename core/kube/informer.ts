// A shared informer: one list+watch of one collection, one store, any number of consumer views.
//
// List and watch (the reflector):
// - paginated lists (100 objects a page, LIST_PAGE_SIZE), then one long watch from the list's resourceVersion with
//   allowWatchBookmarks and a server-side timeoutSeconds of 5-10 minutes (client-go's choice), resumed from
//   the last resourceVersion seen (event or bookmark), so a quiet resource costs one request per ~7 minutes
//   and a reconnect replays exactly what was missed;
// - 410 Gone (as an HTTP status or as an ERROR event: the resourceVersion was compacted) relists, and the
//   relist reports the objects that vanished meanwhile as deleted;
// - any other failure reconnects with exponential backoff (1 s doubling to 30 s, ±20 % jitter), reset once
//   a watch is established; a watch that ends at once without an event counts as a failure, so a server
//   that closes watches cannot make the loop spin.
//
// Store and views: each consumer registers a view with an optional `keep` filter (which objects it wants;
// decided on metadata: labels, name, namespace) and `metadataOnly` (it needs no more than metadata). An
// object is stored when some view keeps it, as metadata only when every view that keeps it says so, else
// slimmed by the informer's `slim` (e.g. a Secret reduced to type and data). So one watch per resource serves
// consumers that want different subsets, and memory holds only what someone needs. A view registered after
// objects were dropped triggers one relist, so it misses nothing.
//
// Events: a view's handler sees `add` when an object enters its filter, `update` when a kept object changes
// (a new resourceVersion; a relist that finds an object unchanged is silent), `delete` when it leaves. A
// handler added to a view that already holds objects first receives an `add` for each of them (as client-go
// replays its indexer), so a late handler cannot miss state that was listed before it was attached.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observability/log.ts';
import { isGone, KubeApiError, type KubeClient } from './client.ts';
import { fieldMatcher, labelMatcher } from './labels.ts';
import type { KubeList, KubeObject, Status } from './types.ts';
import { watchEvents } from './watch.ts';

export interface EventHandler<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

/** A consumer's view of a shared informer. */
export interface Informer<T extends KubeObject> {
  /** A cluster-scoped object: no namespace. */
  get(name: string, namespace?: string): T | undefined;
  /** Every object this view keeps, or those of one namespace. */
  list(namespace?: string): T[];
  /** objectKey (`ns/name` or `name`) of every object this view keeps. */
  keys(): string[];
  size(): number;
  /** Objects whose index `name` (addIndex) yields `value`. */
  byIndex(name: string, value: string): T[];
  /** Attach a handler (replaying an `add` for every object already kept); returns a detach function. */
  addHandler(handler: EventHandler<T>): () => void;
  /** One-event form of addHandler (`add` replays too). */
  on(event: 'add' | 'update' | 'delete', cb: (obj: T, old?: T) => void): void;
  /** Resolves once this view has a complete list. */
  synced: Promise<void>;
  hasSynced(): boolean;
  /** Store an object obtained otherwise (the answer of a write or a GET), as if watched. */
  upsert(raw: KubeObject): void;
  /** Detach this view (the manager stops an informer whose last view is detached). */
  stop(): Promise<void>;
}

export interface ViewOptions {
  /** The objects this consumer wants, decided on metadata; default all. */
  keep?: (obj: KubeObject) => boolean;
  /** Client-side label selector (combined with keep). */
  labelSelector?: string;
  /** Client-side field selector on metadata.name / metadata.namespace (combined with keep). */
  fieldSelector?: string;
  /** This consumer needs metadata only (e.g. compiled-policy ConfigMaps whose wasm it never reads). */
  metadataOnly?: boolean;
}

export interface InformerOptions<T> {
  /** Server-side selectors: part of the watch (consumers of one informer share them). */
  labelSelector?: string;
  fieldSelector?: string;
  /** Slim a kept object before it is stored; undefined drops it. Default: drop managedFields. */
  slim?: (raw: KubeObject) => T | undefined;
  log?: Logger;
  /** Objects per list page (default LIST_PAGE_SIZE). */
  pageSize?: number;
  /** Server-side watch timeout; default random 300-600 s. */
  watchTimeoutSeconds?: () => number;
  /** First reconnect delay (default 1 s) and the cap (default 30 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/**
 * Objects per page of a list. client-go asks for 500; a page is read whole (a string, then parsed, then slimmed)
 * and a page of 500 Connectors or Secrets with their managedFields is ~2 MB of JSON and several MB of transient
 * heap: a proxy started with 10,000 of each peaked at 169-186 MiB RSS with 500 and 121 MiB with 100, serving the
 * same (bench/proxy-scale.bench.ts, fresh proxy). 100 costs a 10,000-object list 100 requests instead of 20.
 */
export const LIST_PAGE_SIZE = 100;

/** Drops metadata.managedFields (large, never read): the default slimming. */
export function stripManagedFields<T extends KubeObject>(raw: KubeObject): T {
  if (raw.metadata?.managedFields) delete raw.metadata.managedFields;
  return raw as T;
}

/** apiVersion, kind and metadata (without managedFields) of an object. */
export function metadataOf(raw: KubeObject): KubeObject {
  const metadata = { ...raw.metadata };
  delete metadata.managedFields;
  return { apiVersion: raw.apiVersion, kind: raw.kind, metadata };
}

class GoneEvent extends Error {}

interface ViewState<T extends KubeObject> {
  sees: (obj: KubeObject) => boolean;
  metadataOnly: boolean;
  handlers: Set<EventHandler<T>>;
  /** Resolves after the first list that ran with this view registered. */
  synced: Promise<void>;
  isSynced: boolean;
  markSynced: () => void;
}

const nsOf = (o: KubeObject) => o.metadata?.namespace ?? '';
const nameOf = (o: KubeObject) => o.metadata?.name ?? '';

/** Pure: whether resourceVersion `a` is older than `b` (etcd's are integers; anything else is never older). */
export function olderVersion(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return a.length !== b.length ? a.length < b.length : a < b;
}

export class SharedInformer<T extends KubeObject> {
  readonly path: string;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions<T>;
  private readonly slim: (raw: KubeObject) => T | undefined;
  /** namespace ('' for cluster-scoped) → name → object. */
  private readonly store = new Map<string, Map<string, T>>();
  private count = 0;
  private readonly views = new Set<ViewState<T>>();
  private readonly indexers = new Map<string, (obj: T) => string[]>();
  private readonly indexes = new Map<string, Map<string, Set<T>>>();
  private resourceVersion = '';
  private dropped = false;
  private relistWanted = false;
  private started = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private watchAbort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private listsStarted = 0;
  private listsDone = 0;
  private readonly waiting: Array<{ list: number; resolve: () => void }> = [];

  constructor(client: KubeClient, path: string, opts: InformerOptions<T> = {}) {
    this.client = client;
    this.path = path;
    this.opts = opts;
    this.slim = opts.slim ?? ((raw) => stripManagedFields<T>(raw));
  }

  /** The resourceVersion the next watch resumes from ('' before the first list or after a 410). */
  lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Lists completed so far (the first, and one per 410 or late view). */
  lists(): number {
    return this.listsDone;
  }

  addIndex(name: string, fn: (obj: T) => string[]): void {
    if (this.indexers.has(name)) throw new Error(`informer ${this.path}: index ${JSON.stringify(name)} exists already`);
    this.indexers.set(name, fn);
    const index = new Map<string, Set<T>>();
    this.indexes.set(name, index);
    for (const names of this.store.values()) for (const obj of names.values()) indexAdd(fn, index, obj);
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  private put(obj: T, old: T | undefined): void {
    const ns = nsOf(obj);
    let names = this.store.get(ns);
    if (!names) this.store.set(ns, (names = new Map<string, T>()));
    names.set(nameOf(obj), obj);
    if (!old) this.count++;
    for (const [name, fn] of this.indexers) {
      const index = this.indexes.get(name)!;
      if (old) indexRemove(fn, index, old);
      indexAdd(fn, index, obj);
    }
  }

  private remove(old: T): void {
    const ns = nsOf(old);
    const names = this.store.get(ns);
    if (!names?.delete(nameOf(old))) return;
    this.count--;
    if (names.size === 0) this.store.delete(ns);
    for (const [name, fn] of this.indexers) indexRemove(fn, this.indexes.get(name)!, old);
  }

  private lookup(name: string, namespace: string): T | undefined {
    return this.store.get(namespace)?.get(name);
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log?.error('informer handler failed', { path: this.path, error: (err as Error).message });
    }
  }

  /** Store (or drop) one object as the views want it, and tell each view what changed for it. */
  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: KubeObject, fromWatch: boolean): void {
    const name = nameOf(raw);
    const ns = nsOf(raw);
    const old = this.lookup(name, ns);
    let next: T | undefined;
    if (type !== 'DELETED') {
      // An event older than what a write already stored (upsert) would move the cache backwards.
      if (fromWatch && old && olderVersion(raw.metadata?.resourceVersion, old.metadata?.resourceVersion)) return;
      let wanted = this.views.size === 0;
      let full = wanted;
      for (const v of this.views) {
        if (!v.sees(raw)) continue;
        wanted = true;
        if (!v.metadataOnly) full = true;
      }
      if (wanted) next = full ? this.slim(raw) : (metadataOf(raw) as T);
      if (!wanted || !full || next === undefined) this.dropped = true;
      if (next) keepIdentity(next, raw);
    }
    if (!old && !next) return;
    if (next) this.put(next, old);
    else this.remove(old!);
    const changed = !old || !next || old.metadata?.resourceVersion !== next.metadata?.resourceVersion;
    for (const v of this.views) {
      const was = old !== undefined && v.sees(old);
      const is = next !== undefined && v.sees(next);
      if (!was && is) for (const h of v.handlers) this.call(() => h.add?.(next!));
      else if (was && is && changed) for (const h of v.handlers) this.call(() => h.update?.(next!, old));
      else if (was && !is) for (const h of v.handlers) this.call(() => h.delete?.(old));
    }
  }

  private async list(signal: AbortSignal): Promise<void> {
    const number = ++this.listsStarted;
    const seen = new Map<string, Set<string>>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.call<KubeList<KubeObject>>('GET', this.path, {
        query: {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          limit: String(this.opts.pageSize ?? LIST_PAGE_SIZE),
          continue: cont,
        },
        signal,
      });
      for (const item of page.items ?? []) {
        const ns = nsOf(item);
        let names = seen.get(ns);
        if (!names) seen.set(ns, (names = new Set()));
        names.add(nameOf(item));
        this.apply('MODIFIED', item, false);
      }
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    for (const [ns, names] of [...this.store])
      for (const [name, obj] of [...names]) if (!seen.get(ns)?.has(name)) this.apply('DELETED', obj, false);
    this.resourceVersion = rv;
    this.listsDone = number;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i].list <= number) this.waiting.splice(i, 1)[0].resolve();
    }
  }

  /** One watch from the current resourceVersion; returns when the server ends it or a relist is wanted. */
  private async watch(): Promise<{ events: number; ms: number }> {
    const timeoutSeconds = this.opts.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
    const started = Date.now();
    let events = 0;
    const abort = (this.watchAbort = new AbortController());
    const onStop = () => abort.abort();
    this.stopSignal.signal.addEventListener('abort', onStop, { once: true });
    try {
      for await (const ev of watchEvents(this.client, this.path, {
        resourceVersion: this.resourceVersion,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        timeoutSeconds,
        allowWatchBookmarks: true,
        signal: abort.signal,
      })) {
        events++;
        if (ev.type === 'ERROR') {
          const status = ev.object as Status;
          if (status.code === 410) throw new GoneEvent(status.message ?? 'resourceVersion too old');
          throw new KubeApiError(status.code ?? 500, 'WATCH', this.path, status);
        }
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED')
          this.apply(ev.type, ev.object, true);
        const rv = ev.object.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
      }
    } finally {
      this.stopSignal.signal.removeEventListener('abort', onStop);
      if (this.watchAbort === abort) this.watchAbort = undefined;
    }
    return { events, ms: Date.now() - started };
  }

  private async run(): Promise<void> {
    const signal = this.stopSignal.signal;
    let failures = 0;
    let lastList = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion || this.relistWanted) {
          this.relistWanted = false;
          lastList = Date.now();
          await this.list(signal);
          if (this.stopped) return;
          if (this.relistWanted) continue;
        }
        const { events, ms } = await this.watch();
        if (this.stopped) return;
        if (this.relistWanted) continue;
        if (events === 0 && ms < 1000) throw new Error('the watch ended at once');
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof GoneEvent || isGone(err)) {
          this.resourceVersion = '';
          this.opts.log?.info('resourceVersion expired; relisting', { path: this.path });
          // A relist is the cure, unless the previous one was a moment ago (then back off like any failure).
          if (Date.now() - lastList > 1000) continue;
        }
        failures++;
        const base = this.opts.backoffBaseMs ?? 1000;
        const max = this.opts.backoffMaxMs ?? 30_000;
        const delay = Math.round(Math.min(max, base * 2 ** Math.min(failures - 1, 20)) * (0.8 + 0.4 * Math.random()));
        this.opts.log?.warn('watch interrupted; reconnecting', {
          path: this.path,
          inMs: delay,
          error: String((err as Error)?.message ?? err),
        });
        await sleep(delay, undefined, { signal }).catch(() => {});
      }
    }
  }

  private readonly gates: Array<Promise<unknown>> = [];

  /**
   * Delay the first list until `p` settles (e.g. the Secrets a consumer keeps are those its Connectors
   * reference: list them once the Connectors are known). Only before start.
   */
  startAfter(p: Promise<unknown>): void {
    if (!this.started) this.gates.push(p);
  }

  /** Start listing and watching (idempotent). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const gates = this.gates.splice(0);
    this.loop = gates.length
      ? Promise.allSettled(gates).then(() => (this.stopped ? undefined : this.run()))
      : this.run();
  }

  isStarted(): boolean {
    return this.started;
  }

  /** Whether any consumer view is attached. */
  hasViews(): boolean {
    return this.views.size > 0;
  }

  /** List again at once (ends the current watch); views registered meanwhile are synced by that list. */
  relist(): void {
    this.relistWanted = true;
    this.watchAbort?.abort();
  }

  private afterList(list: number): Promise<void> {
    if (this.listsDone >= list) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ list, resolve }));
  }

  /** A consumer view; `onStop` runs when the view is stopped. */
  view(o: ViewOptions = {}, onStop?: () => Promise<void>): Informer<T> {
    const label = o.labelSelector ? labelMatcher(o.labelSelector) : undefined;
    const field = o.fieldSelector ? fieldMatcher(o.fieldSelector) : undefined;
    const keep = o.keep;
    const keepsAll = !label && !field && !keep;
    const sees = keepsAll
      ? () => true
      : (obj: KubeObject) => (!label || label(obj.metadata?.labels)) && (!field || field(obj)) && (!keep || keep(obj));
    let resolveSynced!: () => void;
    const state: ViewState<T> = {
      sees,
      metadataOnly: Boolean(o.metadataOnly),
      handlers: new Set(),
      synced: new Promise<void>((r) => (resolveSynced = r)),
      isSynced: false,
      markSynced: () => {
        state.isSynced = true;
        resolveSynced();
      },
    };
    this.views.add(state);
    // Nothing dropped so far: the list under way (or the first) gives this view everything. Otherwise an
    // object it wants may have been dropped: list again.
    if (!this.dropped) void this.afterList(Math.max(1, this.listsStarted)).then(state.markSynced);
    else {
      void this.afterList(this.listsStarted + 1).then(state.markSynced);
      if (this.started) this.relist();
    }

    const visible = (obj: T | undefined) => (obj !== undefined && sees(obj) ? obj : undefined);
    const all = (namespace?: string): T[] => {
      const out: T[] = [];
      const groups =
        namespace === undefined ? this.store.values() : [this.store.get(namespace) ?? new Map<string, T>()];
      for (const names of groups) for (const obj of names.values()) if (sees(obj)) out.push(obj);
      return out;
    };
    let detached = false;
    return {
      get: (name, namespace) => visible(this.lookup(name, namespace ?? '')),
      list: (namespace) => all(namespace),
      keys: () =>
        all().map((obj) => (obj.metadata?.namespace ? `${obj.metadata.namespace}/${nameOf(obj)}` : nameOf(obj))),
      size: () => (keepsAll ? this.count : all().length),
      byIndex: (name, value) => {
        const index = this.indexes.get(name);
        if (!index) throw new Error(`informer ${this.path}: no index ${JSON.stringify(name)}`);
        const found = index.get(value);
        return found ? [...found].filter((obj) => sees(obj)) : [];
      },
      addHandler: (handler) => {
        state.handlers.add(handler);
        if (handler.add) for (const obj of all()) this.call(() => handler.add!(obj));
        return () => void state.handlers.delete(handler);
      },
      on(event, cb) {
        this.addHandler(
          event === 'add'
            ? { add: (obj) => cb(obj) }
            : event === 'update'
              ? { update: (obj, old) => cb(obj, old) }
              : { delete: (obj) => cb(obj) },
        );
      },
      synced: state.synced,
      hasSynced: () => state.isSynced,
      upsert: (raw) => this.apply('MODIFIED', raw, false),
      stop: async () => {
        if (detached) return;
        detached = true;
        this.views.delete(state);
        state.handlers.clear();
        await onStop?.();
      },
    };
  }

  /** Stop watching; views keep their last state. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    await this.loop?.catch(() => {});
  }
}

/**
 * A slimmed object keeps what the store and its events rely on: name, namespace and resourceVersion (a
 * transform that drops them would misplace the object or hide its updates).
 */
function keepIdentity(obj: KubeObject, raw: KubeObject): void {
  const m = raw.metadata;
  if (!m) return;
  const meta = (obj.metadata ??= {});
  if (meta.name === undefined && m.name !== undefined) meta.name = m.name;
  if (meta.namespace === undefined && m.namespace !== undefined) meta.namespace = m.namespace;
  if (meta.resourceVersion === undefined && m.resourceVersion !== undefined) meta.resourceVersion = m.resourceVersion;
}

function indexAdd<T>(fn: (obj: T) => string[], index: Map<string, Set<T>>, obj: T): void {
  for (const value of fn(obj)) {
    let set = index.get(value);
    if (!set) index.set(value, (set = new Set()));
    set.add(obj);
  }
}

function indexRemove<T>(fn: (obj: T) => string[], index: Map<string, Set<T>>, obj: T): void {
  for (const value of fn(obj)) {
    const set = index.get(value);
    if (set?.delete(obj) && set.size === 0) index.delete(value);
  }
}
