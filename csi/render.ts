// Pure: the files of one volume, from the resolved Connectors and their classes, the token and the proxy CA.
//
// Built-in files, always written unless excluded:
//   .env                             http_proxy=, https_proxy=, no_proxy= (key=value lines)
//   http.proxy, https.proxy          forward-proxy URL with embedded auth: http://<ns>%2F<name>:<token>@<host:port>
//   context.token                    the ServiceAccount token for audience connectors-proxy
//   context.proxy.caCert, ca.crt, ca.cert   the proxy CA (PEM), same content
//   connector.status.proxyAddress    the Connector's status.proxy.httpAddress.url
// With several Connectors the proxy values come from the last one.
//
// Rendered files: the Connectors are grouped by class, in the order the volume names them
// (a group's position is that of its first Connector). For each group, every selected configuration the class
// declares is rendered with Go text/template + sprig over:
//   .connector        the group's last Connector, as its JSON (metadata, spec, status) with
//                     .connector.status.proxyAddress = status.proxy.httpAddress.url
//   .connectors       every Connector of the group, same shape, each also with .name and .namespace
//   .connectorclass   the class as JSON, with .connectorclass.proxyAddress = status.proxy.httpAddress.url
//   .context.token, .context.proxy.caCert
//   .configurations   the configuration's params: declared defaults, then configuration.params
// Later files overwrite earlier ones of the same name (later configuration, later class); then the !file
// exclusions remove files, built-in or rendered. A configuration name no class of the volume declares is
// skipped (the driver logs it); only when none of the names given is declared does the volume fail.
import type { Connector, ConnectorClass, Configuration } from '../core/api/index.ts';
import { parse, parseJSON, type Template } from '../core/template/index.ts';
import { CsiError, internal, invalidArgument, notFound } from './errors.ts';
import { status } from '@grpc/grpc-js';

export const FILE_NAME = /^[A-Za-z0-9._-]+$/;
export const NO_PROXY = 'localhost,127.0.0.1,::1';

export interface ResolvedConnector {
  connector: Connector;
  cls: ConnectorClass;
}

export interface RenderInput {
  connectors: ResolvedConnector[];
  includes: string[];
  excludes: string[];
  params: Record<string, Record<string, string>>;
  token: string;
  caCert: string;
  /** Base URL of the forward proxy, e.g. http://connectors-proxy-service.connectors-system.svc.cluster.local. */
  forwardProxyURL: string;
}

export const connectorProxyAddress = (c: Connector) => c.status?.proxy?.httpAddress?.url ?? '';

/** http://<ns>%2F<name>:<token>@<host:port> on the forward proxy's scheme. */
export function forwardProxyWithAuth(
  forwardProxyURL: string,
  c: { namespace: string; name: string },
  token: string,
): string {
  const u = new URL(forwardProxyURL);
  return `${u.protocol}//${encodeURIComponent(c.namespace)}%2F${encodeURIComponent(c.name)}:${encodeURIComponent(token)}@${u.host}`;
}

export function builtinFiles(
  last: Connector,
  token: string,
  caCert: string,
  forwardProxyURL: string,
): Map<string, string> {
  const proxy = forwardProxyWithAuth(
    forwardProxyURL,
    { namespace: last.metadata.namespace!, name: last.metadata.name! },
    token,
  );
  return new Map([
    ['.env', `http_proxy=${proxy}\nhttps_proxy=${proxy}\nno_proxy=${NO_PROXY}\n`],
    ['http.proxy', proxy],
    ['https.proxy', proxy],
    ['context.token', token],
    ['context.proxy.caCert', caCert],
    ['ca.crt', caCert],
    ['ca.cert', caCert],
    ['connector.status.proxyAddress', connectorProxyAddress(last)],
  ]);
}

function connectorView(c: Connector): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...c.metadata };
  delete metadata.managedFields;
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata,
    spec: c.spec,
    status: { ...(c.status ?? {}), proxyAddress: connectorProxyAddress(c) },
  };
}

function classView(cls: ConnectorClass): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...cls.metadata };
  delete metadata.managedFields;
  return {
    apiVersion: cls.apiVersion,
    kind: cls.kind,
    metadata,
    spec: cls.spec,
    status: cls.status ?? {},
    proxyAddress: cls.status?.proxy?.httpAddress?.url ?? '',
  };
}

/** Declared defaults, then the volume's values; a declared param without default and without value is an error. */
export function configurationParams(
  cls: ConnectorClass,
  config: Configuration,
  given: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of config.params ?? []) if (p.default !== undefined) out[p.name] = p.default;
  Object.assign(out, given ?? {});
  const missing = (config.params ?? [])
    .filter((p) => p.default === undefined && out[p.name] === undefined)
    .map((p) => p.name);
  if (missing.length) {
    throw invalidArgument(
      `configuration "${config.name}" of connectorclass "${cls.metadata.name}" requires ` +
        `parameter${missing.length > 1 ? 's' : ''} ${missing.map((m) => JSON.stringify(m)).join(', ')}: ` +
        `set them in the volume attribute configuration.params, e.g. {"${config.name}":{"${missing[0]}":"..."}}`,
    );
  }
  return out;
}

const TEMPLATE_CACHE_MAX = 512;
const templateCache = new Map<string, Template>();

function compile(file: string, text: string): Template {
  const key = `${file}\u0000${text}`;
  let t = templateCache.get(key);
  if (!t) {
    t = parse(file, text);
    if (templateCache.size >= TEMPLATE_CACHE_MAX) templateCache.delete(templateCache.keys().next().value!);
    templateCache.set(key, t);
  }
  return t;
}

interface Group {
  cls: ConnectorClass;
  connectors: Connector[];
}

export function groupByClass(resolved: ResolvedConnector[]): Group[] {
  const groups = new Map<string, Group>();
  for (const { connector, cls } of resolved) {
    const name = cls.metadata.name!;
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { cls, connectors: [] }));
    g.connectors.push(connector);
  }
  return [...groups.values()];
}

/** Configuration names the volume asks for that no class of its Connectors declares. */
export function unknownConfigurations(connectors: ResolvedConnector[], includes: string[]): string[] {
  return includes.filter(
    (name) => !connectors.some(({ cls }) => cls.spec?.configurations?.some((c) => c.name === name)),
  );
}

/** The files of the volume, in write order. Throws CsiError. */
export function renderVolume(input: RenderInput): Map<string, string> {
  if (!input.connectors.length) throw invalidArgument('no connector in volume');
  const last = input.connectors[input.connectors.length - 1].connector;
  const files = builtinFiles(last, input.token, input.caCert, input.forwardProxyURL);
  const groups = groupByClass(input.connectors);

  const unknown = unknownConfigurations(input.connectors, input.includes);
  if (unknown.length && unknown.length === input.includes.length) {
    const classes = groups.map((g) => `"${g.cls.metadata.name}"`).join(', ');
    throw notFound(
      `configuration ${unknown.map((n) => JSON.stringify(n)).join(', ')} not found in connectorclass ${classes}`,
    );
  }

  for (const g of groups) {
    const selected = input.includes
      .map((name) => g.cls.spec?.configurations?.find((c) => c.name === name))
      .filter((c): c is Configuration => Boolean(c));
    if (!selected.length) continue;
    const groupLast = g.connectors[g.connectors.length - 1];
    const base = {
      connector: connectorView(groupLast),
      connectors: g.connectors.map((c) => ({
        ...connectorView(c),
        name: c.metadata.name,
        namespace: c.metadata.namespace,
      })),
      connectorclass: classView(g.cls),
      context: { token: input.token, proxy: { caCert: input.caCert } },
    };
    for (const config of selected) {
      const configurations = configurationParams(g.cls, config, input.params[config.name]);
      const data = parseJSON(JSON.stringify({ ...base, configurations }));
      for (const [file, text] of Object.entries(config.data ?? {})) {
        const where = `configuration "${config.name}" of connectorclass "${g.cls.metadata.name}"`;
        if (!FILE_NAME.test(file) || file === '.' || file.startsWith('..')) {
          throw internal(
            `failed to generate configuration: ${where}: invalid file name ${JSON.stringify(file)} ` +
              `(letters, digits, ".", "_" and "-" only; not starting with "..")`,
          );
        }
        try {
          files.set(file, compile(file, text).execute(data));
        } catch (err) {
          if (err instanceof CsiError) throw err;
          throw new CsiError(status.INTERNAL, `failed to generate configuration: ${where}: ${(err as Error).message}`);
        }
      }
    }
  }
  for (const name of input.excludes) files.delete(name);
  return files;
}
