// The built-in ResourceInterfaces: every *.yaml in this folder (gitcoderepository.yaml, ociartifact.yaml, ...),
// installed by `connectors up` and shipped in the deploy manifests. See README.md.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { ResourceInterface } from '../core/api/index.ts';

export const BUILTIN_RESOURCE_INTERFACES_DIR = dirname(fileURLToPath(import.meta.url));

/** Paths of the built-in ResourceInterface YAML files, sorted. */
export function builtinResourceInterfaceFiles(): string[] {
  return readdirSync(BUILTIN_RESOURCE_INTERFACES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(BUILTIN_RESOURCE_INTERFACES_DIR, f));
}

/** The built-in ResourceInterfaces, as written (optionally only some, by name). */
export function builtinResourceInterfaces(names?: string[]): ResourceInterface[] {
  return builtinResourceInterfaceFiles()
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as ResourceInterface | null))
    .filter((o): o is ResourceInterface => Boolean(o) && o!.kind === 'ResourceInterface')
    .filter((o) => !names || names.includes(o.metadata.name!));
}
