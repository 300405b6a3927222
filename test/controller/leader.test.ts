// Leader election on a Lease: two controllers against the same cluster, only the leader reconciles; when it
// stops (releasing the Lease), the other takes over and reconciles.
import { eventually, cluster, objects, type Cluster } from '@connectors/test-support';
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeRest } from '../../core/kube/rest.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { restFor, waitConnectorCondition, upsert, ensureNamespace, classPath } from './helpers.ts';

describe('controller: leader election', function () {
  this.timeout(120_000);
  let c: Cluster;
  let rest: KubeRest;
  let ns: string;
  let sys: string;
  const suffix = Math.random().toString(16).slice(2, 8);
  const className = `leader-${suffix}`;
  let a: RunningController | undefined;
  let b: RunningController | undefined;

  before(async () => {
    c = await cluster();
    rest = await restFor(c);
    ns = await c.createNamespace('ctrl-leader');
    sys = `ctrl-sys-${suffix}`;
    await ensureNamespace(rest, sys);
    await upsert(rest, '/apis/connectors.alauda.io/v1alpha1/connectorclasses', objects.connectorClass(className, {}));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await rest.call('DELETE', classPath(className)).catch(() => {});
    await rest.close();
  });

  const connector = (name: string) =>
    objects.connector(name, { namespace: ns, className, address: 'http://127.0.0.1:9' });

  it('only one of two controllers reconciles; when it stops, the other takes over', async () => {
    const opts = {
      systemNamespace: sys,
      leaderElect: true,
      leaseName: 'connectors-controller',
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 500,
    };
    a = await startController(c.kubeConfig, { ...opts, identity: 'controller-a' });
    b = await startController(c.kubeConfig, { ...opts, identity: 'controller-b' });
    const leader = await eventually('a leader', () => (a!.isLeader() ? a : b!.isLeader() ? b : undefined), 20_000);
    const follower = leader === a ? b : a;
    const lease = await rest.call<{ spec: { holderIdentity: string } }>(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${sys}/leases/connectors-controller`,
    );
    expect(lease.spec.holderIdentity).to.equal(leader.identity);

    await rest.call('POST', `/apis/connectors.alauda.io/v1alpha1/namespaces/${ns}/connectors`, {
      body: connector('first'),
    });
    await waitConnectorCondition(rest, ns, 'first', 'Ready', { status: 'True' });
    await sleep(1500);
    expect(leader.reconciles()).to.be.above(0);
    expect(follower.reconciles()).to.equal(0);
    expect(follower.isLeader()).to.equal(false);

    const t0 = Date.now();
    await leader.stop();
    await eventually('the follower to lead', () => follower.isLeader(), 15_000);
    const takeoverMs = Date.now() - t0;
    expect(takeoverMs).to.be.below(5000); // the Lease is released on stop: no need to wait for it to expire
    await rest.call('POST', `/apis/connectors.alauda.io/v1alpha1/namespaces/${ns}/connectors`, {
      body: connector('second'),
    });
    await waitConnectorCondition(rest, ns, 'second', 'Ready', { status: 'True' });
    expect(follower.reconciles()).to.be.above(0);
  });
});
