// ConnectorClass reconciler: APIReady, ProxyReady, PoliciesReady and Ready; status.proxy.httpAddress and
// status.api.address; every Rego policy of the class compiled with the real opa and stored as a
// content-addressed ConfigMap (core/opa/store.ts) in the system namespace for the proxy.
import { createHash } from 'node:crypto';
import type { ConnectorClass, ConnectorClassStatus } from '../core/api/index.ts';
import { API_VERSION, PROXY_AUDIENCE } from '../core/api/keys.ts';
import { compileRego, RegoCompileError, type CompiledPolicy } from '../core/opa/index.ts';
import { GENERATOR_ENTRYPOINT } from '../core/opa/generator.ts';
import { AUTH_EXTRACTOR_ENTRYPOINT } from '../core/opa/extractor.ts';
import { PERMISSIONS_ENTRYPOINT } from '../core/opa/permissions.ts';
import { encodePolicyConfigMap, policyConfigMapName, type PolicyOwner } from '../core/opa/store.ts';
import { isConflict, isNotFound } from '../core/kube/client.ts';
import { resources } from '../core/kube/resources.ts';
import type { ReconcileResult } from '../core/kube/controller.ts';
import { counter } from '../core/observability/metrics.ts';
import { T, F, aggregateReady, mergeConditions, canonical, transitions, type CondInput } from './conditions.ts';
import { resolveEndpoint, AddressError } from './addresses.ts';
import { tryConnect, ProbeError } from './probe.ts';
import { jitter, type Ctx } from './context.ts';

export interface PolicySource {
  /** Names the policy in messages: `auth type "x" generator.rego`. */
  what: string;
  source: string;
  entrypoint: string;
  fileName: string;
}

/** Pure: every Rego policy of a class. */
export function classPolicies(cls: ConnectorClass): PolicySource[] {
  const out: PolicySource[] = [];
  const spec = cls.spec ?? {};
  for (const t of spec.auth?.types ?? []) {
    if (t.generator?.rego?.trim())
      out.push({
        what: `auth type ${JSON.stringify(t.name)}`,
        source: t.generator.rego,
        entrypoint: GENERATOR_ENTRYPOINT,
        fileName: 'generator.rego',
      });
  }
  if (spec.proxy?.authExtractor?.rego?.trim())
    out.push({
      what: 'spec.proxy.authExtractor',
      source: spec.proxy.authExtractor.rego,
      entrypoint: AUTH_EXTRACTOR_ENTRYPOINT,
      fileName: 'authExtractor.rego',
    });
  if (spec.api?.permissions?.rego?.trim())
    out.push({
      what: 'spec.api.permissions',
      source: spec.api.permissions.rego,
      entrypoint: PERMISSIONS_ENTRYPOINT,
      fileName: 'permissions.rego',
    });
  return out;
}

const probeTotal = () =>
  counter(
    'connectors_controller_probe_total',
    'Probes run by the controller, by type (liveness, auth, api, proxy) and result (success, failure, error).',
    ['type', 'result'],
  );

/** A fingerprint of what Connectors depend on in a class (spec, resolver annotation, status readiness). */
export function classFingerprint(cls: ConnectorClass | undefined): string {
  if (!cls) return '';
  const conds = (cls.status?.conditions ?? [])
    .filter((c) => c.type === 'PoliciesReady' || c.type === 'ProxyReady')
    .map((c) => [c.type, c.status, c.reason, c.message]);
  return createHash('sha256')
    .update(canonical([cls.metadata.generation, cls.metadata.uid, cls.metadata.annotations ?? {}, cls.spec, conds]))
    .digest('hex');
}

export async function reconcileClass(ctx: Ctx, name: string): Promise<ReconcileResult | void> {
  const cls = ctx.classes.get(name);
  if (!cls) return;
  const spec = cls.spec ?? {};
  const conds: CondInput[] = [];
  const status: ConnectorClassStatus = {};
  let failing = false;

  // APIReady: only tries to connect; any HTTP status is fine.
  if (!spec.api) {
    conds.push(T('APIReady', 'NonAPI', 'spec.api is not configured: the class has no API'));
  } else {
    try {
      const url = resolveEndpoint(spec.api, 'api', ctx.systemNamespace);
      status.api = { address: { url } };
      await tryConnect(url, ctx.probeTimeoutMs, ctx.pluginCAs);
      probeTotal().inc({ type: 'api', result: 'success' });
      conds.push({ ...T('APIReady'), probed: true });
    } catch (err) {
      failing = true;
      if (err instanceof AddressError) conds.push({ ...F('APIReady', 'InvalidAPI', err.message), probed: true });
      else if (err instanceof ProbeError) {
        probeTotal().inc({ type: 'api', result: 'failure' });
        conds.push({ ...F('APIReady', 'ConnectionFailed', err.message), probed: true });
      } else throw err;
    }
  }

  // ProxyReady: the referenced Service exists, or the explicit address / absolute uri answers.
  const proxy = spec.proxy;
  if (!proxy) {
    conds.push(T('ProxyReady', 'NonProxy', 'spec.proxy is not configured: the class has no proxy'));
  } else {
    try {
      const url = resolveEndpoint(proxy, 'proxy', ctx.systemNamespace);
      status.proxy = {
        httpAddress: {
          name: 'proxy',
          url,
          audience: proxy.audience || PROXY_AUDIENCE,
          ...(proxy.CACerts ? { CACerts: proxy.CACerts } : {}),
        },
      };
      const absolute = proxy.uri && /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy.uri);
      if (proxy.ref && !proxy.ref.address && !absolute) {
        const ns = proxy.ref.namespace || ctx.systemNamespace;
        try {
          await ctx.client.get(resources.Service, proxy.ref.name, ns);
          probeTotal().inc({ type: 'proxy', result: 'success' });
          conds.push({ ...T('ProxyReady'), probed: true });
        } catch (err) {
          if (!isNotFound(err)) throw err;
          failing = true;
          probeTotal().inc({ type: 'proxy', result: 'failure' });
          conds.push({
            ...F('ProxyReady', 'ProxyServiceNotFound', `Service ${proxy.ref.name} not found in namespace ${ns}`),
            probed: true,
          });
        }
      } else {
        await tryConnect(url, ctx.probeTimeoutMs);
        probeTotal().inc({ type: 'proxy', result: 'success' });
        conds.push({ ...T('ProxyReady'), probed: true });
      }
    } catch (err) {
      failing = true;
      if (err instanceof AddressError) conds.push({ ...F('ProxyReady', 'InvalidProxy', err.message), probed: true });
      else if (err instanceof ProbeError) {
        probeTotal().inc({ type: 'proxy', result: 'failure' });
        conds.push({ ...F('ProxyReady', 'ConnectionFailed', err.message), probed: true });
      } else throw err;
    }
  }

  // PoliciesReady: every Rego policy compiles; the modules are stored for the proxy.
  const policies = classPolicies(cls);
  const compiled: Array<{ p: PolicySource; c: CompiledPolicy }> = [];
  const errors: string[] = [];
  for (const p of policies) {
    try {
      compiled.push({ p, c: await compileRego(p.source, { entrypoint: p.entrypoint, fileName: p.fileName }) });
    } catch (err) {
      if (!(err instanceof RegoCompileError)) throw err;
      errors.push(`${p.what}: ${err.message}`);
    }
  }
  if (errors.length) {
    conds.push(F('PoliciesReady', 'RegoCompileFailed', errors.join('; ')));
  } else if (policies.length === 0) {
    conds.push(T('PoliciesReady', 'NoPolicies', 'the class has no Rego policies'));
  } else {
    try {
      await storePolicies(ctx, cls, compiled);
      conds.push(
        T(
          'PoliciesReady',
          'Compiled',
          `${policies.length} ${policies.length === 1 ? 'policy' : 'policies'} compiled to wasm and stored in namespace ${ctx.systemNamespace}`,
        ),
      );
    } catch (err) {
      failing = true;
      conds.push(
        F(
          'PoliciesReady',
          'PolicyStoreFailed',
          `could not store compiled policies in namespace ${ctx.systemNamespace}: ${(err as Error).message}`,
        ),
      );
    }
  }
  const all = [...conds, aggregateReady(conds)];

  const now = new Date();
  const next: ConnectorClassStatus = {
    ...status,
    observedGeneration: cls.metadata.generation,
    conditions: mergeConditions(cls.status?.conditions, all, {
      now,
      generation: cls.metadata.generation,
      probeTimeRefreshMs: ctx.probeTimeRefreshMs,
    }),
  };
  if (canonical(next) !== canonical(cls.status ?? {})) {
    const updated = await ctx.client.replaceStatus(resources.ConnectorClass, { ...cls, status: next });
    ctx.classes.upsert(updated);
    for (const t of transitions(cls.status?.conditions, next.conditions!)) {
      if (t.type !== 'Ready' && t.status !== 'False') continue;
      ctx.recorder.event(
        { apiVersion: API_VERSION, kind: 'ConnectorClass', name, uid: cls.metadata.uid },
        t.status === 'False' ? 'Warning' : 'Normal',
        t.reason || (t.status === 'True' ? 'Ready' : t.type),
        t.message || `${t.type} is ${t.status}`,
      );
    }
  }
  return { requeueAfterMs: jitter(failing ? ctx.failedProbePeriodMs : ctx.probePeriodMs) };
}

async function storePolicies(
  ctx: Ctx,
  cls: ConnectorClass,
  compiled: Array<{ p: PolicySource; c: CompiledPolicy }>,
): Promise<void> {
  const ns = ctx.systemNamespace;
  const owner: PolicyOwner = {
    apiVersion: API_VERSION,
    kind: 'ConnectorClass',
    name: cls.metadata.name!,
    uid: cls.metadata.uid!,
  };
  const wanted = new Set<string>();
  for (const { p, c } of compiled) {
    const name = policyConfigMapName(p.source, p.entrypoint);
    wanted.add(name);
    const existing = ctx.policyMaps.get(name, ns);
    if (!existing) {
      const cm = encodePolicyConfigMap({ source: p.source, namespace: ns, compiled: c, owners: [owner] });
      try {
        ctx.policyMaps.upsert(await ctx.client.create(resources.ConfigMap, cm));
        continue;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      ctx.policyMaps.upsert(await ctx.client.get(resources.ConfigMap, name, ns));
    }
    const cur = ctx.policyMaps.get(name, ns)!;
    const owners = cur.metadata.ownerReferences ?? [];
    if (!owners.some((o) => o.uid === owner.uid)) {
      const patched = await ctx.client.patch(resources.ConfigMap, name, ns, {
        metadata: {
          ownerReferences: [...owners, { ...owner, blockOwnerDeletion: false }],
          resourceVersion: cur.metadata.resourceVersion,
        },
      });
      ctx.policyMaps.upsert(patched);
    }
  }
  // Modules this class no longer uses: drop its ownership; delete those nobody owns any more.
  for (const cm of ctx.policyMaps.list(ns)) {
    const owners = cm.metadata.ownerReferences ?? [];
    if (wanted.has(cm.metadata.name!) || !owners.some((o) => o.uid === owner.uid)) continue;
    const rest = owners.filter((o) => o.uid !== owner.uid);
    if (rest.length === 0) {
      await ctx.client.delete(resources.ConfigMap, cm.metadata.name!, ns);
    } else {
      const patched = await ctx.client.patch(resources.ConfigMap, cm.metadata.name!, ns, {
        metadata: { ownerReferences: rest, resourceVersion: cm.metadata.resourceVersion },
      });
      ctx.policyMaps.upsert(patched);
    }
  }
}
