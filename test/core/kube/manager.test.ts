// The manager against the real apiserver: one watch per resource type for every consumer of a process,
// feature flags delivered by value (flags on before start reach late subscribers), declarative watches
// with predicates and key mappings, health and readiness, leader election; and the REST client: typed
// calls with the status subresource, server-side apply of a CRD and an object of its new kind, credentials
// read again after a 401.
import { expect } from 'chai';
import type { RequestOptions } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { cluster, type Cluster, eventually, objects } from '@connectors/test-support';
import { FEATURE_FLAGS_CONFIGMAP, type Connector } from '../../../core/api/index.ts';
import { applyObjects } from '../../../core/kube/apply.ts';
import { kubeClient, type KubeAccess, type KubeClient } from '../../../core/kube/client.ts';
import { Manager } from '../../../core/kube/manager.ts';
import { generationChanged, ownerKeys } from '../../../core/kube/predicates.ts';
import { objectKey, resourcePath, resources } from '../../../core/kube/resources.ts';
import type { ConfigMap } from '../../../core/kube/types.ts';
import { setLogSink } from '../../../core/observability/log.ts';
import { isList, startFaultProxy, type FaultProxy } from './faultproxy.ts';

describe('core/kube: the manager against the real apiserver', function () {
  this.timeout(120_000);
  let c: Cluster;
  let proxy: FaultProxy;
  let admin: KubeClient;
  const managers: Manager[] = [];
  let restoreLogs: () => void;

  before(async () => {
    c = await cluster();
    proxy = await startFaultProxy(c);
    admin = kubeClient(c.kubeConfig);
    restoreLogs = setLogSink(() => {});
  });
  after(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    await proxy?.close();
    await admin?.close();
    restoreLogs?.();
  });

  const manager = (systemNamespace: string, o: Partial<ConstructorParameters<typeof Manager>[1]> = {}) => {
    const m = new Manager(proxy.access, { systemNamespace, ...o });
    managers.push(m);
    return m;
  };
  const flagsMap = (ns: string, data: Record<string, string>): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: FEATURE_FLAGS_CONFIGMAP, namespace: ns },
    data,
  });
  const connector = (ns: string, name: string, secret: string): Connector =>
    objects.connector(name, {
      namespace: ns,
      className: 'none',
      address: 'https://example.com',
      auth: { name: 'basicAuth', secret },
    });

  it('serves every consumer of a resource type from one watch', async () => {
    const sys = await c.createNamespace('mgr-sys', { waitForDefaultServiceAccount: false });
    const m = manager(sys);
    const a = m.informer(resources.Connector);
    const b = m.informer(resources.Connector, { keep: (o) => o.metadata?.namespace === sys });
    const policies = m.informer(resources.ConfigMap, {
      namespace: sys,
      labelSelector: 'connectors.cpaas.io/policy=true',
      metadataOnly: true,
    });
    const flags = m.flags;
    await m.start();
    expect(await m.waitForSync(30_000)).to.equal(true);
    // A consumer registered after start shares the running watch.
    const late = m.informer(resources.Connector);
    await late.synced;
    for (const v of [a, b, policies, late]) expect(v.hasSynced()).to.equal(true);
    expect(flags.hasSynced()).to.equal(true);
    const watches = () => [
      proxy.count('watch', resourcePath(resources.Connector)),
      proxy.count('watch', resourcePath(resources.ConfigMap, { namespace: sys })),
    ];
    await eventually('the watches', () => watches().every((n) => n > 0));
    await sleep(500);
    expect(watches()).to.deep.equal([1, 1]);
  });

  it('feature flags on before the manager started reach every subscriber, however late; changes by value', async () => {
    const sys = await c.createNamespace('mgr-flags', { waitForDefaultServiceAccount: false });
    await admin.create(resources.ConfigMap, flagsMap(sys, { 'enable-multi-connector': 'true' }));
    const m = manager(sys);
    await m.start();
    await m.flags.synced;
    expect(m.flags.enabled('enable-multi-connector')).to.equal(true);
    const got: string[][] = [];
    m.flags.onChange((changed) => got.push(changed));
    expect(got).to.deep.equal([['enable-multi-connector']]);
    await admin.replace(
      resources.ConfigMap,
      flagsMap(sys, { 'enable-multi-connector': 'true', 'enable-custom-ca-certs': 'TRUE' }),
    );
    await eventually('the second change', () => got.length === 2);
    expect(got[1]).to.deep.equal(['enable-custom-ca-certs']);
    await admin.delete(resources.ConfigMap, FEATURE_FLAGS_CONFIGMAP, sys);
    await eventually('the deletion', () => got.length === 3);
    expect(got[2].sort()).to.deep.equal(['enable-custom-ca-certs', 'enable-multi-connector']);
    expect(m.flags.enabled('enable-multi-connector')).to.equal(false);
  });

  it('declarative watches: its own status writes do not come back; spec, referenced Secret, owned Service and flag changes do', async () => {
    const sys = await c.createNamespace('mgr-ctl-sys', { waitForDefaultServiceAccount: false });
    const ns = await c.createNamespace('mgr-ctl', { waitForDefaultServiceAccount: false });
    const m = manager(sys);
    const connectors = m.informer(resources.Connector, {
      keep: (o) => o.metadata?.namespace === ns,
      indexes: { 'test/secret': (o) => [`${o.metadata.namespace}/${o.spec.auth?.secretRef?.name}`] },
    });
    const secrets = m.informer(resources.Secret, {
      keep: (o) => connectors.byIndex('test/secret', objectKey(o)).length > 0,
      after: [connectors],
    });
    const services = m.informer(resources.Service, { namespace: ns });
    const reconciled: string[] = [];
    m.controller({
      name: 'test',
      for: { informer: connectors, predicate: generationChanged },
      watches: [
        { informer: secrets, map: (s) => connectors.byIndex('test/secret', objectKey(s)).map(objectKey) },
        { informer: services, map: ownerKeys('Connector') },
        { flags: m.flags, map: () => connectors.keys() },
      ],
      reconcile: (key) => {
        reconciled.push(key);
        return Promise.resolve();
      },
    });
    await admin.create(resources.Secret, { metadata: { name: 's1', namespace: ns }, stringData: { password: 'x' } });
    const created = await admin.create(resources.Connector, connector(ns, 'c1', 's1'));
    await m.start();
    const key = `${ns}/c1`;
    await eventually('the first reconcile', () => reconciled.includes(key));
    await sleep(500);
    const step = async (what: string, change: () => Promise<unknown>) => {
      reconciled.length = 0;
      await change();
      await eventually(what, () => reconciled.includes(key));
    };

    reconciled.length = 0;
    const withStatus = await admin.replaceStatus(resources.Connector, {
      ...(await admin.get(resources.Connector, 'c1', ns)),
      status: { observedGeneration: 1 },
    });
    await eventually(
      'the cache to hold the status',
      () => connectors.get('c1', ns)?.metadata.resourceVersion === withStatus.metadata.resourceVersion,
    );
    await sleep(1000);
    expect(reconciled, 'a status write').to.deep.equal([]);

    await step('a spec change', async () =>
      admin.patch(resources.Connector, 'c1', ns, { spec: { address: 'https://example.org' } }),
    );
    await step('a change of the referenced Secret', async () =>
      admin.patch(resources.Secret, 's1', ns, { stringData: { password: 'y' } }),
    );
    const svc = await admin.create(resources.Service, {
      metadata: {
        name: 'c-c1',
        namespace: ns,
        ownerReferences: [
          { apiVersion: 'connectors.alauda.io/v1alpha1', kind: 'Connector', name: 'c1', uid: created.metadata.uid! },
        ],
      },
      spec: { type: 'ExternalName', externalName: 'example.com' },
    });
    await step('a change of the owned Service', async () =>
      admin.patch(resources.Service, svc.metadata.name!, ns, { metadata: { labels: { touched: 'yes' } } }),
    );
    await step('a flag change', async () =>
      admin.create(resources.ConfigMap, flagsMap(sys, { 'enable-custom-ca-certs': 'true' })),
    );
  });

  it('/readyz names the caches not yet synced; the follower is ready but only the leader reconciles', async () => {
    const sys = await c.createNamespace('mgr-lead', { waitForDefaultServiceAccount: false });
    const path = resourcePath(resources.ConfigMap, { namespace: sys });
    proxy.inject({ match: (r) => isList(r) && r.path === path, status: 503, times: Infinity });
    const runs: Record<string, number> = { a: 0, b: 0 };
    const make = (id: 'a' | 'b') => {
      const m = manager(sys, { health: { port: 0, host: '127.0.0.1' } });
      const maps = m.informer(resources.ConfigMap, { namespace: sys });
      m.controller({
        name: `test-${id}`,
        for: { informer: maps },
        reconcile: () => {
          runs[id]++;
          return Promise.resolve();
        },
      });
      m.leaderElection({
        name: 'test-lease',
        identity: id,
        leaseDurationMs: 4000,
        renewDeadlineMs: 3000,
        retryPeriodMs: 500,
      });
      return m;
    };
    const a = make('a');
    await a.start();
    const readyz = async (m: Manager) => {
      const res = await fetch(`http://127.0.0.1:${m.health!.port}/readyz?verbose`);
      return { status: res.status, text: await res.text() };
    };
    const before = await readyz(a);
    expect(before.status).to.equal(503);
    expect(before.text).to.include('[-]caches-synced failed: 1 cache(s) not synced');
    proxy.clearFaults();
    await eventually('a ready', async () => (await readyz(a)).status === 200, 60_000);
    expect((await readyz(a)).text).to.include('[+]leader-election ok');
    expect((await fetch(`http://127.0.0.1:${a.health!.port}/healthz`)).status).to.equal(200);
    const b = make('b');
    await b.start();
    await eventually('b ready', async () => (await readyz(b)).status === 200, 60_000);
    expect(a.isLeader()).to.equal(true);
    expect(b.isLeader()).to.equal(false);
    await admin.create(resources.ConfigMap, { metadata: { name: 'x', namespace: sys } });
    await eventually('a reconciles', () => runs.a > 0);
    await sleep(1000);
    expect(runs.b).to.equal(0);
    await a.stop();
    await eventually('b leads', () => b.isLeader(), 15_000);
    await eventually('b reconciles', () => runs.b > 0);
  });
});

describe('core/kube: the REST client against the real apiserver', function () {
  this.timeout(120_000);
  let c: Cluster;
  let client: KubeClient;

  before(async () => {
    c = await cluster();
    client = kubeClient(c.kubeConfig);
  });
  after(() => client?.close());

  it('typed calls: the status subresource keeps spec and status apart; a missing object is undefined or false', async () => {
    const ns = await c.createNamespace('client', { waitForDefaultServiceAccount: false });
    const created = await client.create(
      resources.Connector,
      objects.connector('c', { namespace: ns, className: 'git', address: 'https://example.com' }),
    );
    const withStatus = await client.replaceStatus(resources.Connector, {
      ...created,
      status: { observedGeneration: 7 },
    });
    expect(withStatus.status?.observedGeneration).to.equal(7);
    const replaced = await client.replace(resources.Connector, {
      ...withStatus,
      spec: { ...withStatus.spec, address: 'https://example.org' },
      status: {},
    });
    expect(replaced.spec.address).to.equal('https://example.org');
    expect(replaced.status?.observedGeneration, 'a PUT of the object leaves status alone').to.equal(7);
    expect(await client.find(resources.Connector, 'nope', ns)).to.equal(undefined);
    expect(await client.delete(resources.Connector, 'nope', ns)).to.equal(false);
    expect(await client.delete(resources.Connector, 'c', ns)).to.equal(true);
  });

  it('server-side apply of a CRD and an object of its new kind in one call: discovery waits for the kind', async () => {
    const group = `t${Math.random().toString(16).slice(2, 8)}.example.com`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Cluster',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
              },
            },
          },
        ],
      },
    };
    try {
      await applyObjects(c.kubeConfig, [
        crd,
        { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w' }, spec: { size: 3 } } as never,
      ]);
      const widget = await client.call<{ spec: { size: number } }>('GET', `/apis/${group}/v1/widgets/w`);
      expect(widget.spec.size).to.equal(3);
    } finally {
      await client.delete(resources.CustomResourceDefinition, crd.metadata.name);
    }
  });

  it('reads the credentials again after a 401 (a rotated token)', async () => {
    const ns = await c.createNamespace('client-token');
    await c.createServiceAccount(ns, 'reader');
    const token = await c.createToken(ns, 'reader');
    const tls: RequestOptions = {};
    await c.kubeConfig.applyToHTTPSOptions(tls);
    let reads = 0;
    const access: KubeAccess = {
      getCurrentCluster: () => ({ server: c.server }),
      applyToHTTPSOptions: (o) => {
        reads++;
        o.ca = tls.ca;
        o.headers = { Authorization: `Bearer ${reads === 1 ? 'a-token-that-expired' : token}` };
        return Promise.resolve();
      },
    };
    const rotated = kubeClient(access);
    try {
      // Any authenticated user may ask who it is.
      const review = await rotated.call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      expect(reads).to.equal(2);
      expect(JSON.stringify(review)).to.include(`system:serviceaccount:${ns}:reader`);
    } finally {
      await rotated.close();
    }
  });
});
