// The Connectors controller: keeps ConnectorClass and Connector status true.
//
//   const ctrl = await startController(kc, { healthPort: 8081 });   // its own manager
//   const ctrl = await startController(mgr, {});                    // on a shared manager (connectors up)
//   ...
//   await ctrl.stop();
//
// Caches run in every replica so that a new leader starts warm; only the leader (Lease
// `connectors-controller` in the system namespace) runs the reconcilers. What enqueues what:
//   ConnectorClass  its spec or annotations changed                       → the class
//   Connector       its spec, labels or annotations changed (not its status) → the Connector
//   ConnectorClass  what Connectors depend on changed (classFingerprint)  → the Connectors of the class
//   Secret          any change                                           → the Connectors that reference it
//                   (a global CA Secret, with enable-custom-ca-certs: every Connector)
//   Service c-*     changed or deleted                                   → the Connector that owns it
//   feature flags   any flag changed                                     → every Connector
import type { KubeAccess } from '../core/kube/client.ts';
import { componentManager, Manager, type ManagedController } from '../core/kube/manager.ts';
import {
  anyOf,
  annotationsChanged,
  changed,
  generationChanged,
  labelsChanged,
  onlyEvents,
  ownerKeys,
} from '../core/kube/predicates.ts';
import { objectKey, resources } from '../core/kube/resources.ts';
import { POLICY_LABEL_SELECTOR } from '../core/opa/store.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import type { HealthServer } from '../core/observability/server.ts';
import type { Connector, ConnectorClass } from '../core/api/index.ts';
import { reconcileClass, classFingerprint } from './class-reconciler.ts';
import { ConnectorReconciler, referencedSecretKeys } from './connector-reconciler.ts';
import { secretStore, SECRETS_INDEX, type SlimSecret } from './secrets.ts';
import { closeProbeAgents } from './probe.ts';
import { MANAGED_BY, type Ctx } from './context.ts';
import { approvalController, type ApprovalController } from './approval/index.ts';

export interface StartControllerOptions {
  systemNamespace?: string;
  /** Re-probe period (default 5 min, ±10 % jitter). */
  probePeriodMs?: number;
  /** Minimum age of lastProbeTime before an otherwise unchanged condition is rewritten (default 30 min). */
  probeTimeRefreshMs?: number;
  /** Timeout of one probe (default 10 s). */
  probeTimeoutMs?: number;
  /** Re-check period while a probe fails (default min(probe period, 60 s)). */
  failedProbePeriodMs?: number;
  /** Leader election on a Lease (default true). */
  leaderElect?: boolean;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  identity?: string;
  /** Own manager only: serve /healthz, /readyz and /metrics on this port (0: any free port; undefined: not at all). */
  healthPort?: number;
  healthHost?: string;
  /** Connector reconcile workers (default 16). */
  workers?: number;
  /** PEM CA certificates trusted, besides the system ones, when probing class APIs (spec.api) for APIReady. */
  pluginCaPem?: string;
  /** How long an ended AccessRequest is kept before it is deleted (default 1 h; Infinity: kept). */
  accessRequestTtlMs?: number;
  log?: Logger;
}

export interface RunningController {
  /** Resolves when every cache has listed once. */
  synced: Promise<void>;
  isLeader(): boolean;
  identity: string;
  /** Reconciles this instance has run (all kinds). */
  reconciles(): number;
  /** The AccessPolicy and AccessRequest controllers (active with both approval flags on). */
  approval: ApprovalController;
  health?: HealthServer;
  manager: Manager;
  stop(): Promise<void>;
}

/** The index of the Connector cache: the class a Connector is of. */
const CLASS_INDEX = 'connectors.cpaas.io/class';

/** Registers the controller's caches and reconcilers on a manager. */
export function setupController(mgr: Manager, opts: StartControllerOptions = {}) {
  const log = opts.log ?? createLogger('controller');
  const systemNamespace = mgr.systemNamespace;
  const probePeriodMs = opts.probePeriodMs ?? 5 * 60_000;

  const connectors = mgr.informer(resources.Connector, {
    indexes: { [SECRETS_INDEX]: referencedSecretKeys, [CLASS_INDEX]: (c: Connector) => [c.spec.connectorClassName] },
  });
  const classes = mgr.informer(resources.ConnectorClass);
  const services = mgr.informer(resources.Service, {
    serverLabelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`,
  });
  const policyMaps = mgr.informer(resources.ConfigMap, {
    namespace: systemNamespace,
    labelSelector: POLICY_LABEL_SELECTOR,
    metadataOnly: true,
  });
  const secrets = secretStore(mgr, connectors, referencedSecretKeys, systemNamespace);
  const flags = mgr.flags;

  const ctx: Ctx = {
    client: mgr.client,
    log,
    recorder: mgr.recorder('connectors-controller'),
    classes,
    connectors,
    services,
    policyMaps,
    secrets,
    systemNamespace,
    probePeriodMs,
    probeTimeRefreshMs: opts.probeTimeRefreshMs ?? 30 * 60_000,
    probeTimeoutMs: opts.probeTimeoutMs ?? 10_000,
    failedProbePeriodMs: opts.failedProbePeriodMs ?? Math.min(probePeriodMs, 60_000),
    pluginCAs: opts.pluginCaPem ? [opts.pluginCaPem] : undefined,
    flag: (name) => flags.enabled(name),
  };
  const connectorReconciler = new ConnectorReconciler(ctx);
  const connectorsOf = (className: string) => connectors.byIndex(CLASS_INDEX, className).map(objectKey);

  const classCtl = mgr.controller({
    name: 'ConnectorClass',
    workers: 2,
    backoff: { baseDelayMs: 100, maxDelayMs: 60_000 },
    for: { informer: classes, predicate: anyOf(generationChanged, annotationsChanged) },
    reconcile: (name) => reconcileClass(ctx, name),
  });
  const connectorCtl = mgr.controller({
    name: 'Connector',
    workers: opts.workers ?? 16,
    backoff: { baseDelayMs: 100, maxDelayMs: 60_000 },
    // Its own status writes do not come back as work.
    for: { informer: connectors, predicate: anyOf(generationChanged, annotationsChanged, labelsChanged) },
    watches: [
      {
        informer: classes,
        map: (cls: ConnectorClass) => connectorsOf(cls.metadata.name!),
        predicate: changed(classFingerprint),
      },
      {
        informer: secrets.informer,
        map: (s: SlimSecret) => [
          ...connectors.byIndex(SECRETS_INDEX, objectKey(s)).map(objectKey),
          ...(secrets.isGlobalCA(s) && ctx.flag('enable-custom-ca-certs') ? connectors.keys() : []),
        ],
      },
      { informer: services, map: ownerKeys('Connector'), predicate: onlyEvents('update', 'delete') },
      { flags, map: () => connectors.keys() },
    ],
    reconcile: (key) => connectorReconciler.reconcile(key),
  });
  // The approval controllers start and stop their caches (views of the manager's) with the approval flags, while
  // leading.
  const approval = approvalController({
    manager: mgr,
    log,
    recorder: ctx.recorder,
    systemNamespace,
    connectors,
    flag: (name) => ctx.flag(name),
    requestTtlMs: opts.accessRequestTtlMs,
  });
  const unsubscribe = flags.onChange(() => approval.flagsChanged());
  mgr.add({
    name: 'approval',
    leaderElected: true,
    start: () => approval.setLeading(true),
    stop: async () => {
      approval.setLeading(false);
      await approval.settled();
    },
  });
  const synced = Promise.all([
    connectors.synced,
    classes.synced,
    services.synced,
    policyMaps.synced,
    secrets.informer.synced,
    flags.synced,
  ]).then(() => undefined);
  return {
    ctx,
    synced,
    approval,
    controllers: [classCtl, connectorCtl] as ManagedController[],
    async stop() {
      unsubscribe();
      await Promise.all([classCtl.stop(), connectorCtl.stop()]);
      approval.setLeading(false);
      await approval.stop();
    },
  };
}

export async function startController(
  kcOrManager: KubeAccess | Manager,
  opts: StartControllerOptions = {},
): Promise<RunningController> {
  const log = opts.log ?? createLogger('controller');
  const { mgr, shared } = componentManager(kcOrManager, {
    systemNamespace: opts.systemNamespace,
    log,
    healthPort: opts.healthPort,
    healthHost: opts.healthHost,
  });
  // Before the reconcilers are registered: on a manager another component started, they wait for the Lease.
  if (opts.leaderElect ?? true)
    mgr.leaderElection({
      name: opts.leaseName ?? 'connectors-controller',
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
    });
  const setup = setupController(mgr, { ...opts, log });
  const { synced, controllers, approval } = setup;
  await mgr.start();

  let stopped = false;
  return {
    synced,
    isLeader: () => mgr.isLeader(),
    reconciles: () => controllers.reduce((n, c) => n + c.reconciles(), 0) + approval.reconciles(),
    approval,
    identity: (opts.leaderElect ?? true) ? mgr.identity : (opts.identity ?? 'controller'),
    health: mgr.health,
    manager: mgr,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (shared) await setup.stop();
      else {
        await mgr.stop();
        await approval.stop();
      }
      await closeProbeAgents();
    },
  };
}
