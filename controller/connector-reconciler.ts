// Connector reconciler: ConnectorClassReady, SecretReady, LivenessReady, AuthReady, ProxyServiceReady,
// CACertReady (only with enable-custom-ca-certs) and Ready; status.proxy.httpAddress; status.api.path (where the
// Connectors API serves this Connector, relative to the cluster's entry point); the per-Connector
// ExternalName Service c-<name>. Probe results are memoised per Connector against a hash of everything
// they depend on (Connector spec, class, Secret and CA versions): an event that changes none of those (a
// class status write, a relist) re-runs the cheap checks only, while a change of any of them re-probes at
// once. The memo expires after the probe period, which is when the periodic requeue arrives.
import { createHash } from 'node:crypto';
import type { Connector, ConnectorClass, ConnectorStatus } from '../core/api/index.ts';
import { API_VERSION, PROXY_AUDIENCE } from '../core/api/keys.ts';
import {
  authProbeOf,
  caCertificatesOf,
  decodeSecret,
  isOciClass,
  lookupSecret,
  missingAuthProbeParams,
  referencedSecrets,
  type DecodedSecret,
  type SecretResolution,
} from '../core/connector/index.ts';
import { connectorApiPath } from '../core/connector/api-path.ts';
import { isConflict } from '../core/kube/client.ts';
import { resources } from '../core/kube/resources.ts';
import type { ReconcileResult } from '../core/kube/controller.ts';
import { counter, histogram } from '../core/observability/metrics.ts';
import { T, F, U, aggregateReady, mergeConditions, canonical, transitions, type CondInput } from './conditions.ts';
import {
  COND,
  checkClass,
  checkSecret,
  planProbe,
  rootProbe,
  livenessOutcome,
  authOutcome,
  registryTokenProbe,
  registryTokenOutcome,
  rootAuthOutcome,
  ProbeBuildError,
} from './decide.ts';
import {
  resolveEndpoint,
  connectorProxyURL,
  externalNameTarget,
  connectorServiceName,
  AddressError,
} from './addresses.ts';
import { runProbe, ProbeError } from './probe.ts';
import { secretKey, type SlimSecret } from './secrets.ts';
import { jitter, MANAGED_BY, type Ctx, type ServiceObject } from './context.ts';

interface ProbeMemo {
  hash: string;
  at: number;
  liveness: CondInput;
  auth: CondInput;
}

const probeTotal = () =>
  counter(
    'connectors_controller_probe_total',
    'Probes run by the controller, by type (liveness, auth, api, proxy) and result (success, failure, error).',
    ['type', 'result'],
  );
const probeSeconds = () =>
  histogram(
    'connectors_controller_probe_duration_seconds',
    'Duration of liveness and auth probes.',
    ['type'],
    [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10],
  );

export const connectorKey = (c: { metadata: { namespace?: string; name?: string } }) =>
  `${c.metadata.namespace}/${c.metadata.name}`;

/** Store keys of the Secrets a Connector reads: its auth Secret (same namespace only) and its CA Secret. */
export const referencedSecretKeys = (c: Connector): string[] =>
  referencedSecrets(c).map((r) => secretKey(r.namespace, r.name));

export class ConnectorReconciler {
  private readonly ctx: Ctx;
  private readonly memo = new Map<string, ProbeMemo>();

  constructor(ctx: Ctx) {
    this.ctx = ctx;
  }

  forget(key: string): void {
    this.memo.delete(key);
  }

  private lookupSecret(c: Connector): Promise<SecretResolution> {
    return lookupSecret(c, (namespace, name) => this.ctx.secrets.get(namespace, name));
  }

  private async caCheck(c: Connector): Promise<{ cond?: CondInput; extraCAs?: string[]; versions: string[] }> {
    if (!this.ctx.flag('enable-custom-ca-certs')) return { versions: ['ca-off'] };
    const globals = this.ctx.secrets.globalCAs();
    const extra: string[] = [];
    for (const g of globals) extra.push(...caCertificatesOf(decodeSecret(g)).pems);
    const versions = ['ca-on', ...globals.map((g) => `${g.metadata.name}@${g.metadata.resourceVersion}`)];
    const name = c.spec.caCertSecretRef?.name;
    if (!name)
      return {
        cond: { ...T(COND.caCert, 'NoCACert', 'no caCertSecretRef is set'), severity: 'Info' },
        extraCAs: extra,
        versions,
      };
    const s: SlimSecret | null = await this.ctx.secrets.get(c.metadata.namespace!, name);
    versions.push(`${name}@${s?.metadata.resourceVersion ?? 'missing'}`);
    if (!s)
      return {
        cond: { ...F(COND.caCert, 'SecretNotFound', `secrets ${JSON.stringify(name)} not found`), severity: 'Info' },
        extraCAs: extra,
        versions,
      };
    const { pems, invalid } = caCertificatesOf(decodeSecret(s));
    if (invalid)
      return {
        cond: {
          ...F(COND.caCert, 'InvalidPEM', `Secret ${JSON.stringify(name)} contains invalid PEM data`),
          severity: 'Info',
        },
        extraCAs: extra,
        versions,
      };
    return {
      cond: {
        ...T(COND.caCert, 'Valid', `CA certificate loaded from secret ${JSON.stringify(name)}`),
        severity: 'Info',
      },
      extraCAs: [...extra, ...pems],
      versions,
    };
  }

  private async probe(type: 'liveness' | 'auth', run: () => Promise<CondInput>): Promise<CondInput> {
    const end = probeSeconds().startTimer({ type });
    try {
      const cond = await run();
      probeTotal().inc({ type, result: cond.status === 'True' ? 'success' : 'failure' });
      return cond;
    } finally {
      end();
    }
  }

  private async runProbes(
    c: Connector,
    cls: ConnectorClass,
    secretCond: CondInput,
    secret: DecodedSecret | undefined,
    extraCAs: string[] | undefined,
  ): Promise<{ liveness: CondInput; auth: CondInput }> {
    const ctx = this.ctx;
    const common = { systemNamespace: ctx.systemNamespace, timeoutMs: ctx.probeTimeoutMs, extraCAs };
    let liveness: CondInput;
    const livenessProbe = cls.spec?.livenessProbe;
    if (!livenessProbe || (!livenessProbe.http && !livenessProbe.api)) {
      liveness = T(COND.liveness, 'NonLivenessProbe', 'the ConnectorClass has no livenessProbe');
    } else {
      liveness = await this.probe('liveness', async () => {
        try {
          const plan = planProbe(livenessProbe, c, cls, { what: 'livenessProbe', templated: false, ...common });
          return livenessOutcome(await runProbe(plan.request), plan.cel);
        } catch (err) {
          if (err instanceof ProbeError) return F(COND.liveness, 'ConnectionFailed', err.message);
          if (err instanceof ProbeBuildError)
            return F(
              COND.liveness,
              err.reason === 'InvalidAuthProbe' ? 'InvalidLivenessProbe' : err.reason,
              err.message,
            );
          throw err;
        }
      });
    }
    liveness.probed = true;

    let auth: CondInput;
    const ap = authProbeOf(c, cls);
    if (!ap?.probe || (!ap.probe.http && !ap.probe.api)) {
      auth = T(COND.auth, 'NonAuthProbe', 'the ConnectorClass has no authProbe for this auth type');
    } else if (secretCond.status !== 'True') {
      auth = U(COND.auth, 'SecretNotReady', 'waiting for SecretReady');
    } else if (liveness.status === 'False' && liveness.reason === 'ConnectionFailed') {
      auth = U(COND.auth, 'LivenessNotReady', 'waiting for LivenessReady');
    } else if (missingAuthProbeParams(c, ap).length) {
      // The probe's parameters are optional for the Connector; without them only the address root can be
      // asked whether it refuses the credentials.
      const missing = missingAuthProbeParams(c, ap);
      const what = `authProbe ${JSON.stringify(ap.authName)}`;
      auth = await this.probe('auth', async () => {
        try {
          const plan = rootProbe(ap.probe!, c, cls, { what, secret, ...common });
          if (!plan) return rootAuthOutcome(undefined, missing);
          return rootAuthOutcome(await runProbe(plan.request), missing);
        } catch (err) {
          if (err instanceof ProbeError) return F(COND.auth, 'ConnectionFailed', err.message);
          if (err instanceof ProbeBuildError) return F(COND.auth, err.reason, err.message);
          throw err;
        }
      });
    } else {
      const what = `authProbe ${JSON.stringify(ap.authName)}`;
      auth = await this.probe('auth', async () => {
        try {
          const plan = planProbe(ap.probe!, c, cls, { what, templated: true, secret, ...common });
          const res = await runProbe(plan.request);
          const tokenRequest = isOciClass(cls) ? registryTokenProbe(res, plan.request) : undefined;
          if (tokenRequest) return registryTokenOutcome(await runProbe(tokenRequest));
          return authOutcome(res, plan.cel, what);
        } catch (err) {
          if (err instanceof ProbeError) return F(COND.auth, 'ConnectionFailed', err.message);
          if (err instanceof ProbeBuildError) return F(COND.auth, err.reason, err.message);
          throw err;
        }
      });
    }
    auth.probed = true;
    return { liveness, auth };
  }

  private async ensureService(c: Connector, target: string | undefined): Promise<CondInput | undefined> {
    const ctx = this.ctx;
    const ns = c.metadata.namespace!;
    const name = connectorServiceName(c.metadata.name!);
    const existing = ctx.services.get(name, ns);
    if (!target) {
      if (existing && existing.metadata.ownerReferences?.some((o) => o.uid === c.metadata.uid)) {
        await ctx.client.delete(resources.Service, name, ns);
      }
      return undefined;
    }
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
      return F(
        COND.proxy,
        'InvalidServiceName',
        `cannot create Service ${JSON.stringify(name)} for the Connector: not a valid DNS-1035 label ` +
          '(a Connector name of at most 61 lowercase letters, digits and "-" is needed for the host resolver)',
      );
    }
    const owner = {
      apiVersion: API_VERSION,
      kind: 'Connector',
      name: c.metadata.name!,
      uid: c.metadata.uid!,
      controller: true,
      blockOwnerDeletion: false,
    };
    const desired: ServiceObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: ns,
        labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, 'connectors.cpaas.io/connector': c.metadata.name! },
        ownerReferences: [owner],
      },
      spec: { type: 'ExternalName', externalName: target },
    };
    if (existing) {
      const ok =
        existing.spec?.type === 'ExternalName' &&
        existing.spec.externalName === target &&
        existing.metadata.ownerReferences?.some((o) => o.uid === c.metadata.uid);
      if (ok) return undefined;
      if (!existing.metadata.ownerReferences?.some((o) => o.kind === 'Connector' && o.name === c.metadata.name)) {
        return F(
          COND.proxy,
          'ServiceConflict',
          `Service ${name} in namespace ${ns} exists and is not owned by this Connector`,
        );
      }
      const updated = await ctx.client.replace(resources.Service, {
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: existing.metadata.resourceVersion },
        spec: { ...existing.spec, ...desired.spec, ports: existing.spec?.ports },
      });
      ctx.services.upsert(updated);
      return undefined;
    }
    try {
      ctx.services.upsert(await ctx.client.create(resources.Service, desired));
      return undefined;
    } catch (err) {
      if (isConflict(err)) {
        const cur = await ctx.client.get(resources.Service, name, ns);
        if (cur.metadata.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY) {
          return F(
            COND.proxy,
            'ServiceConflict',
            `Service ${name} in namespace ${ns} exists and is not managed by the connectors controller`,
          );
        }
        ctx.services.upsert(cur);
        throw new Error(`Service ${ns}/${name} changed meanwhile; retrying`, { cause: err });
      }
      throw err;
    }
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const ctx = this.ctx;
    const [ns, name] = key.split('/');
    const c = ctx.connectors.get(name, ns);
    if (!c) {
      this.memo.delete(key);
      return;
    }
    if (c.metadata.deletionTimestamp) return;
    const cls = ctx.classes.get(c.spec.connectorClassName);
    const conds: CondInput[] = [checkClass(c, cls)];
    const ca = await this.caCheck(c);
    let proxyStatus: ConnectorStatus['proxy'];
    let failing = false;

    if (!cls) {
      const wait = (type: string) =>
        U(type, 'ConnectorClassNotReady', `waiting for connectorclass ${JSON.stringify(c.spec.connectorClassName)}`);
      conds.push(
        wait(COND.secret),
        { ...wait(COND.liveness), probed: true },
        { ...wait(COND.auth), probed: true },
        wait(COND.proxy),
      );
      this.memo.delete(key);
    } else {
      const lookup = await this.lookupSecret(c);
      const secretCond = checkSecret(c, cls, lookup);
      conds.push(secretCond);
      const secret = lookup.state === 'found' && secretCond.status === 'True' ? lookup.secret : undefined;

      const hash = createHash('sha256')
        .update(
          canonical([
            c.metadata.uid,
            c.metadata.generation,
            c.spec,
            cls.metadata.uid,
            cls.metadata.generation,
            cls.spec,
            secretCond,
            secret?.resourceVersion ?? '',
            ca.versions,
          ]),
        )
        .digest('hex');
      let memo = this.memo.get(key);
      const ttl =
        memo && (memo.liveness.status !== 'True' || memo.auth.status !== 'True')
          ? ctx.failedProbePeriodMs
          : ctx.probePeriodMs;
      const fresh = memo && memo.hash === hash && Date.now() - memo.at < ttl * 0.85;
      if (!fresh) {
        const r = await this.runProbes(c, cls, secretCond, secret, ca.extraCAs);
        memo = { hash, at: Date.now(), ...r };
        this.memo.set(key, memo);
      }
      conds.push(memo!.liveness, memo!.auth);
      failing = memo!.liveness.status !== 'True' || memo!.auth.status !== 'True';

      // ProxyServiceReady and status.proxy.
      const classProxySpec = cls.spec?.proxy;
      if (!classProxySpec) {
        conds.push(T(COND.proxy, 'NonProxy', 'the ConnectorClass has no proxy'));
        await this.ensureService(c, undefined);
      } else {
        let classURL: string | undefined;
        try {
          classURL = resolveEndpoint(classProxySpec, 'proxy', ctx.systemNamespace);
        } catch (err) {
          if (!(err instanceof AddressError)) throw err;
          conds.push(
            F(COND.proxy, 'InvalidProxy', `connectorclass ${JSON.stringify(cls.metadata.name)}: ${err.message}`),
          );
        }
        if (classURL) {
          const url = connectorProxyURL(cls, classURL, c);
          proxyStatus = { httpAddress: { name: 'proxy', url, audience: classProxySpec.audience || PROXY_AUDIENCE } };
          const classProxy = cls.status?.conditions?.find((x) => x.type === 'ProxyReady');
          const target = externalNameTarget(cls, classURL);
          const serviceProblem = await this.ensureService(c, target);
          if (serviceProblem) conds.push(serviceProblem);
          else if (classProxy?.status === 'False')
            conds.push(F(COND.proxy, classProxy.reason || 'ProxyNotReady', classProxy.message ?? ''));
          else if (!classProxy || classProxy.status === 'Unknown')
            conds.push(
              U(
                COND.proxy,
                'ProxyNotChecked',
                `waiting for connectorclass ${JSON.stringify(cls.metadata.name)} to check its proxy`,
              ),
            );
          else
            conds.push(
              T(COND.proxy, '', target ? `Service ${connectorServiceName(c.metadata.name!)} points to ${target}` : ''),
            );
        }
      }
    }
    if (ca.cond) conds.push(ca.cond);
    const all = [...conds, aggregateReady(conds)];
    failing ||= all[all.length - 1].status !== 'True';

    const prev = c.status ?? {};
    const next: ConnectorStatus = { ...prev };
    delete next.proxy;
    if (proxyStatus) next.proxy = proxyStatus;
    next.api = { path: connectorApiPath(ns, name) };
    next.observedGeneration = c.metadata.generation;
    next.conditions = mergeConditions(prev.conditions, all, {
      now: new Date(),
      generation: c.metadata.generation,
      probeTimeRefreshMs: ctx.probeTimeRefreshMs,
      probedAt: this.memo.get(key) ? new Date(this.memo.get(key)!.at) : undefined,
    });
    if (canonical(next) !== canonical(prev)) {
      const updated = await ctx.client.replaceStatus(resources.Connector, { ...c, status: next });
      ctx.connectors.upsert(updated);
      this.events(c, prev.conditions, next.conditions);
    }
    return { requeueAfterMs: jitter(failing ? ctx.failedProbePeriodMs : ctx.probePeriodMs) };
  }

  private events(
    c: Connector,
    prev: ConnectorStatus['conditions'],
    next: NonNullable<ConnectorStatus['conditions']>,
  ): void {
    const obj = {
      apiVersion: API_VERSION,
      kind: 'Connector',
      name: c.metadata.name!,
      namespace: c.metadata.namespace!,
      uid: c.metadata.uid,
    };
    for (const t of transitions(prev, next)) {
      if (t.type === COND.caCert) {
        if (t.status === 'False')
          this.ctx.recorder.event(
            obj,
            'Warning',
            t.reason === 'SecretNotFound' ? 'CACertSecretNotFound' : 'InvalidCACert',
            t.message ?? '',
          );
        continue;
      }
      if (t.type === COND.ready) {
        if (t.status === 'True') this.ctx.recorder.event(obj, 'Normal', 'Ready', 'Connector is ready');
        else if (t.status === 'False')
          this.ctx.recorder.event(obj, 'Warning', t.reason || 'NotReady', t.message || 'Connector is not ready');
      }
    }
  }
}
