// The built-in AccessPolicy templates: ConfigMaps of the system namespace that policies name in
// `roleTemplate.ref.configMap.name` and `checks[].ref.configMap.name`. `connectors up` applies them, and
// the Helm chart takes them from this function (deploy/generate.ts; a test fails on drift).
import type { ConfigMap } from '../kube/types.ts';
import { stringify } from 'yaml';
import { ANNOTATIONS, LABELS } from '../api/keys.ts';
import { APPROVAL_LABELS } from './names.ts';

export const TEMPLATE_TYPES = {
  role: 'accessPolicyRoleTemplate',
  check: 'accessPolicyCheckTemplate',
} as const;

export const BUILTIN_TEMPLATES = {
  /** Rules: `*` on connectors/proxy (of the matched Connectors). */
  useProxy: 'connectors-use-connectors-proxy',
  /** Rules: `*` on connectors/proxy/v1/pod/<ns>/<pod> (of the requested Connector), for one Pod. */
  useProxyInPod: 'connectors-use-connectors-proxy-in-pod',
  /** Check: the Tekton ApprovalTask of the Pod's PipelineRun. */
  approvalsInPipeline: 'connectors-approvals-in-pipeline',
} as const;

const USE_PROXY_RULES = `- apiGroups:
    - connectors.alauda.io
  resources:
    - connectors/proxy
  verbs:
    - "*"
`;

const USE_PROXY_IN_POD_RULES = `- apiGroups:
    - connectors.alauda.io
  resources:
    - connectors/proxy/v1/pod/{.object.metadata.namespace}/{.object.metadata.name}
  verbs:
    - "*"
`;

// The selector's value is a kubectl JSONPath template over {object: <the context Pod>}; the dots of the
// label key are escaped, as kubectl requires.
const APPROVALS_IN_PIPELINE_SPEC = `selector:
  objectRef:
    apiVersion: openshift-pipelines.org/v1alpha1
    kind: ApprovalTask
  matchLabels:
    tekton.dev/pipelineRun: '{.object.metadata.labels.tekton\\.dev/pipelineRun}'
state:
  rego: ""
`;

function configMap(
  namespace: string,
  name: string,
  type: string,
  displayName: string,
  description: string,
  data: Record<string, string>,
): ConfigMap & { data: Record<string, string> } {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [APPROVAL_LABELS.templateType]: type, [LABELS.managedBy]: 'connectors' },
      annotations: { [ANNOTATIONS.displayName]: displayName, [ANNOTATIONS.description]: description },
    },
    data,
  };
}

/** The three built-in templates, in the system namespace. */
export function builtinTemplates(namespace: string): Array<ConfigMap & { data: Record<string, string> }> {
  return [
    configMap(
      namespace,
      BUILTIN_TEMPLATES.useProxy,
      TEMPLATE_TYPES.role,
      'Use Connectors Proxy',
      'Use the matched Connectors through the Connectors proxy (connectors/proxy).',
      { rules: USE_PROXY_RULES },
    ),
    configMap(
      namespace,
      BUILTIN_TEMPLATES.useProxyInPod,
      TEMPLATE_TYPES.role,
      'Use Connectors Proxy in Pod',
      'Use the requested Connector through the Connectors proxy, from one Pod only (connectors/proxy/v1/pod/<namespace>/<pod>).',
      { rules: USE_PROXY_IN_POD_RULES },
    ),
    configMap(
      namespace,
      BUILTIN_TEMPLATES.approvalsInPipeline,
      TEMPLATE_TYPES.check,
      'Manual Approval in Pipeline',
      'Passes when the Tekton ApprovalTask of the PipelineRun the Pod belongs to (label tekton.dev/pipelineRun) is approved.',
      { spec: APPROVALS_IN_PIPELINE_SPEC },
    ),
  ];
}

/** The templates as YAML, for `kubectl apply` (`connectors controller --print-templates`). */
export function templatesManifest(namespace = 'connectors-system'): string {
  return (
    '# The built-in AccessPolicy templates: role templates (data.rules) and a check template (data.spec).\n' +
    builtinTemplates(namespace)
      .map((o) => stringify(o, { lineWidth: 0 }))
      .join('---\n')
  );
}
