// Caches of what AccessRequests refer to, without caching the cluster (views of the manager's informers,
// detached by stop()):
//   - Pods: one watch over all Pods, but only the Pods that a pending or granted AccessRequest names are kept
//     (as the Secret store keeps only referenced Secrets); a Pod referenced after the watch dropped it is read
//     with one GET;
//   - check resources (ApprovalTask, ...): one watch per kind that some policy checks, started on first use;
//     the kind's resource name comes from API discovery.
import { KubeApiError, type KubeClient } from '../../core/kube/client.ts';
import type { Informer } from '../../core/kube/informer.ts';
import type { Manager } from '../../core/kube/manager.ts';
import { discoveredType, discoveryPath, resources as k8s } from '../../core/kube/resources.ts';
import type { KubeRest } from '../../core/kube/rest.ts';
import type { Logger } from '../../core/observability/log.ts';

export interface PodObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: { serviceAccountName?: string };
  status?: { phase?: string };
}

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class PodStore {
  readonly informer: Informer<PodObject>;
  private readonly client: KubeClient;
  private readonly refs = new Map<string, Set<string>>(); // pod key → AccessRequest keys
  private readonly byRequest = new Map<string, string>();

  constructor(mgr: Manager) {
    this.client = mgr.client;
    this.informer = mgr.informer(k8s.Pod, {
      keep: (o) => this.refs.has(podKey(o.metadata?.namespace ?? '', o.metadata?.name ?? '')),
    });
  }

  /** Records which Pod an AccessRequest refers to (undefined: none any more). */
  setRef(requestKey: string, pod: { namespace: string; name: string } | undefined): void {
    const old = this.byRequest.get(requestKey);
    if (old) {
      const set = this.refs.get(old);
      set?.delete(requestKey);
      if (set && !set.size) this.refs.delete(old);
      this.byRequest.delete(requestKey);
    }
    if (!pod) return;
    const key = podKey(pod.namespace, pod.name);
    this.byRequest.set(requestKey, key);
    let set = this.refs.get(key);
    if (!set) this.refs.set(key, (set = new Set()));
    set.add(requestKey);
  }

  /** AccessRequests that refer to a Pod. */
  referrers(namespace: string, name: string): string[] {
    return [...(this.refs.get(podKey(namespace, name)) ?? [])];
  }

  /** The Pod from the cache, else from the apiserver; undefined when it does not exist. */
  async get(namespace: string, name: string): Promise<PodObject | undefined> {
    const cached = this.informer.get(name, namespace);
    if (cached) return cached;
    const live = await this.client.find(k8s.Pod, name, namespace);
    if (live) this.informer.upsert(live);
    return live;
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

export interface CheckObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string> };
  status?: unknown;
  [k: string]: unknown;
}

/** A check kind the cluster cannot serve (yet): not retried faster than discovery allows. */
export class CheckKindError extends Error {
  override name = 'CheckKindError';
}

interface Watched {
  informer?: Informer<CheckObject>;
  error?: string;
  discoveredAt: number;
  pending?: Promise<void>;
}

export class CheckObjects {
  private readonly mgr: Manager;
  private readonly rest: KubeRest;
  private readonly log: Logger;
  private readonly kinds = new Map<string, Watched>();
  /** Called with the namespace of a changed check resource (undefined: any namespace). */
  private readonly onChange: (namespace: string | undefined) => void;
  /** A failed discovery is tried again after this long. */
  private readonly retryMs: number;

  constructor(mgr: Manager, log: Logger, onChange: (namespace: string | undefined) => void, retryMs = 10_000) {
    this.mgr = mgr;
    this.rest = mgr.client;
    this.log = log;
    this.onChange = onChange;
    this.retryMs = retryMs;
  }

  /**
   * The check resources of a kind in a namespace (all of them; the caller filters by labels). Throws
   * CheckKindError while the kind is unknown to the cluster; returns undefined until its first list is done.
   */
  async list(apiVersion: string, kind: string, namespace: string): Promise<CheckObject[] | undefined> {
    const key = `${apiVersion}/${kind}`;
    let w = this.kinds.get(key);
    if (!w || (w.error && Date.now() - w.discoveredAt >= this.retryMs)) {
      w = { discoveredAt: Date.now() };
      this.kinds.set(key, w);
      w.pending = this.start(apiVersion, kind, w);
    }
    await w.pending;
    if (w.error) throw new CheckKindError(w.error);
    if (!w.informer!.hasSynced()) return undefined;
    return w.informer!.list(namespace);
  }

  private async start(apiVersion: string, kind: string, w: Watched): Promise<void> {
    const base = discoveryPath(apiVersion);
    let resources: Array<{ name: string; kind: string; namespaced: boolean }>;
    try {
      const list = await this.rest.call<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>(
        'GET',
        base,
      );
      resources = list.resources ?? [];
    } catch (err) {
      w.error =
        err instanceof KubeApiError && err.statusCode === 404
          ? `the cluster does not serve ${apiVersion} (is the CRD of ${kind} installed?)`
          : `discovery of ${apiVersion} failed: ${(err as Error).message}`;
      return;
    }
    const res = resources.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!res) {
      w.error = `the cluster serves no kind ${kind} in ${apiVersion}`;
      return;
    }
    const informer = this.mgr.informer(discoveredType(apiVersion, res)) as Informer<CheckObject>;
    const changed = (o: CheckObject) => this.onChange(o.metadata.namespace ?? '');
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    w.informer = informer;
    this.log.info('watching check resources', { apiVersion, kind, resource: res.name });
    // The first list re-runs the requests that were waiting for it.
    void informer.synced.then(() => this.onChange(undefined));
  }

  async stop(): Promise<void> {
    const informers = [...this.kinds.values()].flatMap((w) => (w.informer ? [w.informer] : []));
    await Promise.all(informers.map((i) => i.stop()));
    this.kinds.clear();
  }
}
