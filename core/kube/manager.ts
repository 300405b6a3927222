// The manager: what every component of a process shares to talk to Kubernetes, in the manner of
// controller-runtime's manager.
//
//   const mgr = new Manager(kc, { systemNamespace, log, health: { port: 8081 } });
//   const connectors = mgr.informer(resources.Connector);
//   mgr.controller({ name: 'Connector', for: { informer: connectors }, watches: [...], reconcile });
//   await mgr.start();        // informers list and watch; leader election; controllers when leading
//   ...
//   await mgr.stop();
//
// - one REST client (client.ts) for every call;
// - shared informers: one list+watch per resource type (and namespace / server-side selector) per process,
//   whoever asks for it; each consumer gets a view with its own filter (informer.ts), so memory holds what
//   some consumer needs and the API server serves one watch;
// - feature flags with change events (featureflags.ts), on the same watch of the system namespace's
//   ConfigMaps as everything else there;
// - leader election on a Lease: controllers (and runnables) marked leader-elected run only while leading,
//   caches run everywhere so a new leader starts warm;
// - health: /readyz = every cache synced, the leader election decided (where there is one) and the
//   components' own checks; /healthz fails for a leader stuck without renewing; /metrics;
// - declarative watches: a controller names the objects it reconciles and the watches that enqueue them,
//   with predicates (generation changed, annotations changed, label selectors) and key mappings (owner
//   references, indexes: "when a Secret changes, enqueue the Connectors that reference it").
//
// Registrations may come before or after start (components of `connectors up` share one manager and
// start one after another): an informer or controller registered later starts at once. A consumer that stops
// (a component of `connectors up`, the approval controllers when their flags go off) stops its views: the
// manager forgets them (readiness no longer waits for them), and an informer whose last view is gone stops
// watching and frees its store; a later registration starts it afresh.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Connector } from '../api/index.ts';
import { FEATURE_FLAGS_CONFIGMAP, LABELS, type FeatureFlag } from '../api/keys.ts';
import { createLogger, type Logger } from '../observability/log.ts';
import { startHealthServer, type Check, type HealthServer } from '../observability/server.ts';
import { KubeClient, kubeClient, type KubeAccess } from './client.ts';
import { systemNamespace as defaultSystemNamespace } from './config.ts';
import { Controller, type ReconcileResult } from './controller.ts';
import { createEventRecorder, type EventRecorder } from './events.ts';
import { featureFlags, type FeatureFlags } from './featureflags.ts';
import { SharedInformer, stripManagedFields, type Informer } from './informer.ts';
import { startLeaderElection, type LeaderElector } from './leaderelection.ts';
import { ownKey, type KeyMapper, type Predicate, type WatchedEvent } from './predicates.ts';
import { resourcePath, resources, type ObjectOf, type ResourceType } from './resources.ts';
import type { RateLimiterOptions } from './workqueue.ts';
import type { KubeObject, Namespace, Secret } from './types.ts';

export interface ManagerOptions {
  /** Where the components keep their configuration (flags ConfigMap, Lease, ...). */
  systemNamespace: string;
  log?: Logger;
  /** Serve /healthz, /readyz and /metrics (port 0: any free port). */
  health?: { port: number; host?: string };
  /** Use this client (and do not close it on stop). */
  client?: KubeClient;
  /**
   * Keep Connectors as identity and spec only (no status, annotations or managedFields), for a manager none of
   * whose consumers reads a Connector's status: the proxy's own. A Connector with its Ready conditions is ~2.6 KiB
   * of heap, ~0.7 KiB without them. Default false (the controller compares and writes status).
   */
  connectorSpecOnly?: boolean;
}

export interface InformerSpec<T> {
  /** Watch one namespace only (a namespaced resource). Part of the watch: consumers share it. */
  namespace?: string;
  /** Server-side label selector: part of the watch, for a resource only one consumer ever watches. */
  serverLabelSelector?: string;
  /** This consumer's filter (client-side, on the shared watch): label selector, field selector on metadata, function. */
  labelSelector?: string;
  fieldSelector?: string;
  keep?: (obj: KubeObject) => boolean;
  /** This consumer reads metadata only. */
  metadataOnly?: boolean;
  /** Indexes to maintain on the shared store (by name; a name already defined is kept). */
  indexes?: Record<string, (obj: T) => string[]>;
  /** Do not list before these caches have synced (`keep` depends on them); only before the informer starts. */
  after?: Array<{ synced: Promise<void> }>;
}

export interface LeaderElectionConfig {
  /** Lease name (in the system namespace unless `namespace`). */
  name: string;
  namespace?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** A watch that enqueues keys into a controller. */
export type WatchSpec<T extends KubeObject = KubeObject> =
  | { informer: Informer<T>; map?: KeyMapper<T>; predicate?: Predicate<T> }
  | { flags: FeatureFlags; map: () => string[]; which?: FeatureFlag[] };

export interface ControllerSpec<P extends KubeObject> {
  /** Kind or name, for logs and metrics. */
  name: string;
  /** The reconciled objects: each run (each leadership term) starts by enqueueing all of them. */
  for: { informer: Informer<P>; predicate?: Predicate<P>; key?: (obj: P) => string };
  /** Other watches that enqueue keys (e.g. a Secret's referrers); their informers are waited for too. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each watch has its own object type (an existential list)
  watches?: WatchSpec<any>[];
  reconcile(key: string): Promise<ReconcileResult | void>;
  workers?: number;
  backoff?: RateLimiterOptions;
  /** Run only while this process leads (default true; without leader election the process always leads). */
  leaderElected?: boolean;
}

export interface ManagedController {
  readonly name: string;
  enqueue(key: string): void;
  enqueueAfter(key: string, ms: number): void;
  /** Whether its workers run (leading and caches synced). */
  running(): boolean;
  /** Reconciles run so far. */
  reconciles(): number;
  /** Unregister (stops its workers; its handlers stay detached). */
  stop(): Promise<void>;
}

/** Something else the manager starts and stops (a server, a loop), optionally only while leading. */
export interface Runnable {
  name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  leaderElected?: boolean;
}

/**
 * How each built-in resource is kept in memory: per resource type, the union of what its consumers read.
 * A Secret: name, namespace, resourceVersion, type, data and the custom-CA label (the controller's and the
 * proxy's/API's `keep` filters and lookups read nothing else; other labels and annotations are dropped:
 * kubectl's last-applied annotation of a Secret holds its data in clear, and a cluster's Secrets are the largest
 * cache a proxy holds). A view that filters Secrets on another label needs that label added here.
 */
function slimFor(r: ResourceType, opts: ManagerOptions): ((raw: KubeObject) => KubeObject) | undefined {
  if (r === resources.Connector && opts.connectorSpecOnly)
    return (raw) => {
      const c = raw as Connector;
      const m = c.metadata ?? {};
      return {
        apiVersion: c.apiVersion,
        kind: c.kind,
        metadata: {
          name: m.name,
          namespace: m.namespace,
          uid: m.uid,
          resourceVersion: m.resourceVersion,
          generation: m.generation,
          labels: m.labels,
        },
        spec: c.spec,
      } as Connector;
    };
  if (r === resources.Secret)
    return (raw) => {
      const s = raw as Secret;
      const m = s.metadata ?? {};
      const ca = m.labels?.[LABELS.caCert];
      return {
        metadata: {
          name: m.name,
          namespace: m.namespace,
          resourceVersion: m.resourceVersion,
          ...(ca === undefined ? {} : { labels: { [LABELS.caCert]: ca } }),
        },
        type: s.type ?? 'Opaque',
        data: s.data ?? {},
      } as Secret;
    };
  if (r === resources.Namespace)
    return (raw) => {
      const m = (raw as Namespace).metadata ?? {};
      return {
        metadata: { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels },
      };
    };
  return undefined;
}

interface ControllerEntry {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- controllers of different object types share one set
  spec: ControllerSpec<any>;
  current: Controller | undefined;
  starting: boolean;
  count: number;
  detach: Array<() => void>;
  removed: boolean;
}

/** How a component gets its manager when it is given a kubeconfig instead of one. */
export interface OwnManagerOptions {
  /** Default: the namespace this process runs in (core/kube/config.ts). */
  systemNamespace?: string;
  log: Logger;
  /** Serve /healthz, /readyz and /metrics on this port of its own manager. */
  healthPort?: number;
  healthHost?: string;
  connectorSpecOnly?: boolean;
}

/**
 * The manager a component runs on: `kcOrManager` when it is one (`shared`; a system namespace asked for must be
 * that manager's), else a manager of the component's own for that kubeconfig (the component stops it).
 */
export function componentManager(
  kcOrManager: KubeAccess | Manager,
  o: OwnManagerOptions,
): { mgr: Manager; shared: boolean } {
  if (kcOrManager instanceof Manager) {
    if (o.systemNamespace && o.systemNamespace !== kcOrManager.systemNamespace)
      throw new Error(`the manager's system namespace is ${kcOrManager.systemNamespace}, not ${o.systemNamespace}`);
    return { mgr: kcOrManager, shared: true };
  }
  const mgr = new Manager(kcOrManager, {
    systemNamespace: o.systemNamespace ?? defaultSystemNamespace(),
    log: o.log,
    health: o.healthPort === undefined ? undefined : { port: o.healthPort, host: o.healthHost },
    connectorSpecOnly: o.connectorSpecOnly,
  });
  return { mgr, shared: false };
}

export class Manager {
  readonly client: KubeClient;
  readonly access: KubeAccess;
  readonly log: Logger;
  readonly systemNamespace: string;
  private readonly ownClient: boolean;
  private readonly opts: ManagerOptions;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one cache of informers of different object types
  private readonly informers = new Map<string, SharedInformer<any>>();
  private readonly views: Array<Informer<KubeObject>> = [];
  private readonly controllers = new Set<ControllerEntry>();
  private readonly runnables = new Set<{ r: Runnable; running: boolean }>();
  private readonly readyChecks = new Map<string, Check>();
  private readonly healthChecks = new Map<string, Check>();
  private readonly recorders = new Map<string, EventRecorder>();
  private flagsCache: FeatureFlags | undefined;
  private election: LeaderElectionConfig | undefined;
  private elector: LeaderElector | undefined;
  private leading = false;
  private started = false;
  private stopped = false;
  private starting: Promise<void> | undefined;
  /** Serialises leadership transitions. */
  private transitions: Promise<void> = Promise.resolve();
  health: HealthServer | undefined;

  constructor(access: KubeAccess, opts: ManagerOptions) {
    this.access = access;
    this.opts = opts;
    this.systemNamespace = opts.systemNamespace;
    this.log = opts.log ?? createLogger('manager');
    this.ownClient = !opts.client;
    this.client = opts.client ?? kubeClient(access);
  }

  // ---- informers

  /**
   * A view of the shared informer of a resource type. One informer (one watch) exists per resource type,
   * namespace and server-side selector; every caller with the same ones shares it.
   */
  informer<R extends ResourceType>(r: R, spec: InformerSpec<ObjectOf<R>> = {}): Informer<ObjectOf<R>> {
    type T = ObjectOf<R>;
    const ns = r.namespaced ? spec.namespace : undefined;
    const id = `${resourcePath(r, { namespace: ns })}?${spec.serverLabelSelector ?? ''}`;
    let shared = this.informers.get(id) as SharedInformer<T> | undefined;
    if (!shared) {
      shared = new SharedInformer<T>(this.client, resourcePath(r, { namespace: ns }), {
        labelSelector: spec.serverLabelSelector,
        slim: (slimFor(r, this.opts) as ((raw: KubeObject) => T) | undefined) ?? ((raw) => stripManagedFields<T>(raw)),
        log: this.log,
      });
      this.informers.set(id, shared);
    }
    for (const [name, fn] of Object.entries(spec.indexes ?? {})) if (!shared.hasIndex(name)) shared.addIndex(name, fn);
    for (const a of spec.after ?? []) shared.startAfter(a.synced);
    const informer = shared;
    const view: Informer<T> = shared.view(
      {
        keep: spec.keep,
        labelSelector: spec.labelSelector,
        fieldSelector: spec.fieldSelector,
        metadataOnly: spec.metadataOnly,
      },
      () => this.detached(id, informer, view),
    );
    this.views.push(view);
    if (this.started && !this.stopped) shared.start();
    return view;
  }

  /** A view was stopped: forget it; the last view of an informer stops the informer. */
  private async detached(
    id: string,
    informer: { hasViews(): boolean; stop(): Promise<void> },
    view: Informer<KubeObject>,
  ): Promise<void> {
    const i = this.views.indexOf(view);
    if (i >= 0) this.views.splice(i, 1);
    if (informer.hasViews() || this.informers.get(id) !== informer) return;
    this.informers.delete(id);
    await informer.stop();
  }

  /** How many informers (watches) the manager runs or will run: one per resource type, namespace and server-side selector. */
  informerCount(): number {
    return this.informers.size;
  }

  /** Feature flags of the system namespace (on the shared ConfigMap watch of that namespace). */
  get flags(): FeatureFlags {
    if (!this.flagsCache) {
      const view = this.informer(resources.ConfigMap, {
        namespace: this.systemNamespace,
        fieldSelector: `metadata.name=${FEATURE_FLAGS_CONFIGMAP}`,
      });
      // The manager's flags live as long as the manager: a consumer unsubscribes (onChange's return), it does
      // not stop them for the others.
      this.flagsCache = { ...featureFlags(view, this.systemNamespace), stop: () => Promise.resolve() };
    }
    return this.flagsCache;
  }

  /** Every view synced. */
  synced(): boolean {
    return this.views.every((v) => v.hasSynced());
  }

  /** Resolves when every view registered so far has synced (false after `timeoutMs`). */
  async waitForSync(timeoutMs?: number): Promise<boolean> {
    const all = Promise.all(this.views.map((v) => v.synced)).then(() => true);
    if (timeoutMs === undefined) return all;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- events

  /** The event recorder of a component (one per component name, on the shared client). */
  recorder(component: string): EventRecorder {
    let r = this.recorders.get(component);
    if (!r) {
      r = createEventRecorder(this.access, { component, log: this.log, rest: this.client });
      this.recorders.set(component, r);
    }
    return r;
  }

  // ---- leader election

  /** Elect a leader on a Lease before running leader-elected controllers (one election per manager). */
  leaderElection(config: LeaderElectionConfig): void {
    if (this.election && this.election.name !== config.name)
      throw new Error(`leader election on Lease ${this.election.name} is configured already`);
    if (this.election) return;
    this.election = config;
    if (!this.started || this.stopped) return;
    // Started without an election, the manager led (another component of the process started it first): what
    // only a leader runs stops now, and runs again once the Lease is won. Registrations from now on wait for it.
    if (this.leading) {
      this.leading = false;
      this.transitions = this.transitions.then(() => this.stopLeaderWork());
    }
    this.startElection();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The leader election identity (hostname_random unless configured). */
  get identity(): string {
    return this.elector?.identity ?? this.election?.identity ?? 'no-leader-election';
  }

  private startElection(): void {
    if (this.elector) return;
    const c = this.election!;
    const identity = c.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
    this.election = { ...c, identity };
    this.elector = startLeaderElection(this.access, {
      namespace: c.namespace ?? this.systemNamespace,
      name: c.name,
      identity,
      leaseDurationMs: c.leaseDurationMs,
      renewDeadlineMs: c.renewDeadlineMs,
      retryPeriodMs: c.retryPeriodMs,
      log: this.log,
      rest: this.client,
      onStartedLeading: () => this.setLeading(true, true),
      onStoppedLeading: () => this.setLeading(false, true),
    });
  }

  /** `byElection`: the elector's decision; otherwise leadership without an election (no Lease configured). */
  private setLeading(value: boolean, byElection: boolean): Promise<void> {
    this.transitions = this.transitions.then(async () => {
      // An election configured meanwhile decides from then on.
      if (value && !byElection && this.election) return;
      if (this.leading === value) return;
      this.leading = value;
      if (value) {
        for (const e of this.controllers) if (e.spec.leaderElected !== false) void this.runController(e);
        for (const x of this.runnables) if (x.r.leaderElected) await this.startRunnable(x);
      } else await this.stopLeaderWork();
    });
    return this.transitions;
  }

  /** Stops the leader-elected controllers and runnables. */
  private async stopLeaderWork(): Promise<void> {
    await Promise.all(
      [...this.controllers].filter((e) => e.spec.leaderElected !== false).map((e) => this.stopController(e)),
    );
    for (const x of this.runnables) if (x.r.leaderElected) await this.stopRunnable(x);
  }

  // ---- controllers

  controller<P extends KubeObject>(spec: ControllerSpec<P>): ManagedController {
    const entry: ControllerEntry = { spec, current: undefined, starting: false, count: 0, detach: [], removed: false };
    this.controllers.add(entry);
    const enqueue = (keys: string[]) => {
      const c = entry.current;
      if (c) for (const k of keys) c.enqueue(k);
    };
    const primaryKey = spec.for.key ?? ((obj: P) => ownKey(obj)[0]);
    const wire = <T extends KubeObject>(informer: Informer<T>, map: KeyMapper<T>, predicate?: Predicate<T>) => {
      const on = (ev: WatchedEvent<T>) => {
        if (!entry.current) return; // a run starts by enqueueing everything
        if (predicate && !predicate(ev)) return;
        enqueue(map(ev.obj));
        if (ev.type === 'update' && ev.old) enqueue(map(ev.old).filter((k) => !map(ev.obj).includes(k)));
      };
      entry.detach.push(
        informer.addHandler({
          add: (obj) => on({ type: 'add', obj }),
          update: (obj, old) => on({ type: 'update', obj, old }),
          delete: (obj) => on({ type: 'delete', obj }),
        }),
      );
    };
    wire(spec.for.informer, (obj) => [primaryKey(obj)], spec.for.predicate);
    for (const w of spec.watches ?? []) {
      if ('flags' in w) {
        entry.detach.push(
          w.flags.onChange((changed) => {
            if (!w.which || changed.some((f) => w.which!.includes(f))) enqueue(w.map());
          }),
        );
      } else wire(w.informer as Informer<KubeObject>, w.map ?? ownKey, w.predicate);
    }
    if (this.started && !this.stopped && (spec.leaderElected === false || this.leading)) void this.runController(entry);
    return {
      name: spec.name,
      enqueue: (key) => entry.current?.enqueue(key),
      enqueueAfter: (key, ms) => entry.current?.enqueueAfter(key, ms),
      running: () => entry.current !== undefined,
      reconciles: () => entry.count,
      stop: async () => {
        entry.removed = true;
        for (const d of entry.detach.splice(0)) d();
        this.controllers.delete(entry);
        await this.stopController(entry);
      },
    };
  }

  private async runController(entry: ControllerEntry): Promise<void> {
    if (entry.current || entry.starting || entry.removed) return;
    entry.starting = true;
    try {
      const { spec } = entry;
      const caches: Array<{ synced: Promise<void> }> = [spec.for.informer];
      for (const w of spec.watches ?? []) caches.push('informer' in w ? w.informer : w.flags);
      await Promise.all(caches.map((c) => c.synced));
      const stillWanted = () =>
        entry.starting && !entry.removed && !this.stopped && (spec.leaderElected === false || this.leading);
      if (!stillWanted()) return;
      const ctl = new Controller({
        name: spec.name,
        workers: spec.workers,
        backoff: spec.backoff,
        log: this.log,
        reconcile: (key) => {
          entry.count++;
          return spec.reconcile(key);
        },
      });
      entry.current = ctl;
      ctl.start();
      const key = spec.for.key ?? ((obj: KubeObject) => ownKey(obj)[0]);
      for (const obj of spec.for.informer.list() as KubeObject[]) ctl.enqueue(key(obj));
      this.log.info('controller running', { controller: spec.name, objects: spec.for.informer.size() });
    } finally {
      entry.starting = false;
    }
  }

  private async stopController(entry: ControllerEntry): Promise<void> {
    entry.starting = false;
    const c = entry.current;
    entry.current = undefined;
    await c?.stop();
  }

  // ---- runnables and checks

  add(r: Runnable): void {
    const x = { r, running: false };
    this.runnables.add(x);
    if (this.started && !this.stopped && (!r.leaderElected || this.leading)) void this.startRunnable(x);
  }

  private async startRunnable(x: { r: Runnable; running: boolean }): Promise<void> {
    if (x.running) return;
    x.running = true;
    await x.r.start();
  }

  private async stopRunnable(x: { r: Runnable; running: boolean }): Promise<void> {
    if (!x.running) return;
    x.running = false;
    await x.r.stop();
  }

  /** A named readiness check (/readyz); returns its removal (a component that stops). */
  addReadyCheck(name: string, check: Check): () => void {
    this.readyChecks.set(name, check);
    return () => {
      if (this.readyChecks.get(name) === check) this.readyChecks.delete(name);
    };
  }

  /** A named liveness check (/healthz); returns its removal. */
  addHealthCheck(name: string, check: Check): () => void {
    this.healthChecks.set(name, check);
    return () => {
      if (this.healthChecks.get(name) === check) this.healthChecks.delete(name);
    };
  }

  readiness(): Record<string, Check> {
    const checks: Record<string, Check> = {
      'caches-synced': () => {
        const pending = this.views.filter((v) => !v.hasSynced()).length;
        return pending === 0 || `${pending} cache(s) not synced`;
      },
    };
    if (this.election) checks['leader-election'] = () => this.elector?.decided() || 'the Lease has not been read yet';
    for (const [n, c] of this.readyChecks) checks[n] = c;
    return checks;
  }

  liveness(): Record<string, Check> {
    const checks: Record<string, Check> = {};
    if (this.election) checks['leader-election'] = () => this.elector?.stuck();
    for (const [n, c] of this.healthChecks) checks[n] = c;
    return checks;
  }

  // ---- lifecycle

  /** Start informers, leader election, controllers and runnables (idempotent; later registrations start at once). */
  start(): Promise<void> {
    this.starting ??= (async () => {
      if (this.stopped) throw new Error('the manager is stopped');
      this.started = true;
      for (const i of this.informers.values()) i.start();
      if (this.opts.health)
        this.health = await startHealthServer({
          port: this.opts.health.port,
          host: this.opts.health.host,
          readiness: () => this.readiness(),
          liveness: () => this.liveness(),
        });
      for (const x of this.runnables) if (!x.r.leaderElected) await this.startRunnable(x);
      for (const e of this.controllers) if (e.spec.leaderElected === false) void this.runController(e);
      if (this.election) this.startElection();
      else await this.setLeading(true, false);
    })();
    return this.starting;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.starting?.catch(() => {});
    await Promise.all([...this.controllers].map((e) => this.stopController(e)));
    await this.elector?.stop();
    await this.transitions.catch(() => {});
    for (const x of [...this.runnables].reverse()) {
      try {
        await this.stopRunnable(x);
      } catch (err) {
        this.log.warn('while stopping', { runnable: x.r.name, error: (err as Error).message });
      }
    }
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await Promise.all([...this.recorders.values()].map((r) => r.close()));
    await this.health?.close();
    if (this.ownClient) await this.client.close();
  }
}
