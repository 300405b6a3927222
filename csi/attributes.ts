// Pure parsing of what kubelet hands NodePublishVolume for a `connectors-csi` inline volume: the Pod's
// volumeAttributes plus the pod-info keys kubelet adds (podInfoOnMount) and, when the CSIDriver
// asks for it, the ServiceAccount tokens (tokenRequests; in volume_context, or in secrets per KEP-5538).
//
//   connectors            "a,ns2/b"  — comma list of name (the Pod's namespace) or namespace/name
//   connector.name        deprecated single form; connector.namespace defaults to the Pod's namespace
//   configuration.names   "gitconfig,!context.token" — configurations to render; !file excludes a file
//   configuration.params  '{"npmrc":{"registry":"..."}}' — params per configuration
//   token.expiration      Go duration, default 30m, at least 10m (the TokenRequest minimum)
//
// Several connectors need the feature flag enable-multi-connector; that check is the driver's (it reads the
// flag), this module only parses.
import { parseConnectorRef, parseGoDurationMs, refString, type ConnectorRef } from '../core/connector/index.ts';
import { invalidArgument } from './errors.ts';

export const KEYS = {
  ephemeral: 'csi.storage.k8s.io/ephemeral',
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUID: 'csi.storage.k8s.io/pod.uid',
  serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
  serviceAccountTokens: 'csi.storage.k8s.io/serviceAccount.tokens',
  connectors: 'connectors',
  connectorName: 'connector.name',
  connectorNamespace: 'connector.namespace',
  configurationNames: 'configuration.names',
  configurationParams: 'configuration.params',
  tokenExpiration: 'token.expiration',
} as const;

export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 30 * 60;
/** TokenRequest rejects shorter lifetimes. */
export const MIN_TOKEN_EXPIRATION_SECONDS = 10 * 60;

export type { ConnectorRef };

export interface PodInfo {
  name: string;
  namespace: string;
  uid: string;
  serviceAccount: string;
}

export interface KubeletToken {
  token: string;
  /** Unix milliseconds; NaN when kubelet sent none. */
  expiresAt: number;
}

export interface VolumeRequest {
  pod: PodInfo;
  connectors: ConnectorRef[];
  /** Configuration names to render, in order, without duplicates. */
  includes: string[];
  /** File names to leave out of the volume (built-ins or rendered files). */
  excludes: string[];
  /** configuration.params: configuration name → param → value. */
  params: Record<string, Record<string, string>>;
  tokenExpirationSeconds: number;
  /** The token kubelet requested for audience connectors-proxy, if it sent one. */
  kubeletToken?: KubeletToken;
}

function parseRef(attribute: string, item: string, defaultNamespace: string): ConnectorRef {
  const r = parseConnectorRef(item, defaultNamespace);
  if (!r.ok) throw invalidArgument(`invalid volume attribute ${JSON.stringify(attribute)}: ${r.error}`);
  return r.ref;
}

/** The connectors a volume names: `connectors`, else the deprecated `connector.name` (+ `connector.namespace`). */
export function parseConnectors(attrs: Record<string, string>, podNamespace: string): ConnectorRef[] {
  const list = (attrs[KEYS.connectors] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const fromList = list.map((item) => parseRef(KEYS.connectors, item, podNamespace));
  const single = attrs[KEYS.connectorName]?.trim();
  if (single?.includes('/')) {
    throw invalidArgument(
      `invalid volume attribute "connector.name" ${JSON.stringify(single)}: give the namespace in "connector.namespace"`,
    );
  }
  const fromSingle = single
    ? [parseRef(KEYS.connectorName, single, attrs[KEYS.connectorNamespace]?.trim() || podNamespace)]
    : [];
  if (fromList.length && fromSingle.length) {
    const s = fromSingle[0];
    if (fromList.length !== 1 || fromList[0].namespace !== s.namespace || fromList[0].name !== s.name) {
      throw invalidArgument(
        'volume attributes "connectors" and "connector.name" name different connectors: use only "connectors"',
      );
    }
  }
  const refs = fromList.length ? fromList : fromSingle;
  if (!refs.length)
    throw invalidArgument('volume attribute "connectors" (or the deprecated "connector.name") is required');
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = refString(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function parseSelectors(value: string | undefined): { includes: string[]; excludes: string[] } {
  const includes: string[] = [];
  const excludes: string[] = [];
  for (const raw of (value ?? '').split(',')) {
    const item = raw.trim();
    if (!item) continue;
    if (item.startsWith('!')) {
      const file = item.slice(1).trim();
      if (!file)
        throw invalidArgument('invalid volume attribute "configuration.names": "!" must be followed by a file name');
      if (!excludes.includes(file)) excludes.push(file);
    } else if (!includes.includes(item)) includes.push(item);
  }
  return { includes, excludes };
}

export function parseParams(value: string | undefined): Record<string, Record<string, string>> {
  if (value === undefined || value.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw invalidArgument(`invalid volume attribute "configuration.params": not valid JSON: ${(err as Error).message}`);
  }
  const shape =
    'must be a JSON object of configuration name to an object of parameter name to string value, e.g. {"npmrc":{"registry":"https://..."}}';
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidArgument(`invalid volume attribute "configuration.params": ${shape}`);
  const out: Record<string, Record<string, string>> = {};
  for (const [config, params] of Object.entries(parsed as Record<string, unknown>)) {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw invalidArgument(
        `invalid volume attribute "configuration.params": the value of ${JSON.stringify(config)} ${shape.replace(/^must be a JSON object of configuration name to /, 'must be ')}`,
      );
    }
    out[config] = {};
    for (const [k, v] of Object.entries(params)) {
      if (typeof v === 'string') out[config][k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') out[config][k] = String(v);
      else
        throw invalidArgument(
          `invalid volume attribute "configuration.params": parameter ${JSON.stringify(`${config}.${k}`)} must be a string`,
        );
    }
  }
  return out;
}

export function parseTokenExpiration(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_TOKEN_EXPIRATION_SECONDS;
  let ms: number;
  try {
    ms = parseGoDurationMs(value.trim());
  } catch (err) {
    throw invalidArgument(`invalid volume attribute "token.expiration": ${(err as Error).message}`);
  }
  const seconds = Math.floor(ms / 1000);
  if (seconds < MIN_TOKEN_EXPIRATION_SECONDS)
    throw invalidArgument(`invalid volume attribute "token.expiration" ${JSON.stringify(value)}: must be at least 10m`);
  return seconds;
}

/**
 * The kubelet-requested token for `audience`, from `csi.storage.k8s.io/serviceAccount.tokens`:
 * secrets first (KEP-5538 serviceAccountTokenInSecrets), then volume_context.
 */
export function kubeletToken(
  volumeContext: Record<string, string>,
  secrets: Record<string, string>,
  audience: string,
): KubeletToken | undefined {
  for (const source of [secrets, volumeContext]) {
    const raw = source[KEYS.serviceAccountTokens];
    if (!raw) continue;
    let tokens: Record<string, { token?: string; expirationTimestamp?: string }>;
    try {
      tokens = JSON.parse(raw) as typeof tokens;
    } catch {
      throw invalidArgument(`malformed ${KEYS.serviceAccountTokens} from kubelet`);
    }
    const entry = tokens?.[audience];
    if (entry?.token) return { token: entry.token, expiresAt: Date.parse(entry.expirationTimestamp ?? '') };
  }
  return undefined;
}

export function parsePodInfo(ctx: Record<string, string>): PodInfo {
  const pod = {
    name: ctx[KEYS.podName] ?? '',
    namespace: ctx[KEYS.podNamespace] ?? '',
    uid: ctx[KEYS.podUID] ?? '',
    serviceAccount: ctx[KEYS.serviceAccountName] ?? '',
  };
  const missing = Object.entries({
    [KEYS.podName]: pod.name,
    [KEYS.podNamespace]: pod.namespace,
    [KEYS.podUID]: pod.uid,
    [KEYS.serviceAccountName]: pod.serviceAccount,
  })
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length) {
    throw invalidArgument(
      `missing pod information ${missing.join(', ')} in volume context: the CSIDriver connectors-csi must set podInfoOnMount: true`,
    );
  }
  return pod;
}

/** Everything a publish needs from volume_context and secrets; throws CsiError(InvalidArgument). */
export function parseVolumeRequest(
  volumeContext: Record<string, string>,
  secrets: Record<string, string>,
  audience: string,
): VolumeRequest {
  const pod = parsePodInfo(volumeContext);
  const { includes, excludes } = parseSelectors(volumeContext[KEYS.configurationNames]);
  return {
    pod,
    connectors: parseConnectors(volumeContext, pod.namespace),
    includes,
    excludes,
    params: parseParams(volumeContext[KEYS.configurationParams]),
    tokenExpirationSeconds: parseTokenExpiration(volumeContext[KEYS.tokenExpiration]),
    kubeletToken: kubeletToken(volumeContext, secrets, audience),
  };
}
