// The built-in ConnectorClasses: every *.yaml in this folder (git.yaml, oci.yaml, ...). `builtinClasses`
// gives the objects to install: references to the built-in proxy (the Service connectors-proxy-service) and to
// built-in class API plugins (e.g. connectors-git-plugin) point at the system namespace, and in local mode
// (`connectors up` with in-process components) carry `ref.address`, so that Connector proxy addresses and class
// API addresses are usable as written by processes on this machine.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { ConnectorClass } from '../core/api/index.ts';
import { PROXY_SERVICE_NAME, SYSTEM_NAMESPACE_DEFAULT } from '../core/api/keys.ts';

export const BUILTIN_CLASSES_DIR = dirname(fileURLToPath(import.meta.url));

/** Paths of the built-in class YAML files, sorted. */
export function builtinClassFiles(): string[] {
  return readdirSync(BUILTIN_CLASSES_DIR)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(BUILTIN_CLASSES_DIR, f));
}

/** A built-in class: unlike classes in general (the schema lets `spec` be left out), ours all have one. */
export type BuiltinClass = ConnectorClass & { spec: NonNullable<ConnectorClass['spec']> };

/** The ConnectorClass documents of one file, as written. */
function loadClassFile(path: string): BuiltinClass[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as ConnectorClass | null)
    .filter((o): o is ConnectorClass => Boolean(o) && o!.kind === 'ConnectorClass')
    .map((o) => {
      if (!o.spec) throw new Error(`${path}: ConnectorClass ${JSON.stringify(o.metadata.name)} has no spec`);
      return o as BuiltinClass;
    });
}

/** A built-in class by name, as written in its file. */
export function loadBuiltinClass(name: string): BuiltinClass {
  for (const f of builtinClassFiles()) for (const c of loadClassFile(f)) if (c.metadata.name === name) return c;
  throw new Error(`no built-in ConnectorClass ${JSON.stringify(name)} in ${BUILTIN_CLASSES_DIR}`);
}

export interface BuiltinOptions {
  /** Namespace of the components (the built-in proxy Service lives there). */
  systemNamespace: string;
  /** Local mode: the address of the in-process proxy, e.g. http://127.0.0.1:8080. */
  proxyAddress?: string;
  /** Local mode: the addresses of in-process class API plugins by their Service name, e.g. connectors-git-plugin. */
  pluginAddresses?: Record<string, string>;
  /** Only these classes (default all). */
  names?: string[];
}

/** Pure: a class adjusted for installation. */
function adjustClass(cls: BuiltinClass, o: BuiltinOptions): BuiltinClass {
  const out = structuredClone(cls);
  const ref = out.spec.proxy?.ref;
  if (ref && ref.kind === 'Service' && ref.name === PROXY_SERVICE_NAME) {
    ref.namespace = o.systemNamespace;
    if (o.proxyAddress) ref.address = o.proxyAddress;
    else delete ref.address;
  }
  const apiRef = out.spec.api?.ref;
  if (apiRef && (!apiRef.namespace || apiRef.namespace === SYSTEM_NAMESPACE_DEFAULT)) {
    apiRef.namespace = o.systemNamespace;
    const local = o.pluginAddresses?.[apiRef.name];
    if (local) apiRef.address = local;
    else delete apiRef.address;
  }
  return out;
}

export function builtinClasses(o: BuiltinOptions): BuiltinClass[] {
  const all = builtinClassFiles().flatMap(loadClassFile);
  return all.filter((c) => !o.names || o.names.includes(c.metadata.name!)).map((c) => adjustClass(c, o));
}
