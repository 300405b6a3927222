// `auth.types[].generator.rego`: what credentials the proxy injects into the backend request,
// and the pure function that injects them.
import { queryEscape, queryUnescape } from './builtins/encoding.ts';
import { type CompileOptions, compileRego } from './compile.ts';
import { type LoadOptions, type Policy, evaluateAs, loadPolicy } from './policy.ts';
import { type RegoRequest, isJsonMediaType, mediaType } from './request.ts';

export const GENERATOR_ENTRYPOINT = 'proxy/auth';
export const GENERATOR_FILE = 'generator.rego';

export type AuthPosition = 'header' | 'query' | 'body';
export const AUTH_POSITIONS: readonly AuthPosition[] = ['header', 'query', 'body'];

export interface AuthInjection {
  position: AuthPosition;
  /** Body content type (position `body`), e.g. `application/json`. */
  contentType?: string;
  auth: Record<string, string>;
}

/** A policy result or a request the injection cannot be applied to; the message names generator.rego. */
export class AuthInjectionError extends Error {
  override name = 'AuthInjectionError';
}

export interface PolicyOptions {
  compile?: Omit<CompileOptions, 'entrypoint' | 'fileName'>;
  load?: LoadOptions;
}

/**
 * The generator's input. `data` is the Secret's data (decoded to strings) and `request` the backend request.
 * For the documented pre-v1.6 policies (`input.token`, `input.username`, ...) every Secret key is also
 * copied to the top level, except keys that would hide `data` or `request`.
 */
export function generatorInput(data: Record<string, string>, request?: RegoRequest): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (k !== 'data' && k !== 'request') input[k] = v;
  input.data = data;
  if (request) input.request = request;
  return input;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/**
 * Validate a generator result. Auth values: strings as they are; numbers and booleans as their JSON text
 * (what Go's fmt `%v` prints for decoded JSON numbers/booleans, e.g. `42`, `true`); null, arrays and objects
 * are errors — a header or query value has no obvious text form for them.
 */
export function toAuthInjection(result: unknown, file = GENERATOR_FILE): AuthInjection {
  if (result === undefined)
    throw new AuthInjectionError(`${file} produced no "auth" object (the rule proxy.auth is undefined for this input)`);
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new AuthInjectionError(
      `${file}: "auth" must be an object {position, contentType?, auth}, got ${describe(result)}`,
    );
  }
  const r = result as Record<string, unknown>;
  if (r.position === undefined)
    throw new AuthInjectionError(`${file}: the result has no "position" (one of ${AUTH_POSITIONS.join(', ')})`);
  if (!AUTH_POSITIONS.includes(r.position as AuthPosition)) {
    throw new AuthInjectionError(
      `${file}: position ${typeof r.position === 'string' ? JSON.stringify(r.position) : describe(r.position)} is not one of ${AUTH_POSITIONS.join(', ')}`,
    );
  }
  if (r.contentType !== undefined && typeof r.contentType !== 'string') {
    throw new AuthInjectionError(`${file}: contentType must be a string, got ${describe(r.contentType)}`);
  }
  if (r.auth === undefined) throw new AuthInjectionError(`${file}: the result has no "auth" map`);
  if (r.auth === null || typeof r.auth !== 'object' || Array.isArray(r.auth)) {
    throw new AuthInjectionError(`${file}: "auth" must be a map of strings, got ${describe(r.auth)}`);
  }
  const auth: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.auth as Record<string, unknown>)) {
    if (typeof v === 'string') auth[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') auth[k] = JSON.stringify(v);
    else
      throw new AuthInjectionError(
        `${file}: auth[${JSON.stringify(k)}] must be a string, number or boolean, got ${describe(v)}`,
      );
  }
  const out: AuthInjection = { position: r.position as AuthPosition, auth };
  if (typeof r.contentType === 'string' && r.contentType !== '') out.contentType = r.contentType;
  return out;
}

export interface GeneratorPolicy {
  readonly policy: Policy;
  /** Evaluate for a Secret's data and the backend request. Throws AuthInjectionError. */
  generate(data: Record<string, string>, request?: RegoRequest): AuthInjection;
}

/** Compile (cached) and load a generator.rego. Rejects with RegoCompileError when it does not compile. */
export async function generatorPolicy(rego: string, opts: PolicyOptions = {}): Promise<GeneratorPolicy> {
  const compiled = await compileRego(rego, {
    ...opts.compile,
    entrypoint: GENERATOR_ENTRYPOINT,
    fileName: GENERATOR_FILE,
  });
  const policy = await loadPolicy(compiled, opts.load);
  return {
    policy,
    generate(data, request) {
      return toAuthInjection(evaluateAs(policy, generatorInput(data, request), GENERATOR_FILE, AuthInjectionError));
    },
  };
}

/** The parts of a backend request that injection may change. */
export interface InjectableRequest {
  /** Header record in any key case (e.g. Node's outgoing headers). */
  headers: Record<string, string | string[]>;
  /** Raw query string without the leading `?` (may be empty). */
  query: string;
  body?: Buffer;
}

function headerValue(headers: Record<string, string | string[]>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

function withHeader(
  headers: Record<string, string | string[]>,
  name: string,
  value: string | undefined,
): Record<string, string | string[]> {
  const lower = name.toLowerCase();
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== lower) out[k] = v;
  if (value !== undefined) out[name] = value;
  return out;
}

/**
 * Replace the `auth` keys in a `&`-separated form/query string: existing pairs with those keys are dropped,
 * the other pairs keep their order and encoding, and the new pairs are appended (Go QueryEscape encoding).
 */
export function mergeUrlEncoded(existing: string, auth: Record<string, string>): string {
  const kept = existing.split('&').filter((pair) => {
    if (pair === '') return false;
    const eq = pair.indexOf('=');
    let key: string;
    try {
      key = queryUnescape(eq === -1 ? pair : pair.slice(0, eq));
    } catch {
      return true;
    }
    return !Object.prototype.hasOwnProperty.call(auth, key);
  });
  const added = Object.entries(auth).map(([k, v]) => `${queryEscape(k)}=${queryEscape(v)}`);
  return [...kept, ...added].join('&');
}

/**
 * Apply an injection to a backend request. Pure: returns new headers / query / body.
 * - header: each auth key is set, replacing any header of the same name (case-insensitively).
 * - query: each auth key is set in the query string, replacing existing parameters of that name.
 * - body: `application/json` (or any `+json`) merges the fields into the JSON object body (an empty body
 *   becomes a new object); `application/x-www-form-urlencoded` merges form fields. The content type is the
 *   injection's `contentType`, else the request's Content-Type, else `application/json`. Content-Length is
 *   recomputed and Transfer-Encoding dropped; Content-Type is set when the request had none.
 */
export function applyAuthInjection(req: InjectableRequest, injection: AuthInjection): InjectableRequest {
  switch (injection.position) {
    case 'header': {
      let headers = req.headers;
      for (const [k, v] of Object.entries(injection.auth)) headers = withHeader(headers, k, v);
      return { headers, query: req.query, body: req.body };
    }
    case 'query':
      return { headers: req.headers, query: mergeUrlEncoded(req.query, injection.auth), body: req.body };
    case 'body':
      return injectBody(req, injection);
  }
}

function injectBody(req: InjectableRequest, injection: AuthInjection): InjectableRequest {
  const requestType = headerValue(req.headers, 'Content-Type');
  const contentType = injection.contentType ?? requestType ?? 'application/json';
  const media = mediaType(contentType);
  const text = req.body ? req.body.toString('utf8') : '';
  if (text.trim() !== '' && requestType !== undefined && mediaType(requestType) !== media) {
    throw new AuthInjectionError(
      `${GENERATOR_FILE}: cannot merge ${media} auth fields into a ${mediaType(requestType)} request body`,
    );
  }
  let body: string;
  if (isJsonMediaType(media)) {
    let object: unknown = {};
    if (text.trim() !== '') {
      try {
        object = JSON.parse(text);
      } catch {
        throw new AuthInjectionError(
          `${GENERATOR_FILE}: the request body is not valid JSON, cannot merge auth fields into it`,
        );
      }
    }
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      throw new AuthInjectionError(
        `${GENERATOR_FILE}: the JSON request body is ${describe(object)}, auth fields can only be merged into an object`,
      );
    }
    body = JSON.stringify({ ...(object as Record<string, unknown>), ...injection.auth });
  } else if (media === 'application/x-www-form-urlencoded') {
    body = mergeUrlEncoded(text.trim(), injection.auth);
  } else {
    throw new AuthInjectionError(
      `${GENERATOR_FILE}: body injection supports application/json and application/x-www-form-urlencoded, not ${JSON.stringify(media)}`,
    );
  }
  const bytes = Buffer.from(body, 'utf8');
  let headers = withHeader(req.headers, 'Transfer-Encoding', undefined);
  headers = withHeader(headers, 'Content-Length', String(bytes.length));
  if (requestType === undefined) headers = withHeader(headers, 'Content-Type', contentType);
  return { headers, query: req.query, body: bytes };
}
