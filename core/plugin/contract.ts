// The ClassAPI plugin contract (pure): what the Connectors API tells a class API server about the Connector it
// asks for, in three headers, each base64 of
//   X-Plugin-Meta    JSON {"baseURL": <Connector spec.address>}
//   X-Plugin-Auth    the Secret's type, e.g. kubernetes.io/basic-auth
//   X-Plugin-Secret  JSON of the Secret's `data`, values still base64 (the plugin decodes twice)
// The auth headers are sent only when the Connector references a Secret. A client's own X-Plugin-* headers
// never reach the plugin.
import type { SecretLike } from '../kube/types.ts';

export const PLUGIN_META = 'x-plugin-meta';
export const PLUGIN_AUTH = 'x-plugin-auth';
export const PLUGIN_SECRET = 'x-plugin-secret';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export function pluginHeaders(address: string, secret: SecretLike | undefined): Record<string, string> {
  const headers: Record<string, string> = { [PLUGIN_META]: b64(JSON.stringify({ baseURL: address })) };
  if (secret) {
    headers[PLUGIN_AUTH] = b64(secret.type ?? 'Opaque');
    headers[PLUGIN_SECRET] = b64(JSON.stringify(secret.data ?? {}));
  }
  return headers;
}

/** Whether a request header name is one of the plugin headers (lower case). */
export const isPluginHeader = (name: string) => name.startsWith('x-plugin-');

/** The Connector as a plugin receives it (pure): the inverse of pluginHeaders, for plugins written in this repository. */
export interface PluginRequestContext {
  baseURL: string;
  secretType?: string;
  /** Secret data decoded to strings. */
  data: Record<string, string>;
}

export class PluginHeaderError extends Error {
  override name = 'PluginHeaderError';
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

function decodeJson(name: string, value: string): unknown {
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    throw new PluginHeaderError(`${name} is not base64 of JSON`);
  }
}

export function readPluginHeaders(headers: Record<string, string | string[] | undefined>): PluginRequestContext {
  const meta = one(headers[PLUGIN_META]);
  if (!meta) throw new PluginHeaderError(`${PLUGIN_META} is required (one value)`);
  const m = decodeJson(PLUGIN_META, meta) as { baseURL?: unknown };
  if (!m || typeof m !== 'object' || typeof m.baseURL !== 'string' || !m.baseURL)
    throw new PluginHeaderError(`${PLUGIN_META} must hold {"baseURL": "<address>"}`);
  const out: PluginRequestContext = { baseURL: m.baseURL, data: {} };
  const auth = one(headers[PLUGIN_AUTH]);
  if (auth !== undefined) out.secretType = Buffer.from(auth, 'base64').toString('utf8');
  const secret = one(headers[PLUGIN_SECRET]);
  if (secret !== undefined) {
    const d = decodeJson(PLUGIN_SECRET, secret);
    if (!d || typeof d !== 'object' || Array.isArray(d))
      throw new PluginHeaderError(`${PLUGIN_SECRET} must hold a JSON object of base64 values`);
    for (const [k, v] of Object.entries(d as Record<string, unknown>)) {
      if (typeof v !== 'string')
        throw new PluginHeaderError(`${PLUGIN_SECRET}: value of ${JSON.stringify(k)} is not a string`);
      out.data[k] = Buffer.from(v, 'base64').toString('utf8');
    }
  }
  return out;
}
