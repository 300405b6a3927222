// The layering docs/architecture.md describes, checked on the import graph: core depends on no component;
// a component (controller, webhook, proxy, csi, api, plugins) imports core and itself only, never another component;
// connectorclasses and controlplane sit on core. cli is the composition root and may import anything.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const COMPONENTS = ['controller', 'webhook', 'proxy', 'csi', 'api', 'plugins'];
const ALLOWED: Record<string, string[]> = {
  core: ['core'],
  connectorclasses: ['core', 'connectorclasses'],
  controlplane: ['core', 'controlplane'],
  ...Object.fromEntries(COMPONENTS.map((c) => [c, ['core', c]])),
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative import specifiers of a module: static, re-exports and dynamic import(). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)];
  return found.map((m) => m[1]);
}

describe('layers: the import graph', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    const dir = join(root, layer);
    let exists = false;
    try {
      exists = statSync(dir).isDirectory();
    } catch {
      // a component that does not exist yet
    }
    if (!exists) continue;
    it(`${layer}/ imports only ${allowed.join(' and ')}`, () => {
      const wrong: string[] = [];
      for (const file of sources(dir)) {
        for (const spec of imports(file)) {
          const target = relative(root, resolve(dirname(file), spec)).split('/')[0];
          if (!allowed.includes(target)) wrong.push(`${relative(root, file)} → ${spec}`);
        }
      }
      expect(wrong).to.deep.equal([]);
    });
  }
});

// Only core/kube talks to the API server: the other product folders reach it through core/kube's client,
// manager and typed resource paths, never through @kubernetes/client-node or a path they spell themselves.
const PRODUCT = [
  'core',
  'controller',
  'webhook',
  'proxy',
  'csi',
  'api',
  'cli',
  'connectorclasses',
  'controlplane',
  'resourceinterfaces',
];
/** Product sources outside core/kube (generated code aside), with comment lines dropped. */
function productSources(): Array<{ file: string; code: string }> {
  const out: Array<{ file: string; code: string }> = [];
  for (const folder of PRODUCT) {
    const dir = join(root, folder);
    try {
      if (!statSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    for (const file of sources(dir)) {
      const rel = relative(root, file);
      if (rel.startsWith('core/kube/') || rel.startsWith('csi/generated/')) continue;
      const code = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
        .join('\n');
      out.push({ file: rel, code });
    }
  }
  return out;
}

describe('layers: only core/kube talks to the API server', () => {
  it('no product module outside core/kube imports @kubernetes/client-node', () => {
    const wrong = productSources()
      .filter((s) => /from\s+['"]@kubernetes\/client-node['"]/.test(s.code))
      .map((s) => s.file);
    expect(wrong).to.deep.equal([]);
  });

  it('no product module outside core/kube spells an API path (/api/v1/..., /apis/...): core/kube/resources.ts has them', () => {
    const wrong: string[] = [];
    for (const s of productSources())
      for (const m of s.code.matchAll(/['"`]\/apis?\/[^'"`]*/g)) wrong.push(`${s.file}: ${m[0]}`);
    expect(wrong).to.deep.equal([]);
  });

  it('no component casts to never or any', () => {
    const wrong: string[] = [];
    for (const s of productSources())
      if (['controller', 'webhook', 'proxy', 'csi', 'api'].includes(s.file.split('/')[0]))
        for (const m of s.code.matchAll(/\bas (never|any)\b/g)) wrong.push(`${s.file}: ${m[0]}`);
    expect(wrong).to.deep.equal([]);
  });
});
