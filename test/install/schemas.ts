// JSON schemas for kubeconform, written the way its published schema sets are (openapi2jsonschema, "standalone
// strict"): one file per kind and version, `$ref`s to the definitions the kind uses, unknown fields refused
// (`additionalProperties: false` wherever properties are listed), int-or-string and quantities accepting both
// forms. Sources, both reachable here: Kubernetes 1.36's OpenAPI v2 document (api/openapi-spec/swagger.json in
// the k8s.io/kubernetes module the pinned control plane is built from), and the CRDs generated from core/api.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KUBERNETES_VERSION } from '../../core/peers/index.ts';

type Schema = Record<string, unknown>;

/** kubeconform's `-schema-location` for the files written by writeSchemas(dir). */
export const schemaLocation = (dir: string) => `${dir}/{{ .Group }}/{{ .ResourceAPIVersion }}/{{ .ResourceKind }}.json`;

const INT_OR_STRING = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
const QUANTITY = { oneOf: [{ type: 'string' }, { type: 'number' }] };
const SPECIAL: Record<string, Schema> = {
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': INT_OR_STRING,
  'io.k8s.apimachinery.pkg.api.resource.Quantity': QUANTITY,
};

/** The Kubernetes OpenAPI v2 document of the pinned version, from the Go module cache (downloaded if absent). */
export async function kubernetesSwagger(): Promise<Schema> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('go', ['mod', 'download', '-json', `k8s.io/kubernetes@v${KUBERNETES_VERSION}`], {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`go mod download: ${err || text}`))));
  });
  const dir = (JSON.parse(out) as { Dir: string }).Dir;
  return JSON.parse(await readFile(join(dir, 'api/openapi-spec/swagger.json'), 'utf8')) as Schema;
}

/** Rewrites one schema node: strictness, int-or-string, nullable; collects the definitions it refers to. */
function convert(node: unknown, refs: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, refs));
  if (!node || typeof node !== 'object') return node;
  const s = node as Schema;
  const ref = s.$ref as string | undefined;
  if (ref) {
    const name = ref.replace('#/definitions/', '');
    if (SPECIAL[name]) return { ...SPECIAL[name] };
    refs.add(name);
    return { $ref: ref };
  }
  if (s.format === 'int-or-string' || s['x-kubernetes-int-or-string'] === true) return { ...INT_OR_STRING };
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(Object.entries(v).map(([p, ps]) => [p, convert(ps, refs)]));
    } else if (k === 'items' || k === 'additionalProperties' || k === 'not') {
      out[k] = typeof v === 'object' ? convert(v, refs) : v;
    } else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') {
      out[k] = convert(v, refs);
    } else out[k] = v;
  }
  if (out.properties && out.additionalProperties === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true)
    out.additionalProperties = false;
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

/** A kind's schema with every definition it reaches, under `definitions`. */
function standalone(root: Schema, definitions: Record<string, Schema>): Schema {
  const refs = new Set<string>();
  const top = convert(root, refs) as Schema;
  const defs: Record<string, unknown> = {};
  const queue = [...refs];
  while (queue.length) {
    const name = queue.pop()!;
    if (name in defs) continue;
    const found = new Set<string>();
    defs[name] = convert(definitions[name] ?? {}, found);
    for (const f of found) if (!(f in defs)) queue.push(f);
  }
  return { ...top, definitions: defs };
}

function fileOf(dir: string, group: string, version: string, kind: string): string {
  return join(dir, group || version, version, `${kind.toLowerCase()}.json`);
}

/** Writes the schemas of every Kubernetes kind and of the given CRDs under `dir`; returns how many. */
export async function writeSchemas(dir: string, swagger: Schema, crds: Schema[]): Promise<number> {
  const definitions = swagger.definitions as Record<string, Schema>;
  let written = 0;
  const write = async (path: string, schema: Schema) => {
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, JSON.stringify(schema));
    written++;
  };
  for (const def of Object.values(definitions)) {
    const gvks = def['x-kubernetes-group-version-kind'] as
      Array<{ group: string; version: string; kind: string }> | undefined;
    for (const gvk of gvks ?? [])
      await write(fileOf(dir, gvk.group, gvk.version, gvk.kind), standalone(def, definitions));
  }
  for (const crd of crds) {
    const spec = crd.spec as { group: string; names: { kind: string }; versions: Array<Schema> };
    for (const v of spec.versions) {
      const schema = (v.schema as { openAPIV3Schema: Schema }).openAPIV3Schema;
      await write(fileOf(dir, spec.group, v.name as string, spec.names.kind), standalone(schema, {}));
    }
  }
  return written;
}
