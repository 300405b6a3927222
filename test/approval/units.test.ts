// The pure decisions of approval, table by table: selection, subject expansion, kubectl JSONPath, role
// templates, check specs and verdicts (with the real opa for Rego), AccessRequest conditions, what CSI makes
// of an AccessRequest, `.error.json`, names and labels.
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { matchesLabels, selectNames, selectsAll, describeSelector } from '../../controller/approval/selectors.ts';
import { expandSubjects, rbacSubject } from '../../controller/approval/subjects.ts';
import { renderTemplate, parsePath, JsonPathError } from '../../controller/approval/jsonpath.ts';
import { parseRules, renderRules, RoleTemplateError } from '../../controller/approval/rules.ts';
import {
  parseCheckTemplate,
  resolveCheck,
  evaluateSelector,
  verdictOf,
  defaultState,
  regoState,
  CheckConfigError,
} from '../../controller/approval/checks.ts';
import { evaluateStateRego } from '../../controller/approval/rego.ts';
import { checksCondition, contextCondition, requestConditions } from '../../controller/approval/conditions.ts';
import { classLabelPatch } from '../../controller/approval/class-label.ts';
import { T, F, U } from '../../controller/conditions.ts';
import { accessRequestTtl } from '../../cli/commands/controller.ts';
import {
  accessRequestFor,
  accessRequestName,
  endedRequestTtlLeft,
  errorStatusJson,
  gateOutcome,
  isFinal,
} from '../../core/approval/request.ts';
import { approvalActive, boundedName, labelValue, podOfUser, podProxySubresource } from '../../core/approval/names.ts';
import { proxyAccessReview } from '../../core/approval/review.ts';
import { builtinTemplates, templatesManifest } from '../../core/approval/templates.ts';
import type { AccessRequest, Condition, Connector } from '../../core/api/index.ts';

const named = (name: string, labels?: Record<string, string>) => ({ metadata: { name, labels } });

describe('approval units', () => {
  describe('label selectors', () => {
    const labels = { 'connectors.alauda.io/connectorclass': 'oci', env: 'prod', usage: 'release' };
    const cases: Array<[string, Parameters<typeof matchesLabels>[1], boolean]> = [
      ['{} selects everything', {}, true],
      ['matchLabels that hold', { matchLabels: { 'connectors.alauda.io/connectorclass': 'oci' } }, true],
      ['matchLabels with another value', { matchLabels: { 'connectors.alauda.io/connectorclass': 'git' } }, false],
      ['In', { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'stage'] }] }, true],
      ['In, value not listed', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }, false],
      ['In, key missing', { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] }, false],
      ['NotIn', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, true],
      ['NotIn, key missing holds', { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, true],
      ['NotIn, value listed', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, false],
      ['Exists', { matchExpressions: [{ key: 'usage', operator: 'Exists' }] }, true],
      ['DoesNotExist', { matchExpressions: [{ key: 'usage', operator: 'DoesNotExist' }] }, false],
      [
        'every requirement must hold (AND)',
        {
          matchLabels: { env: 'prod' },
          matchExpressions: [{ key: 'usage', operator: 'In', values: ['release'] }],
        },
        true,
      ],
      [
        'an unknown operator selects nothing',
        { matchExpressions: [{ key: 'env', operator: 'Gt', values: ['1'] }] },
        false,
      ],
    ];
    for (const [name, sel, want] of cases) it(name, () => expect(matchesLabels(labels, sel)).to.equal(want));

    it('selects Connectors by names, by labels, or all with {} (sorted)', () => {
      const cs = [named('prod-harbor', { 'connectors.alauda.io/connectorclass': 'oci' }), named('gitlab'), named('b')];
      expect(selectNames({}, cs)).to.deep.equal(['b', 'gitlab', 'prod-harbor']);
      expect(selectNames(undefined, cs)).to.deep.equal(['b', 'gitlab', 'prod-harbor']);
      expect(selectNames({ names: ['prod-harbor', 'missing'] }, cs)).to.deep.equal(['prod-harbor']);
      expect(selectNames({ matchLabels: { 'connectors.alauda.io/connectorclass': 'oci' } }, cs)).to.deep.equal([
        'prod-harbor',
      ]);
      expect(selectNames({ names: [''] }, cs), 'names: [""] is no name').to.deep.equal(['b', 'gitlab', 'prod-harbor']);
      expect(selectsAll({ names: [''] })).to.equal(true);
      expect(selectsAll({ matchLabels: { a: 'b' } })).to.equal(false);
    });

    it('describes a selector for messages', () => {
      expect(
        describeSelector({
          matchLabels: { 'tekton.dev/pipelineRun': 'pr-1' },
          matchExpressions: [
            { key: 'a', operator: 'In', values: ['x', 'y'] },
            { key: 'b', operator: 'DoesNotExist' },
          ],
        }),
      ).to.equal('tekton.dev/pipelineRun=pr-1,a in (x,y),!b');
    });
  });

  describe('subject expansion of a binding template', () => {
    const namespaces = [
      named('devops', { 'cpaas.io/project': 'p1' }),
      named('devops-2', { 'cpaas.io/project': 'p1' }),
      named('other'),
    ];
    const SA = (namespace: string, name: string) => ({ kind: 'ServiceAccount', name, namespace });
    const G = (name: string) => ({ kind: 'Group', name, apiGroup: 'rbac.authorization.k8s.io' });
    const cases: Array<[string, Parameters<typeof expandSubjects>[0], object[]]> = [
      [
        'names + namespace names: one ServiceAccount per (namespace, name)',
        { serviceAccounts: [{ names: ['builder', 'deployer'], namespaceSelector: { names: ['devops'] } }] },
        [SA('devops', 'builder'), SA('devops', 'deployer')],
      ],
      [
        'names: [] + namespaces: the group of every ServiceAccount per namespace',
        { serviceAccounts: [{ names: [], namespaceSelector: { matchLabels: { 'cpaas.io/project': 'p1' } } }] },
        [G('system:serviceaccounts:devops'), G('system:serviceaccounts:devops-2')],
      ],
      [
        'names + every namespace ({}): those names in every namespace',
        { serviceAccounts: [{ names: ['builder'], namespaceSelector: {} }] },
        [SA('devops', 'builder'), SA('devops-2', 'builder'), SA('other', 'builder')],
      ],
      [
        'no names + every namespace: the group system:serviceaccounts',
        { serviceAccounts: [{ names: [], namespaceSelector: {} }] },
        [G('system:serviceaccounts')],
      ],
      [
        'an absent namespaceSelector is every namespace; names [""] are no names',
        { serviceAccounts: [{ names: [''] }] },
        [G('system:serviceaccounts')],
      ],
      [
        'a namespace that does not exist selects nothing',
        { serviceAccounts: [{ names: ['builder'], namespaceSelector: { names: ['nowhere'] } }] },
        [],
      ],
      [
        'items add up without duplicates',
        {
          serviceAccounts: [
            { names: ['builder'], namespaceSelector: { names: ['devops'] } },
            { names: ['builder', 'x'], namespaceSelector: { names: ['devops'] } },
          ],
        },
        [SA('devops', 'builder'), SA('devops', 'x')],
      ],
      [
        'names and labels of a namespaceSelector both apply',
        {
          serviceAccounts: [
            { names: [], namespaceSelector: { names: ['devops', 'other'], matchLabels: { 'cpaas.io/project': 'p1' } } },
          ],
        },
        [G('system:serviceaccounts:devops')],
      ],
    ];
    for (const [name, template, want] of cases)
      it(name, () => expect(expandSubjects(template, namespaces)).to.deep.equal(want));

    it('makes an AccessRequest subject an rbac/v1 subject', () => {
      expect(rbacSubject({ kind: 'ServiceAccount', name: 'b', namespace: 'n' })).to.deep.equal(SA('n', 'b'));
      expect(rbacSubject({ kind: 'User', name: 'alice' })).to.deep.equal({
        kind: 'User',
        name: 'alice',
        apiGroup: 'rbac.authorization.k8s.io',
      });
    });
  });

  describe('kubectl JSONPath templates over {object: <pod>}', () => {
    const pod = {
      object: {
        metadata: {
          name: 'build-1',
          namespace: 'cicd',
          labels: { 'tekton.dev/pipelineRun': 'release-7', app: 'x' },
        },
        status: {
          phase: 'Running',
          conditions: [
            { type: 'Ready', status: 'False' },
            { type: 'Initialized', status: 'True' },
          ],
        },
        spec: { containers: [{ name: 'a' }, { name: 'b' }] },
      },
    };
    const cases: Array<[string, string, string]> = [
      ['plain text', 'connectors/proxy', 'connectors/proxy'],
      [
        'text around actions',
        'connectors/proxy/v1/pod/{.object.metadata.namespace}/{.object.metadata.name}',
        'connectors/proxy/v1/pod/cicd/build-1',
      ],
      ['escaped dots in a field (kubectl)', '{.object.metadata.labels.tekton\\.dev/pipelineRun}', 'release-7'],
      ['a single-quoted key with escaped dots', "{.object.metadata.labels['tekton\\.dev/pipelineRun']}", 'release-7'],
      ['a double-quoted key (the design docs)', '{.object.metadata.labels["tekton\\.dev/pipelineRun"]}', 'release-7'],
      [
        'a quoted key without escapes (standard JSONPath; kubectl would split it)',
        "{.object.metadata.labels['tekton.dev/pipelineRun']}",
        'release-7',
      ],
      ['$ root', '{$.object.metadata.name}', 'build-1'],
      ['index', '{.object.spec.containers[1].name}', 'b'],
      ['wildcard, space-separated', '{.object.spec.containers[*].name}', 'a b'],
      ['filter', '{.object.status.conditions[?(@.type=="Initialized")].status}', 'True'],
      ['recursive descent', '{..phase}', 'Running'],
      ['quoted text', '{.object.metadata.name}{"-"}{.object.metadata.namespace}', 'build-1-cicd'],
      ['an object as JSON', '{.object.spec.containers[0]}', '{"name":"a"}'],
    ];
    for (const [name, template, want] of cases) it(name, () => expect(renderTemplate(template, pod)).to.equal(want));

    const errors: Array<[string, string, RegExp]> = [
      ['a missing label', '{.object.metadata.labels.tekton\\.dev/pipelineRun2}', /is not found/],
      ['an unclosed action', '{.object.metadata.name', /unclosed action/],
      ['range is not supported', '{range .object.spec.containers[*]}{.name}{end}', /"range" is not supported/],
      ['unions are not supported', '{.object.spec.containers[0,1].name}', /unions are not supported/],
      ['a bad index', '{.object.spec.containers[x].name}', /invalid array index/],
    ];
    for (const [name, template, want] of errors)
      it(`fails on ${name}`, () => {
        expect(() => renderTemplate(template, pod)).to.throw(JsonPathError, want);
      });

    it('never evaluates code in filters', () => {
      expect(() => renderTemplate('{.object.status.conditions[?(process.exit(3))].status}', pod)).to.throw(
        JsonPathError,
      );
    });

    it('parses kubectl paths into segments (keys with dots and slashes stay whole)', () => {
      expect(parsePath('.object.metadata.labels.tekton\\.dev/pipelineRun')).to.deep.equal([
        '$',
        'object',
        'metadata',
        'labels',
        'tekton.dev/pipelineRun',
      ]);
    });
  });

  describe('role templates', () => {
    const builtin = Object.fromEntries(builtinTemplates('sys').map((cm) => [cm.metadata.name!, cm.data]));
    const pod = { object: { metadata: { name: 'build-1', namespace: 'cicd' } } };

    it('the built-in use-connectors-proxy grants * on connectors/proxy of the matched Connectors', () => {
      const rules = parseRules(builtin['connectors-use-connectors-proxy'].rules, 't');
      expect(renderRules(rules, ['b', 'a'], undefined, 't')).to.deep.equal([
        {
          apiGroups: ['connectors.alauda.io'],
          resources: ['connectors/proxy'],
          verbs: ['*'],
          resourceNames: ['a', 'b'],
        },
      ]);
    });

    it('the built-in use-connectors-proxy-in-pod grants the pod-bound resource of one Pod', () => {
      const rules = parseRules(builtin['connectors-use-connectors-proxy-in-pod'].rules, 't');
      expect(renderRules(rules, ['prod-harbor'], pod, 't')).to.deep.equal([
        {
          apiGroups: ['connectors.alauda.io'],
          resources: ['connectors/proxy/v1/pod/cicd/build-1'],
          verbs: ['*'],
          resourceNames: ['prod-harbor'],
        },
      ]);
    });

    const bad: Array<[string, string, RegExp]> = [
      ['no rules', '', /has no data.rules/],
      ['not a list', 'apiGroups: [x]', /non-empty YAML list/],
      [
        'another API group',
        '- {apiGroups: [""], resources: [secrets], verbs: [get]}',
        /apiGroups must be \[connectors.alauda.io\]/,
      ],
      [
        'a resource other than the proxy',
        '- {apiGroups: [connectors.alauda.io], resources: [connectors], verbs: [get]}',
        /resource "connectors" cannot be granted/,
      ],
      [
        'connectors/apis',
        '- {apiGroups: [connectors.alauda.io], resources: [connectors/apis], verbs: [get]}',
        /cannot be granted/,
      ],
      ['nonResourceURLs', '- {nonResourceURLs: [/x], verbs: [get]}', /nonResourceURLs cannot be granted/],
      ['no verbs', '- {apiGroups: [connectors.alauda.io], resources: [connectors/proxy]}', /verbs is empty/],
      ['YAML errors', '- [unclosed', /is not YAML/],
    ];
    for (const [name, text, want] of bad)
      it(`refuses ${name}`, () => expect(() => parseRules(text, 't')).to.throw(RoleTemplateError, want));

    it('refuses a context template where there is no context, and an empty Connector list', () => {
      const inPod = parseRules(builtin['connectors-use-connectors-proxy-in-pod'].rules, 't');
      expect(() => renderRules(inPod, ['c'], undefined, 't')).to.throw(
        RoleTemplateError,
        /only checkGrantedPermission/,
      );
      const plain = parseRules(builtin['connectors-use-connectors-proxy'].rules, 't');
      expect(() => renderRules(plain, [], undefined, 't')).to.throw(RoleTemplateError, /no Connector to grant/);
    });

    it('ignores resourceNames of a template: a grant never names other Connectors', () => {
      const rules = parseRules(
        '- {apiGroups: [connectors.alauda.io], resources: [connectors/proxy], verbs: ["*"], resourceNames: [other]}',
        't',
      );
      expect(renderRules(rules, ['mine'], undefined, 't')[0].resourceNames).to.deep.equal(['mine']);
    });
  });

  describe('checks', () => {
    const builtin = Object.fromEntries(builtinTemplates('sys').map((cm) => [cm.metadata.name!, cm.data]));
    const pod = { metadata: { name: 'p', namespace: 'ns', labels: { 'tekton.dev/pipelineRun': 'pr-1' } } };

    it("the built-in approvals-in-pipeline selects the ApprovalTask of the Pod's PipelineRun", () => {
      const spec = resolveCheck(
        { name: 'manual-approval', ref: { configMap: { name: 'connectors-approvals-in-pipeline' } } },
        (n) => builtin[n],
        'AccessPolicy x',
      );
      expect(spec.selector.objectRef).to.deep.equal({
        apiVersion: 'openshift-pipelines.org/v1alpha1',
        kind: 'ApprovalTask',
      });
      expect(evaluateSelector(spec, { object: pod }, 'c')).to.deep.equal({
        matchLabels: { 'tekton.dev/pipelineRun': 'pr-1' },
        matchExpressions: [],
      });
    });

    it('an inline spec, with templated matchExpressions values', () => {
      const spec = resolveCheck(
        {
          name: 'c',
          spec: {
            selector: {
              objectRef: { apiVersion: 'v1', kind: 'ConfigMap' },
              matchExpressions: [{ key: 'pod', operator: 'In', values: ['{.object.metadata.name}'] }],
            },
          },
        },
        () => undefined,
        'x',
      );
      expect(evaluateSelector(spec, { object: pod }, 'c').matchExpressions).to.deep.equal([
        { key: 'pod', operator: 'In', values: ['p'] },
      ]);
    });

    it("reads the design's `labels` as matchLabels in a template", () => {
      const spec = parseCheckTemplate(
        'selector:\n  labels: {a: b}\n  objectRef: {apiVersion: v1, kind: ConfigMap}\n',
        't',
      );
      expect(spec.selector.matchLabels).to.deep.equal({ a: 'b' });
    });

    const bad: Array<[string, () => unknown, RegExp]> = [
      [
        'a missing template',
        () => resolveCheck({ name: 'c', ref: { configMap: { name: 'nope' } } }, () => undefined, 'x'),
        /check template ConfigMap "nope" \(check "c"\) not found/,
      ],
      ['a template without spec', () => parseCheckTemplate(undefined, 't'), /has no data.spec/],
      [
        'a selector without objectRef kind',
        () => parseCheckTemplate('selector: {objectRef: {apiVersion: v1}}', 't'),
        /needs apiVersion and kind/,
      ],
      [
        'a label value the Pod cannot fill',
        () =>
          evaluateSelector(
            parseCheckTemplate(builtin['connectors-approvals-in-pipeline'].spec, 't'),
            { object: { metadata: { name: 'p' } } },
            'check c',
          ),
        /check c: label tekton.dev\/pipelineRun .* is not found/,
      ],
    ];
    for (const [name, fn, want] of bad) it(`reports ${name}`, () => expect(fn).to.throw(CheckConfigError, want));

    const verdicts: Array<[unknown, string | undefined, string, string, RegExp]> = [
      ['approved', undefined, 'True', 'Approved', /^ApprovalTask ns\/t is approved$/],
      ['passed', undefined, 'True', 'Passed', /passed$/],
      ['rejected', 'not today', 'False', 'Rejected', /^ApprovalTask ns\/t is rejected: not today$/],
      ['pending', undefined, 'Unknown', 'Pending', /^waiting for ApprovalTask ns\/t to be approved$/],
      [undefined, undefined, 'Unknown', 'Pending', /waiting for/],
      ['error', undefined, 'False', 'Failed', /has state "error"; expected approved, rejected, pending or passed/],
    ];
    for (const [state, detail, status, reason, message] of verdicts)
      it(`state ${JSON.stringify(state)} → ${status}/${reason}`, () => {
        const v = verdictOf(state, detail, 'ApprovalTask ns/t');
        expect([v.status, v.reason]).to.deep.equal([status, reason]);
        expect(v.message).to.match(message);
      });

    it('reads status.state (and status.message) of a check resource by default', () => {
      expect(defaultState({ status: { state: 'rejected', message: 'no' } })).to.deep.equal({
        state: 'rejected',
        message: 'no',
      });
      expect(defaultState({})).to.deep.equal({ state: undefined, message: undefined });
    });

    describe('state.rego, compiled by the real opa', function () {
      this.timeout(120_000);
      const rego = `package approval
import rego.v1
status := {"state": input.data.decision, "message": input.data.note} if input.data.decision
`;
      it('gives the state and message of `status`', async () => {
        const r = regoState(await evaluateStateRego(rego, { data: { decision: 'approved', note: 'ok by alice' } }));
        expect(r).to.deep.equal({ state: 'approved', message: 'ok by alice' });
        expect(verdictOf(r.state, r.message, 'x').reason).to.equal('Approved');
      });
      it('an undefined status waits', async () => {
        const r = regoState(await evaluateStateRego(rego, { data: {} }));
        expect(verdictOf(r.state, r.message, 'x').reason).to.equal('Pending');
      });
      it('a policy that does not compile is a configuration error naming the file and line', async () => {
        const err = await evaluateStateRego('package approval\nstatus := {"state": nope(', {}).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err).to.be.instanceOf(CheckConfigError);
        expect(err!.message).to.match(/state\.rego:\d+/);
      });
    });
  });

  describe('AccessRequest conditions', () => {
    const ar = (subject = { kind: 'ServiceAccount', name: 'builder', namespace: 'cicd' }): AccessRequest => ({
      apiVersion: 'connectors.alauda.io/v1alpha1',
      kind: 'AccessRequest',
      metadata: { name: 'ar', namespace: 'shared' },
      spec: {
        subject,
        connectorRef: { name: 'prod-harbor' },
        context: { objectRef: { apiVersion: 'v1', kind: 'Pod', name: 'build', namespace: 'cicd', uid: 'u1' } },
      },
    });
    const pod = (o: { uid?: string; phase?: string; deleting?: boolean; sa?: string } = {}) => ({
      metadata: { uid: o.uid ?? 'u1', ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
      spec: { serviceAccountName: o.sa ?? 'builder' },
      status: { phase: o.phase ?? 'Running' },
    });
    const cases: Array<[string, AccessRequest, ReturnType<typeof pod> | undefined, string, string]> = [
      ['a running Pod of the subject', ar(), pod(), 'True', 'Active'],
      ['a pending Pod', ar(), pod({ phase: 'Pending' }), 'True', 'Active'],
      ['no Pod', ar(), undefined, 'False', 'NotFound'],
      ['a new Pod of the same name', ar(), pod({ uid: 'u2' }), 'False', 'NotFound'],
      ['a Pod that succeeded', ar(), pod({ phase: 'Succeeded' }), 'False', 'Completed'],
      ['a Pod that failed', ar(), pod({ phase: 'Failed' }), 'False', 'Completed'],
      ['a Pod being deleted', ar(), pod({ deleting: true }), 'False', 'Completed'],
      ['a Pod running as another ServiceAccount', ar(), pod({ sa: 'other' }), 'False', 'SubjectMismatch'],
      ['a User subject', ar({ kind: 'User', name: 'builder' } as never), pod(), 'False', 'SubjectMismatch'],
      [
        "a ServiceAccount subject without namespace is in the Pod's",
        ar({ kind: 'ServiceAccount', name: 'builder' } as never),
        pod(),
        'True',
        'Active',
      ],
    ];
    for (const [name, request, p, status, reason] of cases)
      it(`ContextObjectValid: ${name} → ${status}/${reason}`, () => {
        const c = contextCondition(request, p);
        expect([c.status, c.reason]).to.deep.equal([status, reason]);
      });

    const verdict = (reason: string, status = 'Unknown') => ({
      policy: 'p',
      check: 'c',
      verdict: { status: status as 'True', reason: reason as 'Passed', message: `m-${reason}` },
    });
    const checkCases: Array<[string, ReturnType<typeof verdict>[], string, string]> = [
      ['all passed', [verdict('Approved', 'True'), verdict('Passed', 'True')], 'True', 'Passed'],
      ['one pending', [verdict('Approved', 'True'), verdict('Pending')], 'Unknown', 'Pending'],
      ['a rejection wins over pending', [verdict('Pending'), verdict('Rejected', 'False')], 'False', 'Rejected'],
      [
        'a rejection wins over a failure',
        [verdict('Failed', 'False'), verdict('Rejected', 'False')],
        'False',
        'Rejected',
      ],
      ['a failure wins over pending', [verdict('Pending'), verdict('Failed', 'False')], 'False', 'Failed'],
      ['no checks at all', [], 'Unknown', 'Pending'],
    ];
    for (const [name, outcomes, status, reason] of checkCases)
      it(`AccessCheckReady: ${name} → ${status}/${reason}`, () => {
        const c = checksCondition(outcomes);
        expect([c.status, c.reason]).to.deep.equal([status, reason]);
      });

    it('names the check and policy in the AccessCheckReady message', () => {
      expect(checksCondition([verdict('Pending')]).message).to.equal('m-Pending (check c of AccessPolicy p)');
    });

    it('Ready takes the first non-True condition', () => {
      const conds = requestConditions({
        context: T('ContextObjectValid', 'Active'),
        connector: T('ConnectorResolved', 'Resolved'),
        matched: T('AccessPolicyMatched', 'Matched'),
        checks: U('AccessCheckReady', 'Pending', 'waiting'),
        permission: U('AccessPermissionSync', 'Pending', 'w'),
      });
      expect(conds.map((c) => c.type)).to.deep.equal([
        'ContextObjectValid',
        'ConnectorResolved',
        'AccessPolicyMatched',
        'AccessCheckReady',
        'AccessPermissionSync',
        'Ready',
      ]);
      expect(conds[5]).to.include({ status: 'Unknown', reason: 'Pending', message: 'waiting' });
      const cleaned = requestConditions({
        context: F('ContextObjectValid', 'Completed', 'done'),
        connector: T('ConnectorResolved', 'Resolved'),
        matched: T('AccessPolicyMatched', 'Matched'),
        checks: T('AccessCheckReady', 'Passed'),
        permission: T('AccessPermissionSync', 'PermissionCleanUp'),
      });
      expect(cleaned[5]).to.include({ status: 'False', reason: 'Completed' });
    });
  });

  describe('what a mount makes of an AccessRequest', () => {
    const pod = { namespace: 'cicd', name: 'build-1', uid: 'u-1', serviceAccount: 'builder' };
    const connector = { namespace: 'shared', name: 'prod-harbor' };
    const withConds = (conds: Array<[string, string, string, string?]>): AccessRequest => ({
      ...accessRequestFor(pod, connector),
      status: {
        conditions: conds.map(([type, status, reason, message]) => ({
          type,
          status: status as Condition['status'],
          reason,
          message: message ?? `${type} ${reason}`,
        })),
      },
    });
    const base: Array<[string, string, string]> = [
      ['ContextObjectValid', 'True', 'Active'],
      ['ConnectorResolved', 'True', 'Resolved'],
      ['AccessPolicyMatched', 'True', 'Matched'],
    ];
    const cases: Array<[string, AccessRequest, string]> = [
      ['not reconciled yet', accessRequestFor(pod, connector), 'pending'],
      ['checks pending', withConds([...base, ['AccessCheckReady', 'Unknown', 'Pending']]), 'pending'],
      [
        'rejected',
        withConds([...base, ['AccessCheckReady', 'False', 'Rejected', 'ApprovalTask x is rejected']]),
        'rejected',
      ],
      ['a check failed', withConds([...base, ['AccessCheckReady', 'False', 'Failed']]), 'failed'],
      ['no policy', withConds([base[0], base[1], ['AccessPolicyMatched', 'False', 'NoMatch']]), 'denied'],
      [
        'granted, SAR not yet seeing it',
        withConds([...base, ['AccessCheckReady', 'True', 'Passed'], ['AccessPermissionSync', 'True', 'Synced']]),
        'pending',
      ],
      [
        'a failed sync',
        withConds([...base, ['AccessCheckReady', 'True', 'Passed'], ['AccessPermissionSync', 'False', 'SyncFailed']]),
        'failed',
      ],
      [
        'cleaned up',
        withConds([
          ['ContextObjectValid', 'False', 'NotFound'],
          ['AccessPermissionSync', 'True', 'PermissionCleanUp'],
        ]),
        'ended',
      ],
    ];
    for (const [name, request, kind] of cases)
      it(`${name} → ${kind}`, () => expect(gateOutcome(request).kind).to.equal(kind));

    it('passes on the rejection message', () => {
      const o = gateOutcome(
        withConds([...base, ['AccessCheckReady', 'False', 'Rejected', 'ApprovalTask x is rejected']]),
      );
      expect(o).to.deep.equal({ kind: 'rejected', message: 'ApprovalTask x is rejected' });
    });

    it('only PermissionCleanUp is final', () => {
      expect(isFinal(withConds([['AccessPermissionSync', 'True', 'PermissionCleanUp']]))).to.equal(true);
      expect(isFinal(withConds([['AccessPermissionSync', 'True', 'Synced']]))).to.equal(false);
    });

    const ended = (at?: string, created = '2026-01-01T11:00:00Z') => ({
      metadata: { creationTimestamp: created },
      status: {
        conditions: [
          {
            type: 'AccessPermissionSync',
            status: 'True' as const,
            reason: 'PermissionCleanUp',
            message: '',
            ...(at ? { lastTransitionTime: at } : {}),
          },
        ],
      },
    });
    const now = new Date('2026-01-01T12:00:00Z');
    const ttlCases: Array<[string, Parameters<typeof endedRequestTtlLeft>[0], number, number | undefined]> = [
      ['ended 10 min ago, TTL 1 h: 50 min left', ended('2026-01-01T11:50:00Z'), 3_600_000, 3_000_000],
      ['ended 2 h ago, TTL 1 h: due', ended('2026-01-01T10:00:00Z'), 3_600_000, -3_600_000],
      ['ended now, TTL 0: due', ended('2026-01-01T12:00:00Z'), 0, 0],
      ['no transition time: the TTL from creation (1 h ago)', ended(), 7_200_000, 3_600_000],
      ['an unreadable transition time: the TTL from creation', ended('yesterday'), 3_600_000, 0],
      ['a TTL of Infinity: kept', ended('2026-01-01T10:00:00Z'), Infinity, undefined],
      ['granted, not ended: kept', withConds([['AccessPermissionSync', 'True', 'Synced']]), 0, undefined],
    ];
    for (const [name, ar, ttl, want] of ttlCases)
      it(`deleting an ended request: ${name}`, () => expect(endedRequestTtlLeft(ar, ttl, now)).to.equal(want));

    const ttlFlags: Array<[string, number | string]> = [
      ['1h', 3_600_000],
      ['90s', 90_000],
      ['0', 0],
      ['never', Infinity],
      ['forever', 'invalid duration "forever"'],
      ['-1h', 'must not be negative'],
    ];
    for (const [flag, want] of ttlFlags)
      it(`--access-request-ttl=${flag}`, () =>
        typeof want === 'number'
          ? expect(accessRequestTtl(flag)).to.equal(want)
          : expect(() => accessRequestTtl(flag)).to.throw(want));

    it('builds the AccessRequest CSI creates: in the Connector namespace, labelled, bound to the Pod uid', () => {
      const ar = accessRequestFor(pod, connector);
      expect(ar.metadata.namespace).to.equal('shared');
      expect(ar.metadata.labels).to.deep.equal({
        'connectors.cpaas.io/contextObjectKind': 'Pod',
        'connectors.cpaas.io/contextObjectName': 'build-1',
        'connectors.cpaas.io/contextObjectNamespace': 'cicd',
        'connectors.cpaas.io/connector': 'prod-harbor',
      });
      expect(ar.spec).to.deep.equal({
        subject: { kind: 'ServiceAccount', name: 'builder', namespace: 'cicd' },
        connectorRef: { name: 'prod-harbor' },
        context: { objectRef: { apiVersion: 'v1', kind: 'Pod', name: 'build-1', namespace: 'cicd', uid: 'u-1' } },
      });
      expect(ar.metadata.name).to.match(/^build-1-prod-harbor-[0-9a-f]{8}$/);
      expect(accessRequestName(pod, connector), 'stable').to.equal(ar.metadata.name);
      expect(accessRequestName({ ...pod, uid: 'u-2' }, connector), 'a new Pod asks anew').to.not.equal(
        ar.metadata.name,
      );
      const long = accessRequestName({ ...pod, name: 'p'.repeat(253) }, connector);
      expect(long.length).to.be.at.most(253);
    });

    it('writes .error.json as a google.rpc.Status with one ErrorInfo per rejected Connector', () => {
      const json = JSON.parse(
        errorStatusJson([
          {
            connector,
            accessRequest: { namespace: 'shared', name: 'ar-1' },
            message: 'ApprovalTask cicd/t is rejected: no',
          },
        ]),
      );
      expect(json).to.deep.equal({
        code: 7,
        message: 'access to connector "shared/prod-harbor" was rejected: ApprovalTask cicd/t is rejected: no',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'ACCESS_REQUEST_REJECTED',
            domain: 'connectors.alauda.io',
            metadata: {
              connector: 'shared/prod-harbor',
              accessRequest: 'shared/ar-1',
              message: 'ApprovalTask cicd/t is rejected: no',
            },
          },
        ],
      });
    });
  });

  describe('names, flags and reviews', () => {
    it('approval is active only with both flags', () => {
      const on = (...flags: string[]) => approvalActive((f) => flags.includes(f));
      expect(on('enable-connectors-approval', 'enable-connector-proxy-permissions')).to.equal(true);
      expect(on('enable-connectors-approval')).to.equal(false);
      expect(on('enable-connector-proxy-permissions')).to.equal(false);
      expect(on()).to.equal(false);
    });

    it('finds the Pod of a bound token in its TokenReview', () => {
      const extra = {
        'authentication.kubernetes.io/pod-name': ['build-1'],
        'authentication.kubernetes.io/pod-uid': ['u-1'],
      };
      expect(podOfUser({ username: 'system:serviceaccount:cicd:builder', extra })).to.deep.equal({
        namespace: 'cicd',
        name: 'build-1',
        uid: 'u-1',
      });
      expect(podOfUser({ username: 'system:serviceaccount:cicd:builder' }), 'not bound').to.equal(undefined);
      expect(podOfUser({ username: 'alice', extra }), 'not a ServiceAccount').to.equal(undefined);
      expect(podProxySubresource('cicd', 'build-1')).to.equal('proxy/v1/pod/cicd/build-1');
    });

    it('asks the review as the ServiceAccount with its groups, for * on the subresource', () => {
      expect(
        proxyAccessReview({ namespace: 'cicd', name: 'b' }, { namespace: 'shared', name: 'h' }, 'proxy'),
      ).to.deep.equal({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: 'system:serviceaccount:cicd:b',
          groups: ['system:serviceaccounts', 'system:serviceaccounts:cicd', 'system:authenticated'],
          resourceAttributes: {
            group: 'connectors.alauda.io',
            resource: 'connectors',
            subresource: 'proxy',
            namespace: 'shared',
            name: 'h',
            verb: '*',
          },
        },
      });
    });

    const labelCases: Array<[string, RegExp]> = [
      ['build-1', /^build-1$/],
      ['x'.repeat(63), /^x{63}$/],
      ['x'.repeat(64), /^x{46}-[0-9a-f]{16}$/],
      ['a.b/c', /^a\.b-c-[0-9a-f]{16}$/],
    ];
    for (const [value, want] of labelCases)
      it(`label value of ${value.length > 20 ? value.length + ' characters' : JSON.stringify(value)}`, () => {
        const v = labelValue(value);
        expect(v).to.match(want);
        expect(v.length).to.be.at.most(63);
      });

    it('bounded names stay distinct and short', () => {
      expect(boundedName(['connectors-ap', 'p'])).to.equal('connectors-ap-p');
      const a = boundedName(['connectors-ar', 'a'.repeat(300)]);
      const b = boundedName(['connectors-ar', 'a'.repeat(299) + 'b']);
      expect(a.length).to.equal(253);
      expect(a).to.not.equal(b);
    });

    it('the class label patch', () => {
      const c = (labels?: Record<string, string>) =>
        ({ metadata: { name: 'x', labels }, spec: { connectorClassName: 'oci' } }) as unknown as Connector;
      expect(classLabelPatch(c())).to.deep.equal({
        metadata: { labels: { 'connectors.alauda.io/connectorclass': 'oci' } },
      });
      expect(classLabelPatch(c({ 'connectors.alauda.io/connectorclass': 'git' }))).to.not.equal(undefined);
      expect(classLabelPatch(c({ 'connectors.alauda.io/connectorclass': 'oci' }))).to.equal(undefined);
    });

    it('prints the built-in templates as YAML for kubectl (`connectors controller --print-templates`)', () => {
      const docs = templatesManifest('sys')
        .split('\n---\n')
        .map((d) => parseYaml(d));
      expect(docs.map((d) => [d.metadata.name, d.metadata.namespace, Object.keys(d.data)])).to.deep.equal([
        ['connectors-use-connectors-proxy', 'sys', ['rules']],
        ['connectors-use-connectors-proxy-in-pod', 'sys', ['rules']],
        ['connectors-approvals-in-pipeline', 'sys', ['spec']],
      ]);
    });
  });
});
