// The AccessPolicy controller against the real apiserver: the Connector class label, matchedConnectors,
// defaultPermission as a Role + RoleBinding (what the proxy's and the CSI driver's reviews then allow), a
// selector or namespace change followed, a missing template reported, the namespace boundary, the CRD's
// validation, and nothing at all while approval is off.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '@connectors/test-support';
import { mayUseProxy } from '../../core/approval/review.ts';
import { policyGrantName } from '../../controller/approval/policy-reconciler.ts';
import {
  accessPolicy,
  conditionSummary,
  connector,
  setupApproval,
  dumpLogsOnFailure,
  APPROVAL_ON,
  type ApprovalEnv,
} from './fixture.ts';

const CLASS_LABEL = 'connectors.alauda.io/connectorclass';

const defaultAccess = (connectorSel: Record<string, unknown>, serviceAccounts: unknown[]) => ({
  connector: connectorSel,
  defaultPermission: {
    roleTemplate: { ref: { configMap: { name: 'connectors-use-connectors-proxy' } } },
    bindingTemplate: { serviceAccounts },
  },
});

describe('approval: the AccessPolicy controller', function () {
  this.timeout(120_000);
  let env: ApprovalEnv;
  let ns: string;
  const may = (saNs: string, sa: string, conn: string, connNs = ns) =>
    mayUseProxy(env.rest, { namespace: saNs, name: sa }, { namespace: connNs, name: conn }, 'proxy');

  before(async () => {
    env = await setupApproval('ap');
    ns = await env.c.createNamespace('ap-devops');
    for (const sa of ['builder', 'deployer', 'other']) await env.c.createServiceAccount(ns, sa);
    await env.apply(ns, [connector('harbor-a', 'oci'), connector('harbor-b', 'oci'), connector('gitlab', 'git')]);
  });
  afterEach(function () {
    dumpLogsOnFailure(this, env);
  });
  after(async () => {
    await env?.stop();
    if (ns) await env.c.deleteNamespace(ns);
  });

  it('labels every Connector with its class, and puts the label back when it is changed', async () => {
    const label = async (name: string) =>
      JSON.parse(await env.c.kubectl(['get', 'connector', name, '-n', ns, '-o', 'json'])).metadata.labels?.[
        CLASS_LABEL
      ];
    await eventually(
      'class labels',
      async () => (await label('harbor-a')) === 'oci' && (await label('gitlab')) === 'git',
    );
    await env.c.kubectl(['label', 'connector', 'gitlab', '-n', ns, `${CLASS_LABEL}=oci`, '--overwrite']);
    await eventually('the label restored', async () => (await label('gitlab')) === 'git');
  });

  it('defaultPermission: builder and deployer of devops may use the OCI Connectors at once; other may not', async () => {
    await env.apply(ns, [
      accessPolicy(
        'oci-default-access',
        defaultAccess({ matchLabels: { [CLASS_LABEL]: 'oci' } }, [
          { names: ['builder', 'deployer'], namespaceSelector: { names: [ns] } },
        ]),
      ),
    ]);
    // (A Connector is matched once the controller has put its class label on it.)
    const ap = await env.waitForPolicy(
      ns,
      'oci-default-access',
      'Ready with both OCI Connectors',
      (p) => env.condition(p, 'Ready')?.status === 'True' && p.status?.matchedConnectors?.length === 2,
    );
    expect(ap.status!.matchedConnectors).to.deep.equal([{ name: 'harbor-a' }, { name: 'harbor-b' }]);
    expect(conditionSummary(ap)).to.deep.equal({
      ConnectorsMatched: 'True/Matched',
      PermissionSync: 'True/Synced',
      Ready: 'True/',
    });
    expect(ap.status!.observedGeneration).to.equal(ap.metadata.generation);
    const grant = policyGrantName('oci-default-access');
    const role = await env.role(ns, grant);
    expect(role.rules).to.deep.equal([
      {
        apiGroups: ['connectors.alauda.io'],
        resources: ['connectors/proxy'],
        verbs: ['*'],
        resourceNames: ['harbor-a', 'harbor-b'],
      },
    ]);
    expect(role.metadata.ownerReferences[0]).to.include({ kind: 'AccessPolicy', name: 'oci-default-access' });
    expect(role.metadata.labels['connectors.alauda.io/accessPolicy']).to.equal('oci-default-access');
    const rb = await env.roleBinding(ns, grant);
    expect(rb.subjects).to.deep.equal([
      { kind: 'ServiceAccount', name: 'builder', namespace: ns },
      { kind: 'ServiceAccount', name: 'deployer', namespace: ns },
    ]);
    expect(await may(ns, 'builder', 'harbor-a')).to.equal(true);
    expect(await may(ns, 'deployer', 'harbor-b')).to.equal(true);
    expect(await may(ns, 'other', 'harbor-a'), 'other').to.equal(false);
    expect(await may(ns, 'builder', 'gitlab'), 'a git Connector').to.equal(false);
  });

  it('follows a changed selector: matchedConnectors, the Role and the RoleBinding', async () => {
    await env.apply(ns, [
      accessPolicy(
        'oci-default-access',
        defaultAccess({ names: ['gitlab'] }, [{ names: [], namespaceSelector: { names: [ns] } }]),
      ),
    ]);
    const ap = await env.waitForPolicy(
      ns,
      'oci-default-access',
      'gitlab matched',
      (p) =>
        p.status?.matchedConnectors?.[0]?.name === 'gitlab' && p.status.observedGeneration === p.metadata.generation,
    );
    expect(ap.status!.matchedConnectors).to.deep.equal([{ name: 'gitlab' }]);
    const grant = policyGrantName('oci-default-access');
    await eventually(
      'the Role follows',
      async () => (await env.role(ns, grant)).rules[0].resourceNames[0] === 'gitlab',
    );
    const rb = await eventually('the RoleBinding follows', async () => {
      const b = await env.roleBinding(ns, grant);
      return b.subjects.length === 1 ? b : undefined;
    });
    // names: [] → every ServiceAccount of the namespace, as its group.
    expect(rb.subjects).to.deep.equal([
      { kind: 'Group', name: `system:serviceaccounts:${ns}`, apiGroup: 'rbac.authorization.k8s.io' },
    ]);
    expect(await may(ns, 'other', 'gitlab'), 'any ServiceAccount of the namespace').to.equal(true);
    expect(await may(ns, 'builder', 'harbor-a'), 'no longer matched').to.equal(false);
  });

  it('selects namespaces by label and follows them as they are labelled', async () => {
    const project = await env.c.createNamespace('ap-member');
    await env.apply(ns, [
      accessPolicy(
        'project-access',
        defaultAccess({ names: ['harbor-a'] }, [
          { names: [], namespaceSelector: { matchLabels: { 'cpaas.io/project': `p-${ns}` } } },
        ]),
      ),
    ]);
    const ap = await env.waitForPolicy(ns, 'project-access', 'synced', (p) =>
      /selects no ServiceAccount/.test(env.condition(p, 'PermissionSync')?.message ?? ''),
    );
    expect(conditionSummary(ap).PermissionSync).to.equal('True/NoPermissionRequired');
    const grant = policyGrantName('project-access');
    expect(await env.roleBinding(ns, grant)).to.equal(undefined);
    await env.c.kubectl(['label', 'namespace', project, `cpaas.io/project=p-${ns}`]);
    const rb = await eventually('the member namespace bound', () => env.roleBinding(ns, grant));
    expect(rb.subjects).to.deep.equal([
      { kind: 'Group', name: `system:serviceaccounts:${project}`, apiGroup: 'rbac.authorization.k8s.io' },
    ]);
    await env.c.kubectl(['label', 'namespace', project, 'cpaas.io/project-']);
    await eventually('unbound again', async () => (await env.roleBinding(ns, grant)) === undefined);
    await env.c.deleteNamespace(project);
  });

  it('never matches Connectors of another namespace', async () => {
    const other = await env.c.createNamespace('ap-other');
    await env.apply(other, [connector('harbor-a', 'oci')]);
    await env.apply(ns, [
      accessPolicy('all-here', defaultAccess({}, [{ names: ['builder'], namespaceSelector: { names: [ns] } }])),
    ]);
    const ap = await env.waitForPolicy(
      ns,
      'all-here',
      'Ready',
      (p) => env.condition(p, 'Ready')?.status === 'True' && p.status?.matchedConnectors?.length === 3,
    );
    expect(ap.status!.matchedConnectors!.map((c) => c.name)).to.deep.equal(['gitlab', 'harbor-a', 'harbor-b']);
    expect(await may(ns, 'builder', 'harbor-a', other), 'the same name in another namespace').to.equal(false);
    await env.c.deleteNamespace(other);
  });

  it('reports a missing role template, and syncs once it exists', async () => {
    await env.apply(ns, [
      accessPolicy('custom-template', {
        connector: { names: ['harbor-b'] },
        defaultPermission: {
          roleTemplate: { ref: { configMap: { name: 'team-proxy-template' } } },
          bindingTemplate: { serviceAccounts: [{ names: ['other'], namespaceSelector: { names: [ns] } }] },
        },
      }),
    ]);
    let ap = await env.waitForPolicy(
      ns,
      'custom-template',
      'not found',
      (p) => env.condition(p, 'PermissionSync')?.reason === 'RoleTemplateNotFound',
    );
    expect(env.condition(ap, 'PermissionSync')!.message).to.equal(
      `role template ConfigMap "team-proxy-template" not found in namespace ${env.systemNs}`,
    );
    expect(conditionSummary(ap).Ready).to.equal('False/RoleTemplateNotFound');
    // A template granting more than the proxy is refused, naming the rule.
    const template = (rules: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'team-proxy-template' },
      data: { rules },
    });
    await env.apply(env.systemNs, [template('- {apiGroups: [""], resources: [secrets], verbs: [get]}\n')]);
    ap = await env.waitForPolicy(
      ns,
      'custom-template',
      'invalid',
      (p) => env.condition(p, 'PermissionSync')?.reason === 'InvalidRoleTemplate',
    );
    expect(env.condition(ap, 'PermissionSync')!.message).to.match(/apiGroups must be \[connectors.alauda.io\]/);
    await env.apply(env.systemNs, [
      template('- {apiGroups: [connectors.alauda.io], resources: [connectors/proxy], verbs: ["*"]}\n'),
    ]);
    await env.waitForPolicy(ns, 'custom-template', 'Ready', (p) => env.condition(p, 'Ready')?.status === 'True');
    expect(await may(ns, 'other', 'harbor-b')).to.equal(true);
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'names and labels together',
      defaultAccess({ names: ['a'], matchLabels: { x: 'y' } }, [{ names: [] }]),
      /names and label selectors \(matchLabels, matchExpressions\) are mutually exclusive/,
    ],
    [
      'a binding template without ServiceAccounts',
      defaultAccess({}, []),
      /spec\.defaultPermission\.bindingTemplate\.serviceAccounts: Invalid value: \d+: .* should have at least 1 items/,
    ],
    [
      'an empty checks list',
      {
        checkGrantedPermission: {
          spec: {
            checks: [],
            roleTemplate: { ref: { configMap: { name: 'connectors-use-connectors-proxy-in-pod' } } },
          },
        },
      },
      /checks in body should have at least 1 items/,
    ],
  ];
  for (const [name, spec, message] of invalid)
    it(`the CRD rejects ${name}`, async () => {
      const err = await env.c
        .kubectl(['create', '-n', ns, '-f', '-'], { input: JSON.stringify(accessPolicy('bad', spec)) })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(err?.message).to.match(message);
    });
});

describe('approval: nothing happens while approval is off', function () {
  this.timeout(120_000);
  let env: ApprovalEnv;
  let ns: string;

  before(async () => {
    env = await setupApproval('ap-off', {
      'enable-connectors-approval': 'true',
      'enable-connector-proxy-permissions': 'false',
    });
    ns = await env.c.createNamespace('ap-off');
    await env.apply(ns, [connector('harbor', 'oci')]);
  });
  afterEach(function () {
    dumpLogsOnFailure(this, env);
  });
  after(async () => {
    await env?.stop();
    if (ns) await env.c.deleteNamespace(ns);
  });

  it('leaves policies, Connectors and RBAC alone until both flags are on, then reconciles at once', async () => {
    await env.apply(ns, [
      accessPolicy('p', defaultAccess({}, [{ names: ['default'], namespaceSelector: { names: [ns] } }])),
    ]);
    await sleep(2000);
    expect(env.controller.approval.running()).to.equal(false);
    const ap = await env.policies.get('p', ns);
    expect(ap.status, 'no status while off').to.equal(undefined);
    const c = JSON.parse(await env.c.kubectl(['get', 'connector', 'harbor', '-n', ns, '-o', 'json']));
    expect(c.metadata.labels?.[CLASS_LABEL], 'no class label while off').to.equal(undefined);
    expect(await env.role(ns, policyGrantName('p'))).to.equal(undefined);

    await env.setFlags(APPROVAL_ON);
    await env.waitForPolicy(ns, 'p', 'Ready', (p) => env.condition(p, 'Ready')?.status === 'True');
    expect(await env.role(ns, policyGrantName('p'))).to.not.equal(undefined);
    expect(env.controller.approval.running()).to.equal(true);

    // Off again: the controllers stop (what was granted stays, as RBAC of the normal access model).
    await env.setFlags({ ...APPROVAL_ON, 'enable-connectors-approval': 'false' });
    await eventually('stopped', () => !env.controller.approval.running());
  });
});
