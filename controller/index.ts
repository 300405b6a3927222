// The Connectors controller: keeps ConnectorClass and Connector status true.
//
//   const ctrl = await startController(kc, { healthPort: 8081 });
//   ...
//   await ctrl.stop();
//
// Caches (list+watch, see core/kube/reflector.ts) run in every replica so that a new leader starts warm;
// only the leader (Lease `connectors-controller` in the system namespace) runs the reconcilers.
import type { KubeConfig } from '@kubernetes/client-node';
import { FEATURE_FLAGS_CONFIGMAP, type Connector, type ConnectorClass, type FeatureFlag } from '../core/api/index.ts';
import { collectionPath } from '../core/kube/resources.ts';
import { systemNamespace as defaultSystemNamespace } from '../core/kube/config.ts';
import { flagsFromData } from '../core/kube/featureflags.ts';
import { kubeRest } from '../core/kube/rest.ts';
import { startInformer, stripManagedFields, type KObject } from '../core/kube/reflector.ts';
import { Controller } from '../core/kube/controller.ts';
import { startLeaderElection, type LeaderElector } from '../core/kube/leaderelection.ts';
import { createEventRecorder } from '../core/kube/events.ts';
import { POLICY_LABEL_SELECTOR } from '../core/opa/store.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import { startHealthServer, type HealthServer } from '../core/observability/server.ts';
import { reconcileClass, classFingerprint } from './class-reconciler.ts';
import { ConnectorReconciler, connectorKey, referencedSecretKeys } from './connector-reconciler.ts';
import { startSecretStore, secretKey } from './secrets.ts';
import { closeProbeAgents } from './probe.ts';
import { MANAGED_BY, type Ctx, type ServiceObject, type ConfigMapMeta } from './context.ts';
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
  /** Serve /healthz, /readyz and /metrics on this port (0: any free port; undefined: not at all). */
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
  stop(): Promise<void>;
}

export async function startController(kc: KubeConfig, opts: StartControllerOptions = {}): Promise<RunningController> {
  const log = opts.log ?? createLogger('controller');
  const systemNamespace = opts.systemNamespace ?? defaultSystemNamespace();
  const probePeriodMs = opts.probePeriodMs ?? 5 * 60_000;
  const rest = await kubeRest(kc);
  const recorder = createEventRecorder(kc, { component: 'connectors-controller', log, rest });

  let flagData: Record<string, string> | undefined;
  const flagsInformer = startInformer<KObject & { data?: Record<string, string> }>(
    kc,
    `/api/v1/namespaces/${systemNamespace}/configmaps`,
    {
      fieldSelector: `metadata.name=${FEATURE_FLAGS_CONFIGMAP}`,
      log,
      rest,
    },
  );
  const connectors = startInformer<Connector>(kc, collectionPath('Connector'), { log, rest });
  const classes = startInformer<ConnectorClass>(kc, collectionPath('ConnectorClass'), { log, rest });
  const services = startInformer<ServiceObject>(kc, '/api/v1/services', {
    labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`,
    log,
    rest,
  });
  const policyMaps = startInformer<ConfigMapMeta>(kc, `/api/v1/namespaces/${systemNamespace}/configmaps`, {
    labelSelector: POLICY_LABEL_SELECTOR,
    log,
    rest,
    transform: (raw) => {
      const cm = stripManagedFields<ConfigMapMeta & { binaryData?: unknown; data?: unknown }>(raw);
      delete cm.binaryData;
      delete cm.data;
      return cm;
    },
  });
  // Secrets are watched only once the Connectors are known, so the first list keeps exactly the referenced ones.
  await connectors.synced;
  const secrets = startSecretStore(kc, rest, systemNamespace, log);
  for (const c of connectors.list()) secrets.setRefs(connectorKey(c), referencedSecretKeys(c));

  const ctx: Ctx = {
    kc,
    rest,
    log,
    recorder,
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
    // Read from the informer's cache, not from its events: a ConfigMap that existed before the controller
    // started was listed (and its add event emitted) before the handlers below were attached.
    flag: (name: FeatureFlag) =>
      flagsFromData(flagsInformer.get(FEATURE_FLAGS_CONFIGMAP, systemNamespace)?.data)[name] === 'true',
  };
  const connectorReconciler = new ConnectorReconciler(ctx);
  const approval = approvalController({
    kc,
    rest,
    log,
    recorder,
    systemNamespace,
    connectors,
    flag: ctx.flag,
    requestTtlMs: opts.accessRequestTtlMs,
  });

  let classCtl: Controller | undefined;
  let connectorCtl: Controller | undefined;
  const enqueueConnector = (key: string) => connectorCtl?.enqueue(key);
  const enqueueClass = (name: string) => classCtl?.enqueue(name);
  const enqueueConnectorsOfClass = (className: string) => {
    for (const c of connectors.list()) if (c.spec.connectorClassName === className) enqueueConnector(connectorKey(c));
  };
  const enqueueAllConnectors = () => {
    for (const c of connectors.list()) enqueueConnector(connectorKey(c));
  };

  connectors.on('add', (c) => {
    secrets.setRefs(connectorKey(c), referencedSecretKeys(c));
    enqueueConnector(connectorKey(c));
  });
  connectors.on('update', (c) => {
    secrets.setRefs(connectorKey(c), referencedSecretKeys(c));
    enqueueConnector(connectorKey(c));
  });
  connectors.on('delete', (c) => {
    secrets.setRefs(connectorKey(c), []);
    connectorReconciler.forget(connectorKey(c));
  });
  classes.on('add', (cls) => {
    enqueueClass(cls.metadata.name!);
    enqueueConnectorsOfClass(cls.metadata.name!);
  });
  classes.on('update', (cls, old) => {
    const specChanged =
      cls.metadata.generation !== old?.metadata.generation ||
      JSON.stringify(cls.metadata.annotations ?? {}) !== JSON.stringify(old?.metadata.annotations ?? {});
    if (specChanged) enqueueClass(cls.metadata.name!);
    if (classFingerprint(cls) !== classFingerprint(old)) enqueueConnectorsOfClass(cls.metadata.name!);
  });
  classes.on('delete', (cls) => enqueueConnectorsOfClass(cls.metadata.name!));
  const onSecret = (s: { metadata: { name: string; namespace: string; labels?: Record<string, string> } }) => {
    for (const key of secrets.referrers(secretKey(s.metadata.namespace, s.metadata.name))) enqueueConnector(key);
    if (
      s.metadata.namespace === systemNamespace &&
      s.metadata.labels?.['connectors.cpaas.io/ca-cert'] === 'true' &&
      ctx.flag('enable-custom-ca-certs')
    )
      enqueueAllConnectors();
  };
  secrets.informer.on('add', onSecret);
  secrets.informer.on('update', onSecret);
  secrets.informer.on('delete', onSecret);
  const onService = (s: ServiceObject) => {
    const owner = s.metadata.labels?.['connectors.cpaas.io/connector'];
    if (owner && s.metadata.namespace) enqueueConnector(`${s.metadata.namespace}/${owner}`);
  };
  services.on('update', onService);
  services.on('delete', onService);
  const onFlags = (cm: { data?: Record<string, string> }) => {
    const before = JSON.stringify(flagsFromData(flagData));
    flagData = cm.data ?? {};
    if (JSON.stringify(flagsFromData(flagData)) !== before) {
      enqueueAllConnectors();
      approval.flagsChanged();
    }
  };
  flagsInformer.on('add', onFlags);
  flagsInformer.on('update', onFlags);
  flagsInformer.on('delete', () => onFlags({ data: {} }));

  const synced = Promise.all([
    flagsInformer.synced,
    connectors.synced,
    classes.synced,
    services.synced,
    policyMaps.synced,
    secrets.informer.synced,
  ]).then(() => undefined);
  const allSynced = () =>
    [flagsInformer, connectors, classes, services, policyMaps, secrets.informer].every((i) => i.hasSynced());

  let reconcileCount = 0;
  const startLeading = async () => {
    await synced;
    if (!leading) return;
    classCtl = new Controller({
      name: 'ConnectorClass',
      workers: 2,
      log,
      reconcile: (name) => {
        reconcileCount++;
        return reconcileClass(ctx, name);
      },
      backoff: { baseDelayMs: 100, maxDelayMs: 60_000 },
    });
    connectorCtl = new Controller({
      name: 'Connector',
      workers: opts.workers ?? 16,
      log,
      reconcile: (key) => {
        reconcileCount++;
        return connectorReconciler.reconcile(key);
      },
      backoff: { baseDelayMs: 100, maxDelayMs: 60_000 },
    });
    classCtl.start();
    connectorCtl.start();
    for (const cls of classes.list()) enqueueClass(cls.metadata.name!);
    enqueueAllConnectors();
    approval.setLeading(true);
    log.info('reconciling', { classes: classes.size(), connectors: connectors.size() });
  };
  const stopLeading = async () => {
    const a = classCtl;
    const b = connectorCtl;
    classCtl = undefined;
    connectorCtl = undefined;
    approval.setLeading(false);
    await Promise.all([a?.stop(), b?.stop(), approval.settled()]);
  };

  let elector: LeaderElector | undefined;
  let leading = false;
  if (opts.leaderElect ?? true) {
    elector = startLeaderElection(kc, {
      namespace: systemNamespace,
      name: opts.leaseName ?? 'connectors-controller',
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      log,
      rest,
      onStartedLeading: () => {
        leading = true;
        void startLeading();
      },
      onStoppedLeading: async () => {
        leading = false;
        await stopLeading();
      },
    });
  } else {
    leading = true;
    void startLeading();
  }

  const health =
    opts.healthPort === undefined
      ? undefined
      : await startHealthServer({
          port: opts.healthPort,
          host: opts.healthHost,
          readiness: { 'caches-synced': allSynced },
        });

  let stopped = false;
  return {
    synced,
    isLeader: () => leading,
    reconciles: () => reconcileCount + approval.reconciles(),
    approval,
    identity: elector?.identity ?? opts.identity ?? 'controller',
    health,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopLeading();
      await approval.stop();
      await elector?.stop();
      await Promise.all([
        flagsInformer.stop(),
        connectors.stop(),
        classes.stop(),
        services.stop(),
        policyMaps.stop(),
        secrets.stop(),
      ]);
      await recorder.close();
      await health?.close();
      await rest.close();
      await closeProbeAgents();
    },
  };
}
