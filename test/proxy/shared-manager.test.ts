// The proxy (and the Connectors API) on a manager shared with the controller, as `connectors up` runs them: their
// caches are views of the informers the controller already has (no watch of their own), their readiness is a
// check of the manager's health server, the proxy serves credentials from the shared Secret store, and stopping
// them leaves the manager and the controller running.
import { expect } from 'chai';
import { startApi, type RunningApi } from '../../api/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { Manager } from '../../core/kube/manager.ts';
import { setLogSink } from '../../core/observability/log.ts';
import { startProxy, type RunningProxy } from '../../proxy/index.ts';
import {
  cluster,
  eventually,
  objects,
  startRecordingUpstream,
  type Cluster,
  type RecordingUpstream,
} from '@connectors/test-support';
import { basic } from './fixture.ts';

describe('proxy and API: on a shared manager', function () {
  this.timeout(120_000);
  let c: Cluster;
  let ns: string;
  let sys: string;
  let mgr: Manager;
  let controller: RunningController;
  let proxy: RunningProxy | undefined;
  let api: RunningApi | undefined;
  let up: RecordingUpstream;
  let restoreLogs: () => void;
  let informers: number;

  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${mgr.health!.port}/readyz?verbose`);
    return { status: res.status, text: await res.text() };
  };

  before(async () => {
    c = await cluster();
    ns = await c.createNamespace('proxy-shared');
    sys = await c.createNamespace('proxy-shared-sys', { waitForDefaultServiceAccount: false });
    restoreLogs = setLogSink(() => {});
    up = await startRecordingUpstream();
    mgr = new Manager(c.kubeConfig, { systemNamespace: sys, health: { port: 0, host: '127.0.0.1' } });
    controller = await startController(mgr, { leaderElect: false });
    await controller.synced;
    informers = mgr.informerCount();
  });
  after(async () => {
    await proxy?.stop();
    await api?.stop();
    await controller?.stop();
    await mgr?.stop();
    await up?.stop();
    restoreLogs?.();
    if (ns) await c.deleteNamespace(ns);
    if (sys) await c.deleteNamespace(sys);
  });

  it("start on the controller's informers (no watch of their own), ready through the manager's /readyz", async () => {
    proxy = await startProxy(mgr, { host: '127.0.0.1', port: 0, systemNamespace: sys, interceptHttps: false });
    api = await startApi(mgr, { host: '127.0.0.1', port: 0 });
    expect(mgr.informerCount()).to.equal(informers);
    expect(proxy.healthPort).to.equal(mgr.health!.port);
    expect(api.healthPort).to.equal(mgr.health!.port);
    const r = await readyz();
    expect(r.status).to.equal(200);
    expect(r.text).to.include('[+]proxy ok').and.include('[+]api ok');
  });

  it("injects a Connector's credentials from the shared Secret store", async () => {
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.basicAuthSecret('shared', 'up-user', 'shared-secret'),
        objects.connector('shared', {
          className: 'git',
          address: up.url,
          auth: { name: 'basicAuth', secret: 'shared' },
        }),
        objects.connectorReader({ name: 'client-get', serviceAccount: 'client', saNamespace: ns }),
      ),
    });
    await c.createServiceAccount(ns, 'client');
    const token = await c.createToken(ns, 'client', { audience: 'connectors-proxy' });
    const url = `${proxy!.url}/namespaces/${ns}/connectors/shared/repo.git/info/refs`;
    await eventually(
      'the proxy forwards with the credentials',
      async () => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status === 200,
      30_000,
      100,
    );
    expect(up.last().headers.authorization).to.equal(basic('up-user', 'shared-secret'));
  });

  it('stop alone: their readiness checks go, the manager and the controller keep their caches', async () => {
    await proxy!.stop();
    await api!.stop();
    proxy = undefined;
    api = undefined;
    const r = await readyz();
    expect(r.status).to.equal(200);
    expect(r.text).to.not.match(/\](proxy|api) /);
    expect(mgr.informerCount()).to.equal(informers);
    expect(mgr.synced()).to.equal(true);
  });

  it('refuses a manager of another system namespace', async () => {
    const err = await startProxy(mgr, { port: 0, systemNamespace: 'elsewhere' }).catch((e: Error) => e);
    expect((err as Error).message).to.include(`the manager's system namespace is ${sys}, not elsewhere`);
  });
});
