// The Tekton catalog conventions, as a pure check of one Task and its README (test/tekton/lint.test.ts runs it
// on every bundled Task). Each problem is one line naming the Task and the field.
import type { BundledTask } from '../../tasks/index.ts';

interface Named {
  name: string;
  description?: string;
}
interface Step {
  name: string;
  image?: string;
  script?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  workingDir?: string;
  securityContext?: { runAsNonRoot?: boolean; privileged?: boolean; allowPrivilegeEscalation?: boolean };
}

const REQUIRED_ANNOTATIONS = [
  'tekton.dev/pipelines.minVersion',
  'tekton.dev/categories',
  'tekton.dev/tags',
  'tekton.dev/displayName',
  'tekton.dev/platforms',
];
const DIGEST = /@sha256:[0-9a-f]{64}$/;

export function lintTask(t: Pick<BundledTask, 'name' | 'version' | 'task'>, readme: string | undefined): string[] {
  const problems: string[] = [];
  const p = (msg: string) => problems.push(`${t.name} ${t.version}: ${msg}`);
  const { task } = t;
  if (task.apiVersion !== 'tekton.dev/v1') p(`apiVersion is ${task.apiVersion}, not tekton.dev/v1`);
  if (task.kind !== 'Task') p(`kind is ${task.kind}, not Task`);
  if (task.metadata.name !== t.name) p(`metadata.name ${task.metadata.name} differs from its directory ${t.name}`);
  if (!/^\d+\.\d+$/.test(t.version)) p(`version directory ${t.version} is not <major>.<minor>`);
  if (task.metadata.labels?.['app.kubernetes.io/version'] !== t.version)
    p(`label app.kubernetes.io/version must equal the version directory ${t.version}`);
  for (const a of REQUIRED_ANNOTATIONS) if (!task.metadata.annotations?.[a]) p(`annotation ${a} is missing`);

  const spec = task.spec as {
    description?: string;
    params?: Named[];
    workspaces?: Named[];
    results?: Named[];
    steps?: Step[];
  };
  if (!spec.description || !spec.description.includes('\n'))
    p('spec.description must be a one-line summary, a blank line and paragraphs');
  const declared = {
    params: new Set((spec.params ?? []).map((x) => x.name)),
    workspaces: new Set((spec.workspaces ?? []).map((x) => x.name)),
    results: new Set((spec.results ?? []).map((x) => x.name)),
  };
  for (const kind of ['params', 'workspaces', 'results'] as const)
    for (const x of spec[kind] ?? []) if (!x.description) p(`spec.${kind} ${x.name} has no description`);

  const written = new Set<string>();
  const steps = spec.steps ?? [];
  if (!steps.length) p('spec.steps is empty');
  for (const [i, s] of steps.entries()) {
    const at = `spec.steps[${i}] (${s.name})`;
    if (!s.image || !DIGEST.test(s.image)) p(`${at}.image ${JSON.stringify(s.image)} is not pinned by digest`);
    if (s.script !== undefined) {
      if (s.script.includes('$(params.')) p(`${at}.script interpolates $(params.*): pass params through env`);
      else if (/\$\([a-z]+\./.test(s.script)) p(`${at}.script uses a Tekton variable $(...): pass it through env`);
    }
    if (s.securityContext?.runAsNonRoot !== true) p(`${at}.securityContext.runAsNonRoot must be true`);
    if (s.securityContext?.privileged) p(`${at}.securityContext.privileged must not be set`);
    const texts = [
      ...(s.env ?? []).map((e) => e.value ?? ''),
      ...(s.args ?? []),
      ...(s.command ?? []),
      s.workingDir ?? '',
    ];
    for (const text of texts)
      for (const m of text.matchAll(/\$\((params|workspaces|results)\.([A-Za-z0-9_-]+)/g)) {
        const [, kind, name] = m as unknown as [string, 'params' | 'workspaces' | 'results', string];
        if (!declared[kind].has(name)) p(`${at} refers to $(${kind}.${name}), which the Task does not declare`);
        if (kind === 'results') written.add(name);
      }
  }
  for (const r of declared.results) if (!written.has(r)) p(`result ${r} is never passed to a step (its path)`);

  if (readme === undefined) p('README.md is missing');
  else {
    for (const kind of ['params', 'workspaces', 'results'] as const)
      for (const name of declared[kind])
        if (!readme.includes(`\`${name}\``)) p(`README.md does not document ${kind.slice(0, -1)} \`${name}\``);
    if (!/^## Platforms$/m.test(readme)) p('README.md has no "## Platforms" section');
    if (!/^kind: PipelineRun$/m.test(readme)) p('README.md has no example PipelineRun');
    if (!/category: (GitCodeRepository|OCIArtifact)$/m.test(readme))
      p('README.md has no example selecting a GitCodeRepository or an OCIArtifact');
  }
  return problems;
}
