// The YAML examples of the pipeline-integration documentation: every ```yaml block of the READMEs of tasks/
// and resourceinterfaces/, one entry per document, so tests apply exactly what users copy.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { bundledTasks } from '../../tasks/index.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface Example {
  /** `tasks/git-clone/0.1/README.md#2` (file and document number). */
  where: string;
  kind: string;
  name: string;
  doc: Record<string, unknown> & { kind: string; metadata: { name?: string; generateName?: string } };
}

/** Every document of the ```yaml blocks of a Markdown file. */
export function yamlExamples(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const out: Example[] = [];
  for (const m of text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) {
    for (const d of parseAllDocuments(m[1])) {
      if (d.errors.length) throw new Error(`${relative(REPO, file)}: ${d.errors[0].message}`);
      const doc = d.toJS() as Example['doc'] | null;
      if (!doc?.kind) continue;
      out.push({
        where: `${relative(REPO, file)}#${out.length + 1}`,
        kind: doc.kind,
        name: doc.metadata?.name ?? doc.metadata?.generateName ?? '',
        doc,
      });
    }
  }
  return out;
}

/** The READMEs of the pipeline-integration toolkit. */
export function integrationReadmes(): string[] {
  return [
    join(REPO, 'tasks/README.md'),
    join(REPO, 'resourceinterfaces/README.md'),
    ...bundledTasks().map((t) => t.readme),
  ];
}
