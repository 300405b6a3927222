// The YAML documents of the seed specifications, as tests apply them. The seed texts themselves are kept
// in the repository (test/fixtures/seeds/source, copied verbatim), so a clone alone runs every test.
// Seeds 001 and 002 kept their indentation, so their YAML blocks are cut out of the text mechanically;
// seeds 000 and 003 lost it, so test/fixtures/seeds holds them re-indented by hand, and
// `fixtureMatchesSeed` proves each fixture says exactly what the seed says, whitespace aside.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const FIXTURES_DIR = join(repo, 'test/fixtures/seeds');
export const SEEDS_DIR = join(FIXTURES_DIR, 'source');

export interface SeedDocument {
  /** Where it came from, for test names: `002#7 (line 222)`. */
  origin: string;
  /** The YAML text as the seed writes it. */
  text: string;
  /** The namespace the seed applies it in, if the document does not say. */
  namespace?: string;
}

export function seedFile(prefix: string): string {
  const name = readdirSync(SEEDS_DIR).find((f) => f.startsWith(prefix));
  if (!name) throw new Error(`no seed ${prefix} in ${SEEDS_DIR}`);
  return readFileSync(join(SEEDS_DIR, name), 'utf8');
}

const TOP_LEVEL_KEY = /^(apiVersion|kind|metadata|spec|status):/;
/** An indented YAML line; the seeds' bullet points ("  • ...") are prose. */
const YAML_LINE = /^\s+[^\s•]/;

/** YAML blocks of an indented seed: runs of lines that start with a top-level key or are indented. */
export function indentedBlocks(prefix: string): SeedDocument[] {
  const lines = seedFile(prefix).split('\n');
  const docs: SeedDocument[] = [];
  let i = 0;
  while (i < lines.length) {
    if (!TOP_LEVEL_KEY.test(lines[i])) {
      i++;
      continue;
    }
    const start = i;
    while (
      i < lines.length &&
      (TOP_LEVEL_KEY.test(lines[i]) ||
        YAML_LINE.test(lines[i]) ||
        (lines[i].trim() === '' && YAML_LINE.test(lines[i + 1] ?? '')))
    )
      i++;
    docs.push({
      origin: `${prefix}#${docs.length + 1} (line ${start + 1})`,
      text: lines.slice(start, i).join('\n') + '\n',
    });
  }
  return docs;
}

export function fixtureDocuments(prefix: string): SeedDocument[] {
  return readdirSync(FIXTURES_DIR)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(FIXTURES_DIR, f), 'utf8');
      const ns = /Applied with -n (\S+?)\.?$/m.exec(text)?.[1];
      return { origin: `${prefix} ${f}`, text, namespace: ns };
    });
}

const squash = (s: string) => s.replace(/\s+/g, '');

/** True when the fixture, without its leading comment and whitespace, appears verbatim in the seed. */
export function fixtureMatchesSeed(prefix: string, fixtureText: string): boolean {
  const body = fixtureText.replace(/^#.*\n/, '');
  return squash(seedFile(prefix)).includes(squash(body));
}

/**
 * The seed document as text to give `kubectl apply`, changed only where it cannot be applied as it stands:
 * fragments that show just the `spec:` of a ConnectorClass (the ConnectorClass page shows many) get
 * apiVersion, kind and metadata; every ConnectorClass is renamed `seed-<n>-<name>` so that seeds do not
 * overwrite each other or the built-in classes; `status:` is dropped (apply cannot write it).
 */
export function textToApply(doc: SeedDocument, index: number): string {
  return doc.text
    .split(/^---$/m)
    .map((part) => {
      let text = part.replace(/^status:\n(?:[ \t]+.*\n?|\n)*/m, '');
      const isClass = /^kind: ConnectorClass\s*$/m.test(text) || !/^kind:/m.test(text);
      if (!/^kind:/m.test(text)) text = `kind: ConnectorClass\nmetadata:\n  name: fragment\n${text}`;
      if (!/^apiVersion:/m.test(text))
        text = `apiVersion: ${isClass ? 'connectors.alauda.io/v1alpha1' : 'v1'}\n${text}`;
      if (isClass) text = text.replace(/^(metadata:\n(?:[ \t]+.*\n)*?) {2}name: (\S+)/m, `$1  name: seed-${index}-$2`);
      return text;
    })
    .join('---');
}

/** auth type name → generator.rego, from every ConnectorClass example of the ConnectorClass reference text (as written there). */
export function seedGenerators(): Map<string, { rego: string; origin: string }> {
  const out = new Map<string, { rego: string; origin: string }>();
  for (const doc of indentedBlocks('002')) {
    let parsed: any;
    try {
      parsed = parse(doc.text, { logLevel: 'silent' });
    } catch {
      continue;
    }
    for (const type of parsed?.spec?.auth?.types ?? []) {
      if (typeof type?.generator?.rego === 'string')
        out.set(type.name, { rego: type.generator.rego, origin: doc.origin });
    }
  }
  return out;
}
