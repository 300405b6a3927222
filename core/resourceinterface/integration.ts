// Pipeline integrations: the annotation `integrations.tekton.dev/integrations` of a PipelineRun or TaskRun, as
// the reference's Pipeline Integration writes it, turned into run parameters and workspace bindings with the
// ResourceInterface definitions. A pipeline author names the Connector and the repository; the attributes
// (clone URL, image references, ...) become params, the interface's workspaces (the Connector's CSI
// configuration, a source volume) become workspace bindings.
//
//   integrations.tekton.dev/integrations: |
//     - name: source                               # unique in the list
//       interface: {category: GitCodeRepository}   # or {name: gitcoderepository}
//       connectorRef: {name: git, namespace: ns}   # namespace defaults to the run's
//       params:                                    # the interface's params (defaults apply)
//       - {name: repository, value: org/app.git}
//       attributes:                                # optional: which attributes, as which run params
//       - {name: url, param: git-url}              #   (default: every parameterized attribute)
//       workspaces:                                # optional: which workspaces, as which run workspaces
//       - {name: git-basic-auth, workspace: basic-auth}   # (default: every workspace, by its mapping)
//       configuration:                             # optional, when the interface merges Connectors
//         connectors: [{name: mirror}]
//
// Fields the reference's UI keeps there (setAtRuntime, refPath, apiVersion) are accepted and ignored.
import { parse as parseYaml } from 'yaml';
import type { Connector, ConnectorClass, ResourceInterface } from '../api/index.ts';
import { RESOURCE_INTERFACE_LABELS } from '../api/keys.ts';
import { ExpressionError, ExpressionSyntaxError, type Evaluator, type Scope } from './expression.ts';

export const INTEGRATIONS_ANNOTATION = 'integrations.tekton.dev/integrations';
/** The highest `resourceinterface.connectors.cpaas.io/schema-version` this expansion renders. */
export const SUPPORTED_SCHEMA_VERSION = 1;
/** At most this many integrations in one annotation (each costs lookups and evaluations). */
export const MAX_INTEGRATIONS = 32;

export interface ConnectorRef {
  name: string;
  namespace: string;
}

export interface Integration {
  name: string;
  interface: { name?: string; category?: string };
  connectorRef: ConnectorRef;
  /** Connectors merged into the workspaces with the main one (`configuration.connectors`). */
  mergedConnectors: ConnectorRef[];
  params: Array<{ name: string; value: unknown }>;
  attributes?: Array<{ name: string; param?: string }>;
  workspaces?: Array<{ name: string; workspace?: string }>;
}

export class IntegrationError extends Error {}

const at = (i: number, f = '') => `metadata.annotations["${INTEGRATIONS_ANNOTATION}"][${i}]${f}`;
const DNS1123 = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const PARAM_NAME = /^[a-zA-Z_][a-zA-Z0-9_.-]*$/;
const WORKSPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const isObj = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

function str(v: unknown, where: string, required: boolean): string | undefined {
  if (v === undefined || v === null || v === '') {
    if (required) throw new IntegrationError(`${where}: required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new IntegrationError(`${where}: must be a string, found ${JSON.stringify(v)}`);
  return v;
}

function ref(v: unknown, where: string, namespace: string): ConnectorRef {
  if (!isObj(v)) throw new IntegrationError(`${where}: must be an object {name, namespace}`);
  const name = str(v.name, `${where}.name`, true)!;
  const ns = str(v.namespace, `${where}.namespace`, false) ?? namespace;
  if (!DNS1123.test(name)) throw new IntegrationError(`${where}.name: ${JSON.stringify(name)} is not a Connector name`);
  if (!DNS1123.test(ns))
    throw new IntegrationError(`${where}.namespace: ${JSON.stringify(ns)} is not a namespace name`);
  return { name, namespace: ns };
}

function list(v: unknown, where: string): Record<string, unknown>[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every(isObj)) throw new IntegrationError(`${where}: must be a list of objects`);
  return v;
}

/** Parses the annotation (YAML or JSON: a list of integrations). Throws IntegrationError naming the field. */
export function parseIntegrations(text: string, namespace: string): Integration[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new IntegrationError(
      `metadata.annotations["${INTEGRATIONS_ANNOTATION}"]: not YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc))
    throw new IntegrationError(`metadata.annotations["${INTEGRATIONS_ANNOTATION}"]: must be a list of integrations`);
  if (doc.length > MAX_INTEGRATIONS)
    throw new IntegrationError(
      `metadata.annotations["${INTEGRATIONS_ANNOTATION}"]: ${doc.length} integrations; at most ${MAX_INTEGRATIONS}`,
    );
  const names = new Set<string>();
  return doc.map((item, i): Integration => {
    if (!isObj(item)) throw new IntegrationError(`${at(i)}: must be an object`);
    const name = str(item.name, at(i, '.name'), true)!;
    if (names.has(name)) throw new IntegrationError(`${at(i, '.name')}: ${JSON.stringify(name)} is used twice`);
    names.add(name);
    if (!isObj(item.interface)) throw new IntegrationError(`${at(i, '.interface')}: required: {category} or {name}`);
    const iface = {
      name: str(item.interface.name, at(i, '.interface.name'), false),
      category: str(item.interface.category, at(i, '.interface.category'), false),
    };
    if (!iface.name && !iface.category)
      throw new IntegrationError(`${at(i, '.interface')}: give category (e.g. GitCodeRepository) or name`);
    const connectorRef = ref(item.connectorRef, at(i, '.connectorRef'), namespace);
    const configuration = item.configuration;
    if (configuration !== undefined && configuration !== null && !isObj(configuration))
      throw new IntegrationError(`${at(i, '.configuration')}: must be an object`);
    const mergedConnectors = list(
      (configuration as Record<string, unknown> | undefined)?.connectors,
      at(i, '.configuration.connectors'),
    ).map((c, j) => ref(c, at(i, `.configuration.connectors[${j}]`), namespace));
    const params = list(item.params, at(i, '.params')).map((p, j) => ({
      name: str(p.name, at(i, `.params[${j}].name`), true)!,
      value: p.value,
    }));
    const attributes =
      item.attributes === undefined
        ? undefined
        : list(item.attributes, at(i, '.attributes')).map((a, j) => {
            const param = str(a.param, at(i, `.attributes[${j}].param`), false);
            if (param !== undefined && !PARAM_NAME.test(param))
              throw new IntegrationError(
                `${at(i, `.attributes[${j}].param`)}: ${JSON.stringify(param)} is not a Tekton param name`,
              );
            return { name: str(a.name, at(i, `.attributes[${j}].name`), true)!, param };
          });
    const workspaces =
      item.workspaces === undefined
        ? undefined
        : list(item.workspaces, at(i, '.workspaces')).map((w, j) => {
            const workspace = str(w.workspace, at(i, `.workspaces[${j}].workspace`), false);
            if (workspace !== undefined && !WORKSPACE_NAME.test(workspace))
              throw new IntegrationError(
                `${at(i, `.workspaces[${j}].workspace`)}: ${JSON.stringify(workspace)} is not a Tekton workspace name`,
              );
            return { name: str(w.name, at(i, `.workspaces[${j}].name`), true)!, workspace };
          });
    return { name, interface: iface, connectorRef, mergedConnectors, params, attributes, workspaces };
  });
}

const labelInt = (ri: ResourceInterface, key: string) => {
  const v = Number(ri.metadata.labels?.[key] ?? '1');
  return Number.isInteger(v) && v > 0 ? v : 1;
};

/**
 * The ResourceInterface of an integration: by name, or the one of its category that the Connector's class
 * declares compatible (`resourceinterface.connectors.cpaas.io/<ri-name>: "true"`), whose schema-version this
 * expansion renders, with the highest schema-version, then the highest version, then the first name.
 */
export function selectInterface(
  integration: Integration,
  index: number,
  cls: ConnectorClass,
  all: ResourceInterface[],
): ResourceInterface {
  const compatible = (ri: ResourceInterface) =>
    cls.metadata.labels?.[RESOURCE_INTERFACE_LABELS.classPrefix + ri.metadata.name] === 'true';
  const className = cls.metadata.name;
  if (integration.interface.name) {
    const ri = all.find((r) => r.metadata.name === integration.interface.name);
    if (!ri)
      throw new IntegrationError(
        `${at(index, '.interface.name')}: ResourceInterface "${integration.interface.name}" not found`,
      );
    if (!compatible(ri))
      throw new IntegrationError(
        `${at(index, '.interface.name')}: ConnectorClass "${className}" of Connector "${integration.connectorRef.namespace}/${integration.connectorRef.name}"` +
          ` does not declare ResourceInterface "${ri.metadata.name}" (label ${RESOURCE_INTERFACE_LABELS.classPrefix}${ri.metadata.name}: "true")`,
      );
    if (labelInt(ri, RESOURCE_INTERFACE_LABELS.schemaVersion) > SUPPORTED_SCHEMA_VERSION)
      throw new IntegrationError(
        `${at(index, '.interface.name')}: ResourceInterface "${ri.metadata.name}" has schema-version ${labelInt(ri, RESOURCE_INTERFACE_LABELS.schemaVersion)}` +
          `; this webhook renders up to ${SUPPORTED_SCHEMA_VERSION}`,
      );
    return ri;
  }
  const category = integration.interface.category!;
  const inCategory = all.filter((r) => r.metadata.labels?.[RESOURCE_INTERFACE_LABELS.category] === category);
  const candidates = inCategory
    .filter(compatible)
    .filter((r) => labelInt(r, RESOURCE_INTERFACE_LABELS.schemaVersion) <= SUPPORTED_SCHEMA_VERSION)
    .sort(
      (a, b) =>
        labelInt(b, RESOURCE_INTERFACE_LABELS.schemaVersion) - labelInt(a, RESOURCE_INTERFACE_LABELS.schemaVersion) ||
        labelInt(b, RESOURCE_INTERFACE_LABELS.version) - labelInt(a, RESOURCE_INTERFACE_LABELS.version) ||
        a.metadata.name!.localeCompare(b.metadata.name!),
    );
  if (!candidates.length)
    throw new IntegrationError(
      `${at(index, '.interface.category')}: no ResourceInterface of category "${category}"` +
        ` fits ConnectorClass "${className}" of Connector "${integration.connectorRef.namespace}/${integration.connectorRef.name}" (${
          inCategory.length
            ? `category members: ${inCategory.map((r) => r.metadata.name).join(', ')}` +
              `; the class declares none of them, or their schema-version is above ${SUPPORTED_SCHEMA_VERSION}`
            : 'no ResourceInterface has this category'
        })`,
    );
  return candidates[0];
}

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? 'array' : 'array of non-strings';
  if (v === null) return 'null';
  return typeof v;
}

export interface Expansion {
  /** Run params to set: attribute values. */
  params: Array<{ name: string; value: string | string[] }>;
  /** Run workspace bindings: `{name, <volume source>}`. */
  workspaces: Array<Record<string, unknown>>;
}

/**
 * Params and workspace bindings of one integration. `connectors` lists the main Connector first, then the
 * merged ones (the first is `.connector` of the configuration templates). Throws IntegrationError.
 */
export async function expandIntegration(
  integration: Integration,
  index: number,
  ri: ResourceInterface,
  connectors: Connector[],
  evaluator: Evaluator,
): Promise<Expansion> {
  const spec = ri.spec ?? {};
  const riName = ri.metadata.name;
  // Params: given values, else defaults; all declared ones present; types as declared.
  const given = new Map(integration.params.map((p) => [p.name, p.value]));
  const declared = spec.params ?? [];
  for (const [name] of given)
    if (!declared.some((p) => p.name === name))
      throw new IntegrationError(
        `${at(index, '.params')}: ResourceInterface "${riName}" has no param "${name}"` +
          ` (${declared.length ? `params: ${declared.map((p) => p.name).join(', ')}` : 'it has none'})`,
      );
  const params: Record<string, unknown> = {};
  for (const p of declared) {
    const value = given.has(p.name) ? given.get(p.name) : p.default;
    if (value === undefined)
      throw new IntegrationError(
        `${at(index, '.params')}: param "${p.name}" of ResourceInterface "${riName}" is required`,
      );
    const type = p.type ?? 'string';
    const ok =
      type === 'string' ? typeof value === 'string' : type === 'array' ? typeOf(value) === 'array' : isObj(value);
    if (!ok)
      throw new IntegrationError(
        `${at(index, '.params')}: param "${p.name}" of ResourceInterface "${riName}" is of type ${type}${type === 'array' ? ' (of strings)' : ''}` +
          `, found ${JSON.stringify(value)}`,
      );
    params[p.name] = value;
  }
  const merged = connectors.length > 1;
  const scope: Scope = {
    params,
    connector: connectors[0],
    connectors: connectors.map((c) => `${c.metadata.namespace}/${c.metadata.name}`).join(','),
  };
  const evaluate = async (value: unknown, where: string): Promise<unknown> => {
    try {
      return await evaluator.evaluateDeep(value, scope);
    } catch (err) {
      if (err instanceof ExpressionError || err instanceof ExpressionSyntaxError)
        throw new IntegrationError(`${at(index)}: ${where} of ResourceInterface "${riName}": ${err.message}`);
      throw err;
    }
  };

  // Attributes → params.
  const attrs = spec.attributes ?? [];
  const wanted =
    integration.attributes?.map((a, j) => {
      const attr = attrs.find((x) => x.name === a.name);
      if (!attr)
        throw new IntegrationError(
          `${at(index, `.attributes[${j}].name`)}: ResourceInterface "${riName}" has no attribute "${a.name}"` +
            ` (attributes: ${attrs.map((x) => x.name).join(', ') || 'none'})`,
        );
      return { attr, param: a.param ?? attr.parameterize?.name ?? attr.name };
    }) ??
    attrs
      .filter((a) => a.parameterize?.name && !a.parameterize.disable)
      .map((attr) => ({ attr, param: attr.parameterize!.name! }));
  const outParams: Expansion['params'] = [];
  for (const { attr, param } of wanted) {
    const where = `attribute "${attr.name}"`;
    let value = attr.expression !== undefined ? await evaluate(attr.expression, where) : undefined;
    if (value === undefined || value === null || value === '') value = attr.default ?? value;
    const type = attr.type ?? 'string';
    if (type === 'string' && (typeof value === 'number' || typeof value === 'boolean')) value = String(value);
    if (type === 'string' ? typeof value !== 'string' : typeOf(value) !== 'array')
      throw new IntegrationError(
        `${at(index)}: ${where} of ResourceInterface "${riName}" is of type ${type}, but its value is ${JSON.stringify(value)}`,
      );
    if (attr.enum?.length && !attr.enum.includes(value as string))
      throw new IntegrationError(
        `${at(index)}: ${where} of ResourceInterface "${riName}" is ${JSON.stringify(value)}, not one of ${JSON.stringify(attr.enum)}`,
      );
    outParams.push({ name: param, value: value as string | string[] });
  }

  // Workspaces → bindings.
  const wss = spec.workspaces ?? [];
  const wantedWs =
    integration.workspaces?.map((w, j) => {
      const ws = wss.find((x) => x.name === w.name);
      if (!ws)
        throw new IntegrationError(
          `${at(index, `.workspaces[${j}].name`)}: ResourceInterface "${riName}" has no workspace "${w.name}"` +
            ` (workspaces: ${wss.map((x) => x.name).join(', ') || 'none'})`,
        );
      return { ws, as: w.workspace ?? ws.workspaceMapping?.name ?? ws.name };
    }) ?? wss.map((ws) => ({ ws, as: ws.workspaceMapping?.name ?? ws.name }));
  const outWs: Expansion['workspaces'] = [];
  for (const { ws, as } of wantedWs) {
    const value = (await evaluate(ws.value ?? {}, `workspace "${ws.name}"`)) as Record<string, unknown>;
    const csi = value.csi as { volumeAttributes?: Record<string, unknown> } | undefined;
    if (csi?.volumeAttributes) {
      const va = csi.volumeAttributes;
      for (const [k, v] of Object.entries(va)) if (typeof v !== 'string') va[k] = v == null ? '' : JSON.stringify(v);
      // Merged Connectors go into `connectors` even when the interface names a single connector.name.
      if (merged && va['connector.name'] !== undefined) {
        delete va['connector.name'];
        delete va['connector.namespace'];
        va.connectors = scope.connectors!;
      }
    }
    outWs.push({ name: as, ...value });
  }
  return { params: outParams, workspaces: outWs };
}
