// The shared informer and its watch client against the real apiserver, through a pass-through that records
// every request and injects faults: list then watch from the list's resourceVersion, resume after a cut
// connection without relisting, relist on 410 Gone (as the apiserver's ERROR event and as an HTTP status),
// bookmarks moving the resourceVersion of a quiet watch, backoff while the apiserver fails; and the consumer
// views: filters, metadata only, a late view, late handlers.
import { expect } from 'chai';
import { cluster, type Cluster, eventually } from '@connectors/test-support';
import { kubeClient, type KubeClient } from '../../../core/kube/client.ts';
import { SharedInformer, olderVersion, type Informer } from '../../../core/kube/informer.ts';
import { jsonLines } from '../../../core/kube/watch.ts';
import { resourcePath, resources } from '../../../core/kube/resources.ts';
import type { ConfigMap } from '../../../core/kube/types.ts';
import { startFaultProxy, isWatch, type FaultProxy } from './faultproxy.ts';

interface Seen {
  type: 'add' | 'update' | 'delete';
  name: string;
  rv?: string;
}

function record(view: Informer<ConfigMap>): Seen[] {
  const seen: Seen[] = [];
  view.addHandler({
    add: (o) => seen.push({ type: 'add', name: o.metadata.name!, rv: o.metadata.resourceVersion }),
    update: (o) => seen.push({ type: 'update', name: o.metadata.name!, rv: o.metadata.resourceVersion }),
    delete: (o) => seen.push({ type: 'delete', name: o.metadata.name! }),
  });
  return seen;
}

const LABEL = { 'informer-test': 'true' };
const has = (seen: Seen[], type: Seen['type'], name: string) => seen.some((s) => s.type === type && s.name === name);

describe('core/kube: the shared informer against the real apiserver', function () {
  this.timeout(120_000);
  let c: Cluster;
  let proxy: FaultProxy;
  let admin: KubeClient;
  let client: KubeClient;
  const informers: Array<SharedInformer<ConfigMap>> = [];

  before(async () => {
    c = await cluster();
    proxy = await startFaultProxy(c);
    admin = kubeClient(c.kubeConfig);
    client = kubeClient(proxy.access);
  });
  after(async () => {
    await Promise.all(informers.map((i) => i.stop()));
    await proxy?.close();
    await admin?.close();
    await client?.close();
  });

  async function namespace(prefix: string) {
    const ns = await c.createNamespace(prefix, { waitForDefaultServiceAccount: false });
    return { ns, path: resourcePath(resources.ConfigMap, { namespace: ns }) };
  }
  const put = (
    ns: string,
    name: string,
    labels: Record<string, string> = {},
    data: Record<string, string> = { v: '1' },
  ) => admin.create(resources.ConfigMap, { metadata: { name, namespace: ns, labels: { ...labels, ...LABEL } }, data });
  // Only the test's own ConfigMaps (not kube-root-ca.crt, which kube-controller-manager adds to every namespace).
  const informer = (path: string, o: ConstructorParameters<typeof SharedInformer<ConfigMap>>[2] = {}) => {
    const i = new SharedInformer<ConfigMap>(client, path, { labelSelector: 'informer-test=true', ...o });
    informers.push(i);
    return i;
  };

  it('lists, then watches from the list’s resourceVersion: adds, updates and deletes arrive; one list, one watch', async () => {
    const { ns, path } = await namespace('inf-basic');
    await put(ns, 'a');
    await put(ns, 'b');
    const i = informer(path);
    const view = i.view();
    const seen = record(view);
    i.start();
    await view.synced;
    expect(
      view
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).to.deep.equal(['a', 'b']);
    await put(ns, 'c');
    const a = await admin.get(resources.ConfigMap, 'a', ns);
    await admin.replace(resources.ConfigMap, { ...a, data: { v: '2' } });
    await admin.delete(resources.ConfigMap, 'b', ns);
    await eventually(
      'the watch events',
      () => has(seen, 'add', 'c') && has(seen, 'update', 'a') && has(seen, 'delete', 'b'),
    );
    expect(view.get('a', ns)?.data).to.deep.equal({ v: '2' });
    expect(view.get('b', ns)).to.equal(undefined);
    expect(proxy.count('list', path)).to.equal(1);
    expect(proxy.count('watch', path)).to.equal(1);
    const w = proxy.requests.find((r) => isWatch(r) && r.path === path)!;
    expect(w.query.get('allowWatchBookmarks')).to.equal('true');
    expect(Number(w.query.get('timeoutSeconds'))).to.be.within(300, 599);
    expect(w.query.get('resourceVersion')).to.match(/^\d+$/);
  });

  it('a cut connection resumes from the last resourceVersion seen: no relist, and what changed meanwhile arrives', async () => {
    const { ns, path } = await namespace('inf-cut');
    await put(ns, 'a');
    const i = informer(path);
    const view = i.view();
    const seen = record(view);
    i.start();
    await view.synced;
    await put(ns, 'b');
    await eventually('b', () => has(seen, 'add', 'b'));
    const before = i.lastResourceVersion();
    expect(proxy.cutWatches()).to.be.at.least(1);
    await put(ns, 'c');
    await admin.delete(resources.ConfigMap, 'a', ns);
    await eventually('events from the outage', () => has(seen, 'add', 'c') && has(seen, 'delete', 'a'), 30_000);
    expect(proxy.count('list', path)).to.equal(1);
    const resumed = proxy.requests.filter((r) => isWatch(r) && r.path === path)[1];
    expect(resumed.query.get('resourceVersion')).to.equal(before);
  });

  // The apiserver's watch cache keeps a long window (it served a watch from resourceVersion 1 after an etcd
  // compaction in a young test cluster), so an expired resourceVersion cannot be produced in a test quickly:
  // the pass-through answers with the apiserver's own ERROR event, or with the HTTP status.
  for (const form of ['an ERROR event in the watch stream', 'an HTTP 410 status'] as const) {
    it(`410 Gone as ${form} relists, and an object deleted meanwhile is reported deleted`, async () => {
      const { ns, path } = await namespace('inf-gone');
      await put(ns, 'keep');
      await put(ns, 'gone');
      const i = informer(path);
      const view = i.view();
      const seen = record(view);
      i.start();
      await view.synced;
      // Hold the informer off (every watch fails), delete behind its back, then let it in with a 410.
      const match = (r: Parameters<NonNullable<Parameters<FaultProxy['inject']>[0]['match']>>[0]) =>
        isWatch(r) && r.path === path;
      proxy.inject({ match, status: 500, times: Infinity });
      proxy.cutWatches();
      await eventually('a refused watch', () => proxy.requests.some((r) => match(r) && r.status === 500));
      await admin.delete(resources.ConfigMap, 'gone', ns);
      proxy.clearFaults();
      if (form === 'an HTTP 410 status') proxy.inject({ match, status: 410 });
      else
        proxy.inject({
          match,
          errorEvent: { code: 410, reason: 'Expired', message: 'too old resource version: 1 (223)' },
        });
      await eventually('the relist to report the deletion', () => has(seen, 'delete', 'gone'), 60_000);
      expect(proxy.count('list', path)).to.equal(2);
      expect(view.list().map((o) => o.metadata.name)).to.deep.equal(['keep']);
      await put(ns, 'after');
      await eventually('events after the relist', () => has(seen, 'add', 'after'));
    });
  }

  it('bookmarks move the resourceVersion of a quiet watch, and the next watch resumes from there', async function () {
    // Bookmarks are best effort: an idle apiserver sends one before each 5 s watch times out, a loaded one
    // (a full test run on two cores) skipped them for a minute and more; one took over 90 s.
    this.timeout(240_000);
    const { ns, path } = await namespace('inf-quiet');
    const { ns: busy } = await namespace('inf-busy');
    const created = await put(ns, 'only');
    const i = informer(path, { watchTimeoutSeconds: () => 5 });
    const view = i.view();
    i.start();
    await view.synced;
    // Other ConfigMaps advance the apiserver's resourceVersion; this watch sees none of them, only bookmarks
    // carry it forward (the apiserver sends one before a watch's timeout, and about every minute).
    const other = await put(busy, 'elsewhere');
    const resumedFrom = await eventually(
      'a watch resumed from a bookmark’s resourceVersion',
      () =>
        proxy.requests
          .filter((r) => isWatch(r) && r.path === path)
          .map((r) => r.query.get('resourceVersion')!)
          .find((rv) => !olderVersion(rv, other.metadata.resourceVersion)),
      200_000,
      500,
    );
    expect(olderVersion(created.metadata.resourceVersion, resumedFrom)).to.equal(true);
    expect(view.list().map((o) => o.metadata.name)).to.deep.equal(['only']);
    expect(proxy.count('list', path)).to.equal(1);
  });

  it('reconnects with growing backoff while the apiserver fails, then resumes without losing an event', async () => {
    const { ns, path } = await namespace('inf-backoff');
    const i = informer(path);
    const view = i.view();
    const seen = record(view);
    i.start();
    await view.synced;
    const match = (r: { method: string; path: string; query: URLSearchParams }) =>
      isWatch(r as never) && r.path === path;
    proxy.inject({ match, status: 503, times: Infinity });
    proxy.cutWatches();
    await eventually(
      'four refused watches',
      () => proxy.requests.filter((r) => match(r) && r.status === 503).length >= 4,
      40_000,
    );
    const at = proxy.requests.filter((r) => match(r) && r.status === 503).map((r) => r.at);
    const gaps = at.slice(1).map((t, k) => t - at[k]);
    // 1 s, 2 s, 4 s (±20 %): never a hot loop, and growing.
    expect(gaps[0]).to.be.at.least(750);
    expect(gaps[1]).to.be.at.least(1500);
    expect(gaps[2]).to.be.at.least(3000);
    await put(ns, 'during');
    proxy.clearFaults();
    await eventually('the event from the failure', () => has(seen, 'add', 'during'), 40_000);
    expect(proxy.count('list', path)).to.equal(1);
  });

  it('an object slimmed to a few fields still reports its updates (its name, namespace and resourceVersion are kept)', async () => {
    const { ns, path } = await namespace('inf-slim');
    await put(ns, 'a', { tier: '1' });
    const i = informer(path, { slim: (raw) => ({ metadata: { labels: raw.metadata?.labels } }) });
    const view = i.view();
    const seen = record(view);
    i.start();
    await view.synced;
    const cm = await admin.get(resources.ConfigMap, 'a', ns);
    await admin.replace(resources.ConfigMap, { ...cm, metadata: { ...cm.metadata, labels: { ...LABEL, tier: '2' } } });
    await eventually('the update', () => has(seen, 'update', 'a'));
    expect(view.get('a', ns)?.metadata).to.deep.include({ name: 'a', namespace: ns, labels: { ...LABEL, tier: '2' } });
  });

  describe('views of one informer', () => {
    let ns: string;
    let path: string;
    let i: SharedInformer<ConfigMap>;
    let a: Informer<ConfigMap>;
    let b: Informer<ConfigMap>;

    before(async () => {
      ({ ns, path } = await namespace('inf-views'));
      await put(ns, 'for-a', { app: 'a' });
      await put(ns, 'for-b', { app: 'b' });
      await put(ns, 'for-nobody', {});
      i = informer(path);
      i.addIndex('app', (o) => [o.metadata?.labels?.app ?? '']);
      a = i.view({ labelSelector: 'app=a' });
      b = i.view({ keep: (o) => o.metadata?.labels?.app === 'b', metadataOnly: true });
      i.start();
      await Promise.all([a.synced, b.synced]);
    });

    it('each view keeps what it asks for; an object nobody wants is not stored; metadata only where every keeper says so', () => {
      expect(a.list().map((o) => o.metadata.name)).to.deep.equal(['for-a']);
      expect(b.list().map((o) => o.metadata.name)).to.deep.equal(['for-b']);
      expect(a.get('for-a', ns)?.data).to.deep.equal({ v: '1' });
      expect(b.get('for-b', ns)?.data).to.equal(undefined);
      expect(b.get('for-b', ns)?.metadata.labels).to.deep.equal({ app: 'b', ...LABEL });
      expect(a.get('for-nobody', ns)).to.equal(undefined);
      expect(a.byIndex('app', 'a').map((o) => o.metadata.name)).to.deep.equal(['for-a']);
      expect(proxy.count('watch', path)).to.equal(1);
    });

    it('a label change moves an object from one view to the other: a delete in one, an add in the other', async () => {
      const seenA = record(a);
      const seenB = record(b);
      const cm = await admin.get(resources.ConfigMap, 'for-a', ns);
      await admin.replace(resources.ConfigMap, { ...cm, metadata: { ...cm.metadata, labels: { ...LABEL, app: 'b' } } });
      await eventually('the move', () => has(seenA, 'delete', 'for-a') && has(seenB, 'add', 'for-a'));
      expect(b.get('for-a', ns)?.data).to.equal(undefined); // b reads metadata only, a no longer keeps it
    });

    it('a view registered after objects were dropped relists once and sees them; a late handler gets an add per object', async () => {
      const lists = proxy.count('list', path);
      const all = i.view();
      await all.synced;
      expect(proxy.count('list', path)).to.equal(lists + 1);
      expect(
        all
          .list()
          .map((o) => o.metadata.name)
          .sort(),
      ).to.deep.equal(['for-a', 'for-b', 'for-nobody']);
      expect(all.get('for-b', ns)?.data).to.deep.equal({ v: '1' }); // now someone reads its data
      const late: string[] = [];
      all.addHandler({ add: (o) => late.push(o.metadata.name!) });
      expect(late.sort()).to.deep.equal(['for-a', 'for-b', 'for-nobody']);
    });

    it('an object written and stored (upsert) is not reported again when its own watch event arrives', async () => {
      const all = i.view();
      await all.synced;
      const seen = record(all);
      seen.length = 0; // the replayed adds
      const cm = await admin.get(resources.ConfigMap, 'for-nobody', ns);
      const written = await admin.replace(resources.ConfigMap, { ...cm, data: { v: 'written' } });
      all.upsert(written);
      await put(ns, 'marker');
      await eventually('the marker', () => has(seen, 'add', 'marker'));
      expect(seen.filter((s) => s.name === 'for-nobody')).to.deep.equal([
        { type: 'update', name: 'for-nobody', rv: written.metadata.resourceVersion },
      ]);
    });
  });
});

describe('core/kube: pure parts of the watch client', () => {
  it('splits a byte stream into JSON lines across any chunk boundary', async () => {
    const text = '{"a":1}\n{"b":"é"}\n\n{"c":3}';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, bytes.length]) {
      // eslint-disable-next-line @typescript-eslint/require-await -- an async generator is the plainest AsyncIterable
      const chunks = (async function* () {
        for (let k = 0; k < bytes.length; k += size) yield bytes.subarray(k, k + size);
      })();
      const lines: string[] = [];
      for await (const l of jsonLines(chunks)) lines.push(l);
      expect(lines, `chunks of ${size}`).to.deep.equal(['{"a":1}', '{"b":"é"}', '{"c":3}']);
    }
  });

  it('orders resourceVersions as etcd revisions, and never calls an opaque one older', () => {
    const cases: Array<[string | undefined, string | undefined, boolean]> = [
      ['9', '10', true],
      ['10', '9', false],
      ['10', '10', false],
      ['123', '124', true],
      ['abc', '10', false],
      [undefined, '10', false],
      ['10', '', false],
    ];
    for (const [a, b, want] of cases) expect(olderVersion(a, b), `${a} < ${b}`).to.equal(want);
  });
});
