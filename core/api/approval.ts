// AccessPolicy and AccessRequest: who may use a Connector through the proxy, at once or after checks
// such as an approval pass.
import { Type, Str, Int, Opt, FreeObject, ListMap, AtomicList, type Static } from './schema.ts';
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
    serviceAccounts: Opt(
      AtomicList(
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
        'ServiceAccounts to bind.',
      ),
    ),
  },
  { description: 'Who receives the permission.' },
);

const ObjectSelector = Type.Object({
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
});

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
          description: 'Which Connectors of this namespace the policy covers; {} covers all.',
          'x-kubernetes-map-type': 'atomic',
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
            bindingTemplate: Opt(BindingTemplate),
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
        kind: Str('ServiceAccount, User or Group.'),
        name: Str('Name of the subject.'),
        namespace: Opt(Str('Namespace of a ServiceAccount subject.')),
        apiGroup: Opt(Str('API group of the subject.')),
      },
      { description: 'Who asks for access.' },
    ),
    connectorRef: Type.Object({ name: Str('Name of a Connector in this namespace.') }),
    context: Type.Object({
      objectRef: Type.Object(
        {
          ...ObjectReference.properties,
          kind: Str('Kind of the workload; only Pod is supported.'),
          name: Str('Name of the workload.'),
        },
        { 'x-kubernetes-validations': [{ rule: "self.kind == 'Pod'", message: 'only kind Pod is supported' }] },
      ),
    }),
  },
  { 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable' }] },
);
export type AccessRequestSpec = Static<typeof AccessRequestSpec>;

export const AccessRequestStatus = Type.Object({
  conditions: Opt(Conditions),
  observedGeneration: Opt(Int('The generation last reconciled.')),
  policies: Opt(
    ListMap(
      Type.Object({
        name: Str('Name of the matched AccessPolicy.'),
        policySpec: Opt(FreeObject('Snapshot of the policy spec when it first matched.')),
        matchedChecks: Opt(
          AtomicList(
            Type.Object({ name: Str('Check name.'), ref: Opt(ObjectReference), condition: Opt(Condition) }),
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
