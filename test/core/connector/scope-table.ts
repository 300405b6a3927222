// The scope rule's cases, shared by the rule's own test and by the test that the webhook and the CSI
// driver decide every case alike through the real components. Namespaces are symbolic: `workload` and
// `connector` name the two sides; a test maps them to real namespace names (kube-public stays itself, and
// `project` is the name of the project when the workload namespace is to be named after it).
export interface ScopeCase {
  name: string;
  /** `same` puts the workload in the Connector's namespace; `project` names it after the Connector's project. */
  workload: 'same' | 'other' | 'project';
  workloadLabels?: Record<string, string>;
  /** kube-public or an ordinary namespace of the test. */
  connector: 'kube-public' | 'ordinary';
  /** Labels of the Connector's namespace; `PROJECT` in a value stands for the test's project name. */
  connectorLabels?: Record<string, string>;
  allowed: boolean;
}

export const PROJECT = '${project}';

export const SCOPE_CASES: ScopeCase[] = [
  { name: 'the same namespace', workload: 'same', connector: 'ordinary', allowed: true },
  {
    name: 'the same namespace, which is a project namespace',
    workload: 'same',
    connector: 'ordinary',
    connectorLabels: { 'cpaas.io/inner-namespace': PROJECT },
    allowed: true,
  },
  {
    name: 'a kube-public Connector from an unlabelled namespace',
    workload: 'other',
    connector: 'kube-public',
    allowed: true,
  },
  {
    name: 'a kube-public Connector from a project member',
    workload: 'other',
    workloadLabels: { 'cpaas.io/project': PROJECT },
    connector: 'kube-public',
    allowed: true,
  },
  { name: 'an ordinary namespace from another one', workload: 'other', connector: 'ordinary', allowed: false },
  {
    name: 'an ordinary namespace from one labelled cpaas.io/project: <its name>',
    workload: 'other',
    workloadLabels: { 'cpaas.io/project': '${connector}' },
    connector: 'ordinary',
    allowed: false,
  },
  {
    name: 'a project namespace from a member of the project',
    workload: 'other',
    workloadLabels: { 'cpaas.io/project': PROJECT },
    connector: 'ordinary',
    connectorLabels: { 'cpaas.io/inner-namespace': PROJECT },
    allowed: true,
  },
  {
    name: 'a project namespace from the namespace named after the project',
    workload: 'project',
    connector: 'ordinary',
    connectorLabels: { 'cpaas.io/inner-namespace': PROJECT },
    allowed: true,
  },
  {
    name: 'a project namespace from a member of another project',
    workload: 'other',
    workloadLabels: { 'cpaas.io/project': 'another-project' },
    connector: 'ordinary',
    connectorLabels: { 'cpaas.io/inner-namespace': PROJECT },
    allowed: false,
  },
  {
    name: 'a project namespace from an unlabelled namespace',
    workload: 'other',
    connector: 'ordinary',
    connectorLabels: { 'cpaas.io/inner-namespace': PROJECT },
    allowed: false,
  },
  {
    name: 'a namespace labelled only as a project member, from a fellow member',
    workload: 'other',
    workloadLabels: { 'cpaas.io/project': PROJECT },
    connector: 'ordinary',
    connectorLabels: { 'cpaas.io/project': PROJECT },
    allowed: false,
  },
];

/** Substitutes the test's names into a case's labels. */
export function labelsOf(
  labels: Record<string, string> | undefined,
  names: { project: string; connector: string },
): Record<string, string> | undefined {
  if (!labels) return undefined;
  return Object.fromEntries(
    Object.entries(labels).map(([k, v]) => [
      k,
      v.replace(PROJECT, names.project).replace('${connector}', names.connector),
    ]),
  );
}
