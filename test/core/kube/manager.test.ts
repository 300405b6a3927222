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

  it('leader election configured after another component started the manager: leader work waits for the Lease', async () => {
    const sys = await c.createNamespace('mgr-late-lease', { waitForDefaultServiceAccount: false });
    const lease = { name: 'late-lease', leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };
    const holder = manager(sys);
    holder.leaderElection({ ...lease, identity: 'holder' });
    await holder.start();
    await eventually('the holder leads', () => holder.isLeader(), 15_000);

    const m = manager(sys);
    const maps = m.informer(resources.ConfigMap, { namespace: sys });
    await m.start(); // no election yet: the manager leads
    let runs = 0;
    const early = m.controller({
      name: 'early',
      for: { informer: maps },
      reconcile: () => {
        runs++;
        return Promise.resolve();
      },
    });
    await eventually('the controller runs without an election', () => early.running());
    m.leaderElection({ ...lease, identity: 'late' });
    let lateRuns = 0;
    const late = m.controller({
      name: 'late',
      for: { informer: maps },
      reconcile: () => {
        lateRuns++;
        return Promise.resolve();
      },
    });
    await eventually('the running controller stops', () => !early.running());
    const before = runs;
    await admin.create(resources.ConfigMap, { metadata: { name: 'while-not-leading', namespace: sys } });
    await sleep(1000);
    expect(m.isLeader()).to.equal(false);
    expect(late.running()).to.equal(false);
    expect(runs).to.equal(before);
    expect(lateRuns).to.equal(0);

    await holder.stop();
    await eventually('the late manager leads', () => m.isLeader(), 15_000);
    await eventually('both controllers run and reconcile', () => early.running() && late.running() && lateRuns > 0);
  });

  it('a stopped view is forgotten by /readyz; the last view of an informer closes its watch, a later one lists afresh', async () => {
    const ns = await c.createNamespace('mgr-detach', { waitForDefaultServiceAccount: false });
    const path = resourcePath(resources.ConfigMap, { namespace: ns });
    const m = manager(ns, { health: { port: 0, host: '127.0.0.1' } });
    const all = m.informer(resources.ConfigMap, { namespace: ns });
    const kept = m.informer(resources.ConfigMap, { namespace: ns, labelSelector: 'keep=yes' });
    await m.start();
    expect(await m.waitForSync(30_000)).to.equal(true);
    await eventually('the watch is open', () => proxy.openWatches(path) === 1);
    const readyz = async () => (await fetch(`http://127.0.0.1:${m.health!.port}/readyz`)).status;
    expect(await readyz()).to.equal(200);

    // A view that cannot list keeps the manager unready, until its consumer stops it.
    const secrets = resourcePath(resources.Secret, { namespace: ns });
    proxy.inject({ match: (r) => isList(r) && r.path === secrets, status: 503, times: Infinity });
    const stuck = m.informer(resources.Secret, { namespace: ns });
    expect(await readyz()).to.equal(503);
    await stuck.stop();
    expect(await readyz()).to.equal(200);
    proxy.clearFaults();

    // One view stopped: the other still has the watch.
    await all.stop();
    await admin.create(resources.ConfigMap, { metadata: { name: 'kept', namespace: ns, labels: { keep: 'yes' } } });
    await eventually('the remaining view sees a new object', () => kept.get('kept', ns) !== undefined);
    expect(proxy.openWatches(path)).to.equal(1);
    const informers = m.informerCount();
    const lists = proxy.count('list', path);

    // The last view stopped: the watch closes; a later view starts a new informer, which lists.
    await kept.stop();
    expect(m.informerCount()).to.equal(informers - 1);
    await eventually('the watch is closed', () => proxy.openWatches(path) === 0);
    const late = m.informer(resources.ConfigMap, { namespace: ns });
    await late.synced;
    expect(proxy.count('list', path)).to.equal(lists + 1);
    expect(late.get('kept', ns)?.metadata.labels).to.deep.equal({ keep: 'yes' });
  });

  it('keeps a Secret as name, namespace, resourceVersion, type, data and the custom-CA label only', async () => {
    const ns = await c.createNamespace('mgr-slim', { waitForDefaultServiceAccount: false });
    await admin.create(resources.Secret, {
      metadata: {
        name: 'ca',
        namespace: ns,
        labels: { 'connectors.cpaas.io/ca-cert': 'true', team: 'a' },
        annotations: { note: 'dropped' },
      },
      stringData: { 'ca.crt': 'pem' },
    });
    const m = manager(ns);
    const secrets = m.informer(resources.Secret, { keep: (o) => o.metadata?.namespace === ns });
    await m.start();
    await secrets.synced;
    const s = secrets.get('ca', ns)!;
    expect(Object.keys(s).sort()).to.deep.equal(['data', 'metadata', 'type']);
    expect(Object.keys(s.metadata).sort()).to.deep.equal(['labels', 'name', 'namespace', 'resourceVersion']);
    expect(s.metadata.labels).to.deep.equal({ 'connectors.cpaas.io/ca-cert': 'true' });
    expect(s).to.deep.include({ type: 'Opaque', data: { 'ca.crt': Buffer.from('pem').toString('base64') } });
  });

  it("keeps a Connector's spec and identity only on a manager whose consumers never read its status (the proxy's)", async () => {
    const ns = await c.createNamespace('mgr-slim-connector', { waitForDefaultServiceAccount: false });
    const created = await admin.create(resources.Connector, {
      ...connector(ns, 'c', 's'),
      metadata: { name: 'c', namespace: ns, labels: { team: 'a' }, annotations: { note: 'dropped' } },
    });
    const withStatus = await admin.replaceStatus(resources.Connector, {
      ...created,
      status: { observedGeneration: 1, conditions: [] },
    });
    const caches = [manager(ns, { connectorSpecOnly: true }), manager(ns)].map((m) => {
      const view = m.informer(resources.Connector, { namespace: ns });
      return { m, view };
    });
    for (const { m, view } of caches) {
      await m.start();
      await view.synced;
    }
    const [slim, full] = caches.map(({ view }) => view.get('c', ns)!);
    expect(slim.spec).to.deep.equal(created.spec);
    expect(slim).to.not.have.property('status');
    expect(slim.metadata).to.deep.equal({
      name: 'c',
      namespace: ns,
      uid: created.metadata.uid,
      resourceVersion: withStatus.metadata.resourceVersion,
      generation: 1,
      labels: { team: 'a' },
    });
    expect(full.status, 'the default keeps the status').to.deep.include({ observedGeneration: 1 });
    expect(full.metadata.annotations).to.deep.equal({ note: 'dropped' });
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
