// The bundled Tekton Tasks: tasks/<name>/<version>/<name>.yaml, each with a README.md beside it (the Tekton
// catalog layout). See README.md.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const TASKS_DIR = dirname(fileURLToPath(import.meta.url));

export interface BundledTask {
  name: string;
  version: string;
  /** Path of the Task YAML. */
  file: string;
  /** Path of its README.md (which may be missing; the linter test says so). */
  readme: string;
  // The Task object as written.
  task: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
  };
}

/** Every bundled Task, sorted by name then version. */
export function bundledTasks(): BundledTask[] {
  const out: BundledTask[] = [];
  for (const entry of readdirSync(TASKS_DIR, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const name = entry.name;
    const dir = join(TASKS_DIR, name);
    for (const version of readdirSync(dir).sort()) {
      const file = join(dir, version, `${name}.yaml`);
      if (!existsSync(file)) continue;
      out.push({
        name,
        version,
        file,
        readme: join(dir, version, 'README.md'),
        task: parseYaml(readFileSync(file, 'utf8')) as BundledTask['task'],
      });
    }
  }
  return out;
}
