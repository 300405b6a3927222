// The approval controllers (AccessPolicy, AccessRequest, the Connector class label), run by the leader of the
// connectors controller while approval is active: enable-connectors-approval and
// enable-connector-proxy-permissions both "true". Turning either flag off stops them and their caches (what
// they created stays: RBAC that was granted keeps working under the normal access model); turning approval
// on starts them and reconciles everything once. Their caches are views of the manager's informers: stopping
// detaches them, and the manager stops the watches no other consumer shares (AccessPolicies, AccessRequests,
// generated Roles and RoleBindings, Pods, check resources).
import type { AccessPolicy, AccessRequest, Connector, FeatureFlag } from '../../core/api/index.ts';
import { approvalActive, APPROVAL_LABELS, APPROVAL_MANAGER } from '../../core/approval/names.ts';
import { isFinal } from '../../core/approval/request.ts';
import { Controller } from '../../core/kube/controller.ts';
import type { EventRecorder } from '../../core/kube/events.ts';
import type { Informer } from '../../core/kube/informer.ts';
import type { Manager } from '../../core/kube/manager.ts';
import { resources } from '../../core/kube/resources.ts';
import type { Logger } from '../../core/observability/log.ts';
import { POLICY_LABEL_SELECTOR } from '../../core/opa/store.ts';

const POLICY_LABEL_KEY = POLICY_LABEL_SELECTOR.split('=')[0];
import { ensureClassLabel } from './class-label.ts';
import type { ApprovalCtx, NamespaceObject, TemplateMap } from './context.ts';
import { reconcilePolicy } from './policy-reconciler.ts';
import { RbacWriter, type RoleBindingObject, type RoleObject } from './rbac.ts';
import { reconcileRequest } from './request-reconciler.ts';
import { CheckObjects, PodStore } from './watched.ts';

export interface ApprovalOptions {
  /** Where the caches are registered (views, detached when approval stops) and the client. */
  manager: Manager;
  log: Logger;
  recorder: EventRecorder;
  systemNamespace: string;
  /** The controller's Connector cache (shared). */
  connectors: Informer<Connector>;
  flag: (name: FeatureFlag) => boolean;
  /** AccessRequest reconcile workers (default 4). */
  workers?: number;
  /** How long an ended AccessRequest is kept before it is deleted (default 1 h; Infinity: kept). */
  requestTtlMs?: number;
  now?: () => Date;
}

export interface ApprovalController {
  /** Re-reads the feature flags: starts or stops the approval controllers as they say. */
  flagsChanged(): void;
  setLeading(leading: boolean): void;
  /** Whether the approval controllers are running and their caches have listed. */
  running(): boolean;
  /** Resolves once the last start or stop has finished. */
  settled(): Promise<void>;
  reconciles(): number;
  stop(): Promise<void>;
}

/** An ended AccessRequest is deleted this long after it ended. */
export const DEFAULT_REQUEST_TTL_MS = 60 * 60_000;

const key = (o: { metadata?: { name?: string; namespace?: string } }) =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

interface Running {
  ctx: ApprovalCtx;
  policyCtl: Controller;
  requestCtl: Controller;
  labelCtl: Controller;
  informers: Array<{ stop(): Promise<void> }>;
  ready: boolean;
}

export function approvalController(opts: ApprovalOptions): ApprovalController {
  const { manager: mgr, log: parentLog, systemNamespace } = opts;
  const rest = mgr.client;
  const log = parentLog.child({ part: 'approval' });
  let leading = false;
  let current: Running | undefined;
  let chain: Promise<void> = Promise.resolve();
  let count = 0;
  let stopped = false;
  /** Cancels a start that is still waiting for its caches (e.g. a CRD that is not installed). */
  let cancelStart: (() => void) | undefined;

  const wanted = () => !stopped && leading && approvalActive(opts.flag);

  const openRequests = (r: Running, filter: (ar: AccessRequest) => boolean = () => true) =>
    r.ctx.requests.list().filter((ar) => !isFinal(ar) && filter(ar));

  /**
   * A Connector event while running: its class label, and (labels changed, or gone) the policies of its
   * namespace and the open requests for it. `replay`: the add replayed for a cached Connector at start, when
   * every policy and request is enqueued anyway.
   */
  function onConnector(r: Running, c: Connector, old: Connector | undefined, deleted = false, replay = false) {
    if (!deleted) r.labelCtl.enqueue(key(c));
    if (replay) return;
    const labelsChanged = !old || JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(c.metadata.labels ?? {});
    if (!labelsChanged && !deleted) return;
    for (const ap of r.ctx.policies.list(c.metadata.namespace)) r.policyCtl.enqueue(key(ap));
    for (const ar of openRequests(
      r,
      (ar) => ar.metadata.namespace === c.metadata.namespace && ar.spec.connectorRef.name === c.metadata.name,
    ))
      r.requestCtl.enqueue(key(ar));
  }

  async function start(): Promise<Running | undefined> {
    const cancelled = new Promise<'cancelled'>((resolve) => (cancelStart = () => resolve('cancelled')));
    const started: Array<{ stop(): Promise<void> }> = [];
    /** Waits for `p` unless the start is cancelled first (then stops what it started). */
    const waitFor = async (p: Promise<unknown>) => {
      if ((await Promise.race([p.then(() => 'ok' as const), cancelled])) === 'ok') return true;
      await Promise.all(started.map((i) => i.stop()));
      return false;
    };
    const policies = mgr.informer(resources.AccessPolicy);
    const requests = mgr.informer(resources.AccessRequest);
    const namespaces: Informer<NamespaceObject> = mgr.informer(resources.Namespace);
    // ConfigMaps of the system namespace, except the compiled-policy ones (wasm, not templates).
    const templates: Informer<TemplateMap> = mgr.informer(resources.ConfigMap, {
      namespace: systemNamespace,
      labelSelector: `${POLICY_LABEL_KEY}!=true`,
    });
    const managed = `${APPROVAL_LABELS.managedBy}=${APPROVAL_MANAGER}`;
    const roles = mgr.informer(resources.Role, { serverLabelSelector: managed }) as Informer<RoleObject>;
    const bindings = mgr.informer(resources.RoleBinding, {
      serverLabelSelector: managed,
    }) as Informer<RoleBindingObject>;
    started.push(policies, requests, namespaces, templates, roles, bindings);
    if (!(await waitFor(requests.synced))) return undefined;
    // Pods are watched once the requests are known, so the first list keeps exactly the referenced ones.
    const pods = new PodStore(mgr);
    started.push(pods);
    const podOf = (ar: AccessRequest) =>
      isFinal(ar)
        ? undefined
        : {
            namespace: ar.spec.context.objectRef.namespace || ar.metadata.namespace!,
            name: ar.spec.context.objectRef.name,
          };
    for (const ar of requests.list()) pods.setRef(key(ar), podOf(ar));
    const checkObjects = new CheckObjects(mgr, log, (ns) => {
      if (!r?.ready) return;
      for (const ar of openRequests(
        r,
        (ar) => ns === undefined || (ar.spec.context.objectRef.namespace || ar.metadata.namespace) === ns,
      ))
        r.requestCtl.enqueue(key(ar));
    });
    const ctx: ApprovalCtx = {
      rest,
      log,
      recorder: opts.recorder,
      systemNamespace,
      connectors: opts.connectors,
      policies,
      requests,
      namespaces,
      templates,
      pods,
      checkObjects,
      rbac: new RbacWriter(rest, roles, bindings),
      requestTtlMs: opts.requestTtlMs ?? DEFAULT_REQUEST_TTL_MS,
      now: opts.now ?? (() => new Date()),
    };
    const backoff = { baseDelayMs: 200, maxDelayMs: 60_000 };
    const r: Running = {
      ctx,
      informers: [policies, requests, namespaces, templates, roles, bindings, pods, checkObjects],
      ready: false,
      policyCtl: new Controller({
        name: 'AccessPolicy',
        workers: 2,
        log,
        backoff,
        reconcile: (k) => {
          count++;
          return reconcilePolicy(ctx, k);
        },
      }),
      requestCtl: new Controller({
        name: 'AccessRequest',
        workers: opts.workers ?? 4,
        log,
        backoff,
        reconcile: (k) => {
          count++;
          return reconcileRequest(ctx, k);
        },
      }),
      labelCtl: new Controller({
        name: 'ConnectorClassLabel',
        workers: 2,
        log,
        backoff,
        reconcile: async (k) => {
          const [ns, name] = k.split('/');
          const c = opts.connectors.get(name, ns);
          if (c) await ensureClassLabel(rest, c);
        },
      }),
    };

    const allPolicies = (filter: (ap: AccessPolicy) => boolean = () => true) => {
      for (const ap of policies.list()) if (filter(ap)) r.policyCtl.enqueue(key(ap));
    };
    policies.on('add', (ap) => onPolicy(ap));
    policies.on('update', (ap) => onPolicy(ap));
    policies.on('delete', (ap) => onPolicy(ap));
    function onPolicy(ap: AccessPolicy) {
      if (!r.ready) return;
      r.policyCtl.enqueue(key(ap));
      // Requests not matched yet may match this policy now.
      for (const ar of openRequests(
        r,
        (ar) => ar.metadata.namespace === ap.metadata.namespace && !ar.status?.policies?.length,
      ))
        r.requestCtl.enqueue(key(ar));
    }
    // Every change, final requests included (their TTL).
    const onRequest = (ar: AccessRequest) => {
      pods.setRef(key(ar), podOf(ar));
      if (r.ready) r.requestCtl.enqueue(key(ar));
    };
    requests.on('add', onRequest);
    requests.on('update', onRequest);
    requests.on('delete', (ar) => pods.setRef(key(ar), undefined));
    namespaces.on('add', () => r.ready && allPolicies((ap) => Boolean(ap.spec.defaultPermission)));
    namespaces.on('delete', () => r.ready && allPolicies((ap) => Boolean(ap.spec.defaultPermission)));
    namespaces.on('update', (n, old) => {
      if (r.ready && JSON.stringify(n.metadata.labels ?? {}) !== JSON.stringify(old?.metadata.labels ?? {}))
        allPolicies((ap) => Boolean(ap.spec.defaultPermission));
    });
    const onTemplate = () => {
      if (!r.ready) return;
      allPolicies();
      for (const ar of openRequests(r)) r.requestCtl.enqueue(key(ar));
    };
    templates.on('add', onTemplate);
    templates.on('update', onTemplate);
    templates.on('delete', onTemplate);
    const onGenerated = (o: RoleObject | RoleBindingObject) => {
      if (!r.ready) return;
      for (const owner of o.metadata.ownerReferences ?? []) {
        const k = `${o.metadata.namespace}/${owner.name}`;
        if (owner.kind === 'AccessPolicy') r.policyCtl.enqueue(k);
        else if (owner.kind === 'AccessRequest') r.requestCtl.enqueue(k);
      }
    };
    for (const inf of [roles, bindings] as Informer<RoleObject | RoleBindingObject>[]) {
      inf.on('add', onGenerated);
      inf.on('update', onGenerated);
      inf.on('delete', onGenerated);
    }
    const onPod = (p: { metadata: { name?: string; namespace?: string } }) => {
      if (!r.ready) return;
      for (const k of pods.referrers(p.metadata.namespace ?? '', p.metadata.name ?? '')) r.requestCtl.enqueue(k);
    };
    pods.informer.on('add', onPod);
    pods.informer.on('update', onPod);
    pods.informer.on('delete', onPod);

    const synced = await waitFor(
      Promise.all([
        policies.synced,
        namespaces.synced,
        templates.synced,
        roles.synced,
        bindings.synced,
        pods.informer.synced,
      ]),
    );
    if (!synced) return undefined;
    cancelStart = undefined;
    r.policyCtl.start();
    r.requestCtl.start();
    r.labelCtl.start();
    r.ready = true;
    // The shared Connector cache's handler lives as long as this run. Attached in the same tick as `ready`, so
    // no Connector event falls between the replay of the cached ones and the live ones.
    let replay = true;
    const detachConnectors = opts.connectors.addHandler({
      add: (c) => onConnector(r, c, undefined, false, replay),
      update: (c, old) => onConnector(r, c, old),
      delete: (c) => onConnector(r, c, undefined, true),
    });
    replay = false;
    r.informers.push({ stop: () => Promise.resolve(detachConnectors()) });
    allPolicies();
    for (const ar of requests.list()) r.requestCtl.enqueue(key(ar));
    log.info('approval controllers running', { policies: policies.size(), requests: requests.size() });
    return r;
  }

  async function halt(r: Running): Promise<void> {
    r.ready = false;
    await Promise.all([r.policyCtl.stop(), r.requestCtl.stop(), r.labelCtl.stop()]);
    await Promise.all(r.informers.map((i) => i.stop()));
    log.info('approval controllers stopped');
  }

  /** Start or stop to match what is wanted; serialised, so flips in a row end in the last state. */
  function reconcileState(): void {
    if (!wanted()) cancelStart?.();
    chain = chain.then(async () => {
      try {
        if (wanted() && !current) current = await start();
        // (also when the flags were turned off while it was starting)
        if (!wanted() && current) {
          const r = current;
          current = undefined;
          await halt(r);
        }
      } catch (err) {
        log.error('approval controllers failed to start', { error: (err as Error).message });
      }
    });
  }

  return {
    flagsChanged: reconcileState,
    setLeading(l) {
      leading = l;
      reconcileState();
    },
    running: () => Boolean(current?.ready),
    settled: () => chain,
    reconciles: () => count,
    async stop() {
      stopped = true;
      reconcileState();
      await chain;
    },
  };
}
