// The Tekton catalog conventions on every bundled Task (lint.ts), and the linter itself against Tasks broken one
// convention at a time, so a rule that stops working fails here.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { bundledTasks, type BundledTask } from '../../tasks/index.ts';
import { lintTask } from './lint.ts';

const tasks = bundledTasks();
const readmeOf = (t: BundledTask) => (existsSync(t.readme) ? readFileSync(t.readme, 'utf8') : undefined);

describe('tekton: catalog conventions of the bundled Tasks', () => {
  it('bundles git-clone, git-push, oci-copy, oci-build-push, maven, npm, pip and kubectl', () => {
    expect(tasks.map((t) => t.name)).to.have.members([
      'git-clone',
      'git-push',
      'oci-copy',
      'oci-build-push',
      'maven',
      'npm',
      'pip',
      'kubectl',
    ]);
  });

  for (const t of tasks) {
    it(`${t.name} ${t.version} follows them`, () => {
      expect(lintTask(t, readmeOf(t))).to.deep.equal([]);
    });
  }

  describe('the linter', () => {
    const base = tasks.find((t) => t.name === 'git-clone')!;
    type Mutable = { task: { metadata: Record<string, any>; spec: Record<string, any> }; readme: string | undefined };
    const cases: Array<{ breaks: string; mutate: (m: Mutable) => void; expected: RegExp }> = [
      {
        breaks: 'an image by tag',
        mutate: (m) => (m.task.spec.steps[0].image = 'docker.io/alpine/git:v2.47.1'),
        expected: /image "docker.io\/alpine\/git:v2.47.1" is not pinned by digest/,
      },
      {
        breaks: '$(params.*) inside a script',
        mutate: (m) => (m.task.spec.steps[0].script += '\necho $(params.url)\n'),
        expected: /script interpolates \$\(params\.\*\)/,
      },
      {
        breaks: 'a workspace path inside a script',
        mutate: (m) => (m.task.spec.steps[0].script += '\nls $(workspaces.output.path)\n'),
        expected: /script uses a Tekton variable/,
      },
      {
        breaks: 'the version label',
        mutate: (m) => delete m.task.metadata.labels['app.kubernetes.io/version'],
        expected: /label app.kubernetes.io\/version must equal the version directory 0.1/,
      },
      {
        breaks: 'a catalog annotation',
        mutate: (m) => delete m.task.metadata.annotations['tekton.dev/platforms'],
        expected: /annotation tekton.dev\/platforms is missing/,
      },
      {
        breaks: 'the README',
        mutate: (m) => (m.readme = undefined),
        expected: /README.md is missing/,
      },
      {
        breaks: 'a README without the example PipelineRun',
        mutate: (m) => (m.readme = m.readme!.replace(/^kind: PipelineRun$/gm, 'kind: Run')),
        expected: /README.md has no example PipelineRun/,
      },
      {
        breaks: 'an undocumented param',
        mutate: (m) => m.task.spec.params.push({ name: 'extraFlag', description: 'x', default: '' }),
        expected: /README.md does not document param `extraFlag`/,
      },
      {
        breaks: 'a result no step writes',
        mutate: (m) => m.task.spec.results.push({ name: 'orphan', description: 'never written' }),
        expected: /result orphan is never passed to a step/,
      },
      {
        breaks: 'a step running as root',
        mutate: (m) => delete m.task.spec.steps[0].securityContext.runAsNonRoot,
        expected: /runAsNonRoot must be true/,
      },
    ];
    for (const k of cases) {
      it(`reports ${k.breaks}`, () => {
        const m: Mutable = { task: structuredClone(base.task), readme: readmeOf(base) };
        k.mutate(m);
        const problems = lintTask({ ...base, task: m.task as BundledTask['task'] }, m.readme);
        expect(problems.join('\n')).to.match(k.expected);
      });
    }
  });
});
