// The AccessRequest controller against the real apiserver and kube-controller-manager, with the built-in
// templates and ApprovalTasks (a stand-in CRD): pending → approved → Role + RoleBinding owned by the request;
// rejected; the Pod completing or going away revokes within seconds and ends the request; snapshots; checks
// by Rego (real opa) over other kinds; a Pod of another ServiceAccount; a controller restart mid-flow; ended
// requests deleted after their TTL.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '@connectors/test-support';
import { accessRequestFor } from '../../core/approval/request.ts';
import { podProxySubresource } from '../../core/approval/names.ts';
import { mayUseProxy } from '../../core/approval/review.ts';
import { resourcePath, resources } from '../../core/kube/resources.ts';
import { requestGrantName } from '../../controller/approval/request-reconciler.ts';
import type { AccessRequest, Connector } from '../../core/api/index.ts';
import {
  accessPolicy,
  APPROVAL_ON,
  conditionSummary,
  connector,
  pipelineApproval,
  setupApproval,
  dumpLogsOnFailure,
  type ApprovalEnv,
} from './fixture.ts';

describe('approval: the AccessRequest lifecycle', function () {
  this.timeout(120_000);
  let env: ApprovalEnv;
  let ns: string;

  before(async () => {
    env = await setupApproval('ar');
    ns = await env.c.createNamespace('ar-devops');
    await env.c.createServiceAccount(ns, 'builder');
    await env.apply(ns, [connector('prod-harbor', 'oci'), connector('other-tool', 'git')]);
    await env.apply(ns, [accessPolicy('prod-harbor-approval', pipelineApproval({ names: ['prod-harbor'] }))]);
  });
  afterEach(function () {
    dumpLogsOnFailure(this, env);
  });
  after(async () => {
    await env?.stop();
    if (ns) await env.c.deleteNamespace(ns);
  });

  /** A Pod of the pipeline run `run` and its AccessRequest for `conn`, as the CSI driver creates it. */
  async function requestFor(pod: string, run: string, conn = 'prod-harbor', sa = 'builder') {
    const p = await env.createPod(ns, pod, { serviceAccount: sa, labels: { 'tekton.dev/pipelineRun': run } });
    const ar = accessRequestFor(p, { namespace: ns, name: conn });
    await env.requests.create(ar);
    return { pod: p, name: ar.metadata.name! };
  }

  it('waits for the ApprovalTask, then grants the Pod its pod-bound proxy access with a Role + RoleBinding it owns', async () => {
    const { pod, name } = await requestFor('build-1', 'release-1');
    // (Pending first reads "listing the ApprovalTask resources" until the controller has listed them.)
    let ar = await env.waitForRequest(ns, name, 'waiting for the ApprovalTask', (a) =>
      /^waiting for an ApprovalTask/.test(env.condition(a, 'AccessCheckReady')?.message ?? ''),
    );
    expect(conditionSummary(ar)).to.deep.include({
      ContextObjectValid: 'True/Active',
      ConnectorResolved: 'True/Resolved',
      AccessPolicyMatched: 'True/Matched',
      AccessCheckReady: 'Unknown/Pending',
      AccessPermissionSync: 'Unknown/Pending',
      Ready: 'Unknown/Pending',
    });
    expect(env.condition(ar, 'AccessCheckReady')!.message).to.match(
      /^waiting for an ApprovalTask with labels tekton\.dev\/pipelineRun=release-1 in namespace .* \(check manual-approval of AccessPolicy prod-harbor-approval\)/,
    );
    expect(await env.role(ns, requestGrantName(name))).to.equal(undefined);

    await env.approvalTask(ns, 'release-1-approve', 'release-1', 'pending');
    ar = await env.waitForRequest(ns, name, 'the task is seen', (a) =>
      Boolean(a.status?.policies?.[0]?.matchedChecks?.length),
    );
    expect(env.condition(ar, 'AccessCheckReady')!.message).to.match(
      /waiting for ApprovalTask .*\/release-1-approve to be approved/,
    );

    await env.setTaskState(ns, 'release-1-approve', 'approved');
    ar = await env.waitForRequest(ns, name, 'Ready', (a) => env.condition(a, 'Ready')?.status === 'True');
    expect(conditionSummary(ar)).to.deep.include({
      AccessCheckReady: 'True/Passed',
      AccessPermissionSync: 'True/Synced',
      Ready: 'True/',
    });
    const [policy] = ar.status!.policies!;
    expect(policy.name).to.equal('prod-harbor-approval');
    expect(policy.matchedChecks).to.have.length(1);
    expect(policy.matchedChecks![0]).to.deep.include({ name: 'manual-approval' });
    expect(policy.matchedChecks![0].ref).to.include({ kind: 'ApprovalTask', name: 'release-1-approve', namespace: ns });
    expect(policy.matchedChecks![0].condition).to.include({ type: 'Passed', status: 'True', reason: 'Approved' });
    expect(policy.permissionSync).to.include({ status: 'True', reason: 'Synced' });

    const grant = requestGrantName(name);
    const role = await env.role(ns, grant);
    expect(role.rules).to.deep.equal([
      {
        apiGroups: ['connectors.alauda.io'],
        resources: [`connectors/proxy/v1/pod/${ns}/build-1`],
        verbs: ['*'],
        resourceNames: ['prod-harbor'],
      },
    ]);
    expect(role.metadata.labels['connectors.alauda.io/accessRequest']).to.equal(name);
    expect(role.metadata.ownerReferences).to.deep.equal([
      {
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'AccessRequest',
        name,
        uid: ar.metadata.uid,
        controller: true,
      },
    ]);
    const rb = await env.roleBinding(ns, grant);
    expect(rb.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: 'builder', namespace: ns }]);
    expect(rb.roleRef).to.deep.equal({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: grant });

    // The grant is exactly the pod-bound resource of this Pod, on this Connector: the reviews the CSI driver
    // and the proxy ask say so.
    const sa = { namespace: ns, name: 'builder' };
    const may = (conn: string, sub: string) => mayUseProxy(env.rest, sa, { namespace: ns, name: conn }, sub);
    expect(await may('prod-harbor', podProxySubresource(ns, pod.name))).to.equal(true);
    expect(await may('prod-harbor', 'proxy'), 'plain connectors/proxy').to.equal(false);
    expect(await may('prod-harbor', podProxySubresource(ns, 'another-pod'))).to.equal(false);
    expect(await may('other-tool', podProxySubresource(ns, pod.name))).to.equal(false);
  });

  it('keeps a passed verdict: deleting the approved ApprovalTask does not revoke', async () => {
    const { name } = await requestFor('build-2', 'release-2');
    await env.approvalTask(ns, 'release-2-approve', 'release-2', 'approved');
    await env.waitForRequest(ns, name, 'Ready', (a) => env.condition(a, 'Ready')?.status === 'True');
    await env.c.kubectl(['delete', 'approvaltask', 'release-2-approve', '-n', ns]);
    await sleep(1500);
    const ar = await env.requests.get(name, ns);
    expect(conditionSummary(ar)).to.deep.include({
      AccessCheckReady: 'True/Passed',
      AccessPermissionSync: 'True/Synced',
    });
    expect(await env.role(ns, requestGrantName(name))).to.not.equal(undefined);
  });

  it('a rejected ApprovalTask: AccessCheckReady=False/Rejected with its reason, nothing granted, an Event', async () => {
    const { name } = await requestFor('build-3', 'release-3');
    await env.approvalTask(ns, 'release-3-approve', 'release-3', 'pending');
    await env.setTaskState(ns, 'release-3-approve', 'rejected', 'not during the freeze');
    const ar = await env.waitForRequest(
      ns,
      name,
      'rejected',
      (a) => env.condition(a, 'AccessCheckReady')?.reason === 'Rejected',
    );
    expect(conditionSummary(ar)).to.deep.include({
      AccessCheckReady: 'False/Rejected',
      AccessPermissionSync: 'True/NoPermissionRequired',
      Ready: 'False/Rejected',
    });
    expect(env.condition(ar, 'AccessCheckReady')!.message).to.match(
      /ApprovalTask .*release-3-approve is rejected: not during the freeze/,
    );
    expect(await env.role(ns, requestGrantName(name))).to.equal(undefined);
    const events = await eventually('an AccessRejected event', async () => {
      const out = JSON.parse(
        await env.c.kubectl([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          `involvedObject.name=${name}`,
          '-o',
          'json',
        ]),
      );
      return out.items.find((e: { reason: string }) => e.reason === 'AccessRejected');
    });
    expect(events.type).to.equal('Warning');
  });

  // A deleted Pod may be seen while it is going away (Completed: "is being deleted") or once gone (NotFound).
  const endings: Array<[string, (pod: string) => Promise<void>, string[]]> = [
    ['completes', (pod) => env.completePod(ns, pod), ['False/Completed']],
    ['fails', (pod) => env.completePod(ns, pod, 'Failed'), ['False/Completed']],
    [
      'is deleted',
      async (pod) => {
        await env.c.kubectl(['delete', 'pod', pod, '-n', ns, '--wait=true']);
      },
      ['False/NotFound', 'False/Completed'],
    ],
  ];
  for (const [how, end, context] of endings) {
    it(`revokes within seconds when the Pod ${how}, and the request ends there`, async () => {
      const run = `release-end-${how.replace(/\s/g, '')}`;
      const pod = `build-${how.replace(/\s/g, '')}`;
      const { name } = await requestFor(pod, run);
      await env.approvalTask(ns, `${run}-approve`, run, 'approved');
      await env.waitForRequest(ns, name, 'Ready', (a) => env.condition(a, 'Ready')?.status === 'True');
      const grant = requestGrantName(name);
      expect(await env.role(ns, grant)).to.not.equal(undefined);

      const started = Date.now();
      await end(pod);
      const ar = await env.waitForRequest(
        ns,
        name,
        'cleaned up',
        (a) => env.condition(a, 'AccessPermissionSync')?.reason === 'PermissionCleanUp',
        10_000,
      );
      expect(await env.role(ns, grant)).to.equal(undefined);
      expect(await env.roleBinding(ns, grant)).to.equal(undefined);
      expect(Date.now() - started, 'revoked within seconds').to.be.below(10_000);
      expect(conditionSummary(ar).ContextObjectValid).to.be.oneOf(context);
      expect(env.condition(ar, 'ContextObjectValid')!.message).to.match(/has completed|is being deleted|not found/);
      expect(conditionSummary(ar).AccessPermissionSync).to.equal('True/PermissionCleanUp');
      expect(env.condition(ar, 'Ready')!.status).to.equal('False');

      // Final: a later change to its check no longer moves it.
      const before = ar.metadata.resourceVersion;
      await env.setTaskState(ns, `${run}-approve`, 'rejected');
      await sleep(1500);
      expect((await env.requests.get(name, ns)).metadata.resourceVersion).to.equal(before);
    });
  }

  it('keeps the snapshot of the policy it matched when the policy changes', async () => {
    const { name } = await requestFor('build-snap', 'release-snap');
    const ar = await env.waitForRequest(ns, name, 'matched', (a) => Boolean(a.status?.policies?.length));
    const snapshot = ar.status!.policies![0].policySpec;
    expect(snapshot).to.deep.equal(pipelineApproval({ names: ['prod-harbor'] }));
    await env.c.kubectl([
      'patch',
      'accesspolicy',
      'prod-harbor-approval',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          checkGrantedPermission: {
            spec: {
              checks: [{ name: 'other', spec: { selector: { objectRef: { apiVersion: 'v1', kind: 'ConfigMap' } } } }],
            },
          },
        },
      }),
    ]);
    await sleep(1500);
    const later = await env.requests.get(name, ns);
    expect(later.status!.policies![0].policySpec).to.deep.equal(snapshot);
    expect(later.status!.policies![0].matchedChecks ?? []).to.deep.equal([]);
    // Put the policy back for the other tests.
    await env.apply(ns, [accessPolicy('prod-harbor-approval', pipelineApproval({ names: ['prod-harbor'] }))]);
  });

  it('no policy covers the Connector: AccessPolicyMatched=False/NoMatch, until one is created', async () => {
    const { name } = await requestFor('build-nomatch', 'release-nomatch', 'other-tool');
    let ar = await env.waitForRequest(
      ns,
      name,
      'NoMatch',
      (a) => env.condition(a, 'AccessPolicyMatched')?.reason === 'NoMatch',
    );
    expect(env.condition(ar, 'AccessPolicyMatched')!.message).to.equal(
      `no AccessPolicy with checkGrantedPermission in namespace ${ns} covers connector "other-tool"`,
    );
    // A policy selecting git Connectors by the class label the controller keeps on them.
    await eventually(
      'the controller labels other-tool with its class',
      async () =>
        (
          await env.rest.getIfExists<Connector>(
            resourcePath(resources.Connector, { namespace: ns, name: 'other-tool' }),
          )
        )?.metadata.labels?.['connectors.alauda.io/connectorclass'] === 'git',
      30_000,
    );
    await env.apply(ns, [
      accessPolicy('git-approval', pipelineApproval({ matchLabels: { 'connectors.alauda.io/connectorclass': 'git' } })),
    ]);
    ar = await env.waitForRequest(
      ns,
      name,
      'matched',
      (a) => env.condition(a, 'AccessPolicyMatched')?.status === 'True',
    );
    expect(ar.status!.policies!.map((p) => p.name)).to.deep.equal(['git-approval']);
  });

  it('a Rego check over another kind (ConfigMaps): approved when the Rego says so', async () => {
    await env.apply(ns, [
      connector('rego-tool', 'ticketed'),
      accessPolicy('rego-approval', {
        connector: { names: ['rego-tool'] },
        checkGrantedPermission: {
          spec: {
            checks: [
              {
                name: 'change-ticket',
                spec: {
                  selector: {
                    objectRef: { apiVersion: 'v1', kind: 'ConfigMap' },
                    matchLabels: { 'tickets.example.com/pod': '{.object.metadata.name}' },
                  },
                  state: {
                    rego: 'package approval\nimport rego.v1\nstatus := {"state": input.data.state, "message": input.data.by} if input.data.state\n',
                  },
                },
              },
            ],
            roleTemplate: { ref: { configMap: { name: 'connectors-use-connectors-proxy-in-pod' } } },
          },
        },
      }),
    ]);
    const { name } = await requestFor('build-rego', 'r', 'rego-tool');
    const ticket = (state?: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ticket-42', labels: { 'tickets.example.com/pod': 'build-rego' } },
      data: state ? { state, by: 'change board' } : { note: 'open' },
    });
    await env.apply(ns, [ticket()]);
    let ar = await env.waitForRequest(ns, name, 'the ticket is seen', (a) =>
      Boolean(a.status?.policies?.[0]?.matchedChecks?.length),
    );
    expect(ar.status!.policies!.map((p) => p.name)).to.deep.equal(['rego-approval']);
    expect(conditionSummary(ar)).to.deep.include({ AccessCheckReady: 'Unknown/Pending' });
    await env.apply(ns, [ticket('approved')]);
    ar = await env.waitForRequest(ns, name, 'Ready', (a) => env.condition(a, 'Ready')?.status === 'True');
    expect(ar.status!.policies![0].matchedChecks![0].condition.message).to.equal(
      `ConfigMap ${ns}/ticket-42 is approved: change board`,
    );
  });

  it("a request whose subject is not the Pod's ServiceAccount ends as SubjectMismatch", async () => {
    await env.c.createServiceAccount(ns, 'intruder');
    const p = await env.createPod(ns, 'build-mismatch', {
      serviceAccount: 'builder',
      labels: { 'tekton.dev/pipelineRun': 'x' },
    });
    const ar: AccessRequest = accessRequestFor(
      { ...p, serviceAccount: 'intruder' },
      { namespace: ns, name: 'prod-harbor' },
    );
    await env.requests.create(ar);
    const got = await env.waitForRequest(
      ns,
      ar.metadata.name!,
      'mismatch',
      (a) => env.condition(a, 'ContextObjectValid')?.reason === 'SubjectMismatch',
    );
    expect(conditionSummary(got)).to.deep.include({ AccessPermissionSync: 'True/PermissionCleanUp' });
  });

  it('the CRD keeps spec immutable and takes only v1 Pods as context', async () => {
    const p = await env.createPod(ns, 'build-immutable', { serviceAccount: 'builder' });
    const ar = accessRequestFor(p, { namespace: ns, name: 'prod-harbor' });
    await env.requests.create(ar);
    const rejected = (args: string[], input?: string) =>
      env.c.kubectl(args, { input }).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    for (const patch of [
      { spec: { connectorRef: { name: 'other-tool' } } },
      { spec: { context: { objectRef: { ...ar.spec.context.objectRef, name: 'build-2' } } } },
    ])
      expect(
        await rejected([
          'patch',
          'accessrequest',
          ar.metadata.name!,
          '-n',
          ns,
          '--type=merge',
          '-p',
          JSON.stringify(patch),
        ]),
      ).to.match(/spec: Invalid value: .*spec is immutable/);
    const wrongPod = { ...ar, metadata: { name: 'apps-pod', namespace: ns } };
    wrongPod.spec = { ...ar.spec, context: { objectRef: { ...ar.spec.context.objectRef, apiVersion: 'apps/v1' } } };
    expect(await rejected(['create', '-f', '-'], JSON.stringify(wrongPod))).to.match(
      /a Pod reference has apiVersion v1/,
    );
  });
});

describe('approval: a controller restart mid-flow, and ended AccessRequests deleted after their TTL', function () {
  // The controller starts with --access-request-ttl=never and restarts with TTL_MS.
  this.timeout(120_000);
  // Generous: the test must see a request's end before its deletion on a busy machine.
  const TTL_MS = 8_000;
  let env: ApprovalEnv;
  let ns: string;

  before(async () => {
    env = await setupApproval('ar-ttl', APPROVAL_ON, { accessRequestTtlMs: Infinity });
    ns = await env.c.createNamespace('ar-ttl');
    await env.c.createServiceAccount(ns, 'builder');
    await env.apply(ns, [
      connector('prod-harbor', 'oci'),
      accessPolicy('prod-harbor-approval', pipelineApproval({ names: ['prod-harbor'] })),
    ]);
  });
  afterEach(function () {
    dumpLogsOnFailure(this, env);
  });
  after(async () => {
    await env?.stop();
    if (ns) await env.c.deleteNamespace(ns);
  });

  async function requestFor(pod: string, run: string) {
    const p = await env.createPod(ns, pod, { serviceAccount: 'builder', labels: { 'tekton.dev/pipelineRun': run } });
    const ar = accessRequestFor(p, { namespace: ns, name: 'prod-harbor' });
    await env.requests.create(ar);
    return ar.metadata.name!;
  }
  const ready = (a: AccessRequest) => env.condition(a, 'Ready')?.status === 'True';
  const exists = async (name: string) =>
    Boolean(await env.rest.getIfExists(`/apis/connectors.alauda.io/v1alpha1/namespaces/${ns}/accessrequests/${name}`));

  const cleanedUp = (x: AccessRequest) => env.condition(x, 'AccessPermissionSync')?.reason === 'PermissionCleanUp';

  it('converges after a restart: an approval and a Pod deletion that happened while it was down', async () => {
    const a = await requestFor('build-a', 'run-a');
    const b = await requestFor('build-b', 'run-b');
    // d ends before the restart, and "never" keeps it.
    const d = await requestFor('build-d', 'run-d');
    await env.c.kubectl(['delete', 'pod', 'build-d', '-n', ns, '--wait=true']);
    await env.waitForRequest(ns, d, 'ended before the restart', cleanedUp);
    await env.approvalTask(ns, 'run-b-approve', 'run-b', 'approved');
    await env.waitForRequest(ns, b, 'Ready', ready);
    await env.waitForRequest(ns, a, 'pending', (x) =>
      /^waiting for an ApprovalTask/.test(env.condition(x, 'AccessCheckReady')?.message ?? ''),
    );
    expect(await exists(d), 'an ended request with a TTL of never is kept').to.equal(true);
    await env.restartController(
      async () => {
        await env.approvalTask(ns, 'run-a-approve', 'run-a', 'approved');
        await env.c.kubectl(['delete', 'pod', 'build-b', '-n', ns, '--wait=true']);
      },
      { accessRequestTtlMs: TTL_MS },
    );
    // b first: it is deleted TTL_MS after it ends.
    const ended = await env.waitForRequest(ns, b, 'cleaned up after the restart', cleanedUp);
    expect(await env.role(ns, requestGrantName(b))).to.equal(undefined);
    expect(await env.roleBinding(ns, requestGrantName(b))).to.equal(undefined);
    await env.waitForRequest(ns, a, 'Ready after the restart', ready);
    expect(await env.role(ns, requestGrantName(a))).to.not.equal(undefined);
    // Ended before this controller started, so no event brings it back: deleted TTL_MS after its end.
    await eventually('the request ended before the restart deleted', async () => !(await exists(d)), 30_000, 100);

    // The ended request is deleted once it has been final for the TTL; the granted one of a live Pod stays.
    const endedAt = Date.parse(env.condition(ended, 'AccessPermissionSync')!.lastTransitionTime as string);
    await eventually('the ended request deleted', async () => !(await exists(b)), 30_000, 100);
    // (lastTransitionTime has whole seconds.)
    expect(Date.now() - endedAt, 'not before its TTL').to.be.at.least(TTL_MS - 1000);
    await sleep(TTL_MS);
    expect(await exists(a), 'a request of a running Pod is kept').to.equal(true);
    expect(conditionSummary(await env.requests.get(a, ns))).to.deep.include({ AccessPermissionSync: 'True/Synced' });
  });
});
