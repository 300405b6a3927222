// AccessPolicy and AccessRequest: who may use a Connector through the proxy, at once or after checks
// such as an approval pass.
import { Type, Str, Int, Opt, FreeObject, ListMap, AtomicList, StringMap, type Static } from './schema.ts';
import { Condition, Conditions, MatchExpressions, MatchLabels, ObjectReference } from './common.ts';

const ConfigMapRef = Type.Object(
  { configMap: Type.Object({ name: Str('Name of a ConfigMap in the connectors system namespace.') }) },
  { description: 'A template stored in a ConfigMap in the connectors system namespace.' },
);

export const RoleTemplate = Type.Object(
  { ref: ConfigMapRef },
  { description: 'The rules to grant: a ConfigMap whose data["rules"] is a YAML list of rbac/v1 PolicyRules.' },
);

export const BindingTemplate = Type.Object(
  {
    serviceAccounts: AtomicList(
      Type.Object({
        names: Opt(
          AtomicList(
            Type.String(),
            'ServiceAccount names; empty means every ServiceAccount of the selected namespaces.',
          ),
        ),
        namespaceSelector: Opt(
          Type.Object(
            {
              names: Opt(AtomicList(Type.String(), 'Namespace names.')),
              matchLabels: Opt(MatchLabels),
              matchExpressions: Opt(MatchExpressions),
            },
            { description: 'Namespaces of the ServiceAccounts; {} means every namespace.' },
          ),
        ),
      }),
      'ServiceAccounts to bind; at least one item.',
      { minItems: 1 },
    ),
  },
  { description: 'Who receives the permission.' },
);

const ObjectSelector = Type.Object(
  {
    objectRef: Type.Object(
      {
        apiVersion: Str('API version of the check resource, e.g. openshift-pipelines.org/v1alpha1.'),
        kind: Str('Kind of the check resource, e.g. ApprovalTask.'),
      },
      { description: 'The kind of resource that carries the check result.' },
    ),
    matchLabels: Opt(
      Type.Unsafe<Record<string, string>>({
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'Labels the check resource must carry; values may be JSONPath templates over {object: <pod>}.',
      }),
    ),
    matchExpressions: Opt(MatchExpressions),
  },
  {
    description:
      'How to find the check resources: their kind, and labels in the namespace of the context Pod. Label ' +
      'values (also in matchExpressions) may be kubectl JSONPath templates over {object: <pod>}, e.g. ' +
      "'{.object.metadata.labels.tekton\\.dev/pipelineRun}'.",
    'x-kubernetes-map-type': 'atomic',
  },
);

export const CheckSpec = Type.Object({
  selector: ObjectSelector,
  state: Opt(
    Type.Object({
      rego: Opt(
        Str(
          'Rego policy (package approval) producing status = {state: approved|rejected|pending|passed} from the check resource; empty reads its status.state.',
        ),
      ),
    }),
  ),
});

export const Check = Type.Object(
  {
    name: Str('Name of the check.'),
    ref: Opt(ConfigMapRef),
    spec: Opt(CheckSpec),
  },
  {
    'x-kubernetes-validations': [
      { rule: 'has(self.ref) != has(self.spec)', message: 'exactly one of ref or spec must be set' },
    ],
  },
);

export const AccessPolicySpec = Type.Object(
  {
    connector: Opt(
      Type.Object(
        {
          names: Opt(AtomicList(Type.String(), 'Connector names in this namespace.')),
          matchLabels: Opt(MatchLabels),
          matchExpressions: Opt(MatchExpressions),
        },
        {
          description:
            'Which Connectors of this namespace the policy covers: by names, or by labels (e.g. ' +
            'connectors.alauda.io/connectorclass: oci, which the controller keeps on every Connector); {} covers ' +
            'all.',
          'x-kubernetes-map-type': 'atomic',
          'x-kubernetes-validations': [
            {
              rule: '!has(self.names) || size(self.names) == 0 || (!has(self.matchLabels) && !has(self.matchExpressions))',
              message: 'names and label selectors (matchLabels, matchExpressions) are mutually exclusive',
            },
          ],
        },
      ),
    ),
    defaultPermission: Opt(
      Type.Object(
        { roleTemplate: RoleTemplate, bindingTemplate: BindingTemplate },
        { description: 'Proxy access granted at once.' },
      ),
    ),
    checkGrantedPermission: Opt(
      Type.Object(
        {
          spec: Type.Object({
            checks: AtomicList(Check, 'Checks that must all pass before access is granted.', { minItems: 1 }),
            roleTemplate: RoleTemplate,
          }),
        },
        { description: 'Proxy access granted per workload after checks pass.' },
      ),
    ),
  },
  {
    'x-kubernetes-validations': [
      {
        rule: 'has(self.defaultPermission) || has(self.checkGrantedPermission)',
        message: 'at least one of defaultPermission or checkGrantedPermission must be set',
      },
    ],
  },
);
export type AccessPolicySpec = Static<typeof AccessPolicySpec>;

export const AccessPolicyStatus = Type.Object({
  annotations: Opt(StringMap('Additional status fields, kept for compatibility.')),
  conditions: Opt(Conditions),
  observedGeneration: Opt(Int('The generation last reconciled.')),
  matchedConnectors: Opt(
    AtomicList(Type.Object({ name: Str('Connector name.') }), 'Connectors the policy currently covers.'),
  ),
});

export const AccessRequestSpec = Type.Object(
  {
    subject: Type.Object(
      {
        kind: Str('ServiceAccount, User or Group; access is granted only to the ServiceAccount of the context Pod.'),
        name: Str('Name of the subject.'),
        namespace: Opt(Str('Namespace of a ServiceAccount subject; defaults to the namespace of the context Pod.')),
        apiGroup: Opt(Str('API group of the subject.')),
      },
      { description: 'Who asks for access.', 'x-kubernetes-map-type': 'atomic' },
    ),
    connectorRef: Type.Object(
      { name: Str('Name of a Connector in this namespace.', { minLength: 1 }) },
      { 'x-kubernetes-map-type': 'atomic' },
    ),
    context: Type.Object({
      objectRef: Type.Object(
        {
          ...ObjectReference.properties,
          kind: Str('Kind of the workload; only Pod is supported.'),
          name: Str('Name of the workload.', { minLength: 1 }),
        },
        {
          description:
            'The Pod whose lifetime bounds the access; its namespace defaults to the AccessRequest namespace.',
          'x-kubernetes-validations': [
            { rule: "self.kind == 'Pod'", message: 'only kind Pod is supported' },
            {
              rule: "!has(self.apiVersion) || self.apiVersion == '' || self.apiVersion == 'v1'",
              message: 'a Pod reference has apiVersion v1',
            },
          ],
        },
      ),
    }),
  },
  { 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable' }] },
);
export type AccessRequestSpec = Static<typeof AccessRequestSpec>;

export const AccessRequestStatus = Type.Object({
  annotations: Opt(StringMap('Additional status fields, kept for compatibility.')),
  conditions: Opt(Conditions),
  observedGeneration: Opt(Int('The generation last reconciled.')),
  policies: Opt(
    ListMap(
      Type.Object({
        name: Str('Name of the matched AccessPolicy.'),
        policySpec: FreeObject<AccessPolicySpec>('Snapshot of the policy spec when it first matched.'),
        matchedChecks: Opt(
          AtomicList(
            Type.Object({
              name: Str('Name of the check in the policy.'),
              ref: ObjectReference,
              condition: Condition,
            }),
            'Check resources found and their state.',
          ),
        ),
        permissionSync: Opt(Condition),
      }),
      ['name'],
      'Policies that matched the request.',
    ),
  ),
});
export type AccessRequestStatus = Static<typeof AccessRequestStatus>;
export type AccessPolicyStatus = Static<typeof AccessPolicyStatus>;
export type CheckSpec = Static<typeof CheckSpec>;
export type Check = Static<typeof Check>;
export type BindingTemplate = Static<typeof BindingTemplate>;
