// Pure decisions of the Connector reconciler: which condition each check yields, what a probe must send,
// and how a probe response reads. No I/O here; connector-reconciler.ts does the reading and writing.
import { headerList, type Connector, type ConnectorClass, type Probe } from '../core/api/index.ts';
import {
  authTypeOf,
  parseChallenge,
  secretProblem,
  type DecodedSecret,
  type SecretResolution,
} from '../core/connector/index.ts';
import { parse } from '../core/template/index.ts';
import { T, F, U, type CondInput } from './conditions.ts';
import { httpProbeURL, apiProbeURL, type ProbeRequest, type ProbeResponse } from './probe.ts';
import { evalResponseCel, CelError } from './cel.ts';
import { templateData } from './templatedata.ts';
import { resolveEndpoint, AddressError } from './addresses.ts';

export const COND = {
  class: 'ConnectorClassReady',
  secret: 'SecretReady',
  liveness: 'LivenessReady',
  auth: 'AuthReady',
  proxy: 'ProxyServiceReady',
  caCert: 'CACertReady',
  ready: 'Ready',
} as const;

export function checkClass(c: Connector, cls: ConnectorClass | undefined): CondInput {
  const name = c.spec.connectorClassName;
  if (!cls)
    return F(
      COND.class,
      'ConnectorClassNotFound',
      `connectorclass.connectors.alauda.io ${JSON.stringify(name)} not found`,
    );
  const policies = cls.status?.conditions?.find((x) => x.type === 'PoliciesReady');
  if (policies?.status === 'False') {
    return F(
      COND.class,
      'ConnectorClassNotReady',
      `connectorclass ${JSON.stringify(name)} is not ready: ${policies.message ?? policies.reason ?? ''}`,
    );
  }
  return T(COND.class);
}

/**
 * SecretReady from the Secret as resolved (core/connector: a reference into another namespace is never looked
 * up) against the auth type: accepted type (the class's or a documented equivalent) and required keys.
 */
export function checkSecret(c: Connector, cls: ConnectorClass, lookup: SecretResolution): CondInput {
  const className = cls.metadata.name!;
  const types = cls.spec?.auth?.types ?? [];
  const authName = c.spec.auth?.name;
  if (!authName) {
    if (types.length === 0 || types.some((t) => t.optional))
      return T(COND.secret, 'SecretOptional', 'the Connector uses no authentication');
    return F(
      COND.secret,
      'AuthRequired',
      `spec.auth is required: connectorclass ${JSON.stringify(className)} has no optional authentication ` +
        `type (supported: ${types.map((t) => t.name).join(', ')})`,
    );
  }
  const type = authTypeOf(c, cls);
  if (!type) {
    return F(
      COND.secret,
      'AuthTypeNotFound',
      `auth type ${JSON.stringify(authName)} is not defined in connectorclass ${JSON.stringify(className)} ` +
        `(supported: ${types.map((t) => t.name).join(', ') || 'none'})`,
    );
  }
  switch (lookup.state) {
    case 'none':
      if (type.optional)
        return T(
          COND.secret,
          'SecretOptional',
          `auth type ${JSON.stringify(authName)} is optional and no secret is set`,
        );
      return F(
        COND.secret,
        'SecretRequired',
        `auth type ${JSON.stringify(authName)} of connectorclass ${JSON.stringify(className)} requires spec.auth.secretRef`,
      );
    case 'foreign':
      return F(COND.secret, 'SecretNamespaceMismatch', lookup.message);
    case 'missing':
      return F(COND.secret, 'SecretNotFound', `secrets ${JSON.stringify(lookup.ref.name)} not found`);
  }
  const s = lookup.secret;
  const problem = secretProblem({ name: s.name, type: s.type, keys: Object.keys(s.data) }, type, className);
  return problem ? F(COND.secret, problem.reason, problem.message) : T(COND.secret);
}

export class ProbeBuildError extends Error {
  override name = 'ProbeBuildError';
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface ProbePlan {
  request: ProbeRequest;
  cel?: string;
}

function classApiURL(cls: ConnectorClass, systemNamespace: string): string {
  if (!cls.spec?.api)
    throw new ProbeBuildError(
      'APINotConfigured',
      `the probe uses api, but connectorclass ${JSON.stringify(cls.metadata.name)} has no spec.api`,
    );
  try {
    return resolveEndpoint(cls.spec?.api, 'api', systemNamespace);
  } catch (err) {
    if (err instanceof AddressError) throw new ProbeBuildError('APINotConfigured', err.message);
    throw err;
  }
}

/**
 * The headers a class API receives about the Connector: X-Plugin-Meta (its address), and with a Secret
 * X-Plugin-Auth (the Secret type) and X-Plugin-Secret (its data), each base64-encoded JSON.
 */
function pluginHeaders(c: Connector, secret: DecodedSecret | undefined): Array<{ name: string; value: string }> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const out = [{ name: 'X-Plugin-Meta', value: b64(JSON.stringify({ baseURL: c.spec.address })) }];
  if (secret) {
    out.push({ name: 'X-Plugin-Auth', value: b64(secret.type) });
    out.push({
      name: 'X-Plugin-Secret',
      value: b64(JSON.stringify(Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, b64(v)])))),
    });
  }
  return out;
}

/**
 * The request a probe makes. `templated` (auth probes): path and header values are Go templates over
 * .Connector and .Secret; a template error throws ProbeBuildError naming `what`.
 */
export function planProbe(
  probe: Probe,
  c: Connector,
  cls: ConnectorClass,
  o: {
    what: string;
    templated: boolean;
    secret?: DecodedSecret;
    systemNamespace: string;
    timeoutMs?: number;
    extraCAs?: string[];
  },
): ProbePlan {
  const data = o.templated ? templateData(c, o.secret) : undefined;
  const render = (field: string, text: string): string => {
    if (!o.templated || !text.includes('{{')) return text;
    try {
      return parse(`${o.what}.${field}`, text).execute(data);
    } catch (err) {
      throw new ProbeBuildError(
        'InvalidAuthProbe',
        `${o.what}: invalid template in ${field}: ${(err as Error).message}`,
      );
    }
  };
  if (probe.http) {
    const h = probe.http;
    const path = render('path', h.path ?? '/');
    // The host is a template too: a tool whose API lives on another host (api.github.com for github.com)
    // names it from the Connector, e.g. from an address extension. Empty means the Connector's host.
    const host = h.host ? render('host', h.host).trim() : undefined;
    const headers = headerList(h.httpHeaders).map((x) => ({
      name: x.name,
      value: render(`httpHeaders[${x.name}]`, x.value).trim(),
    }));
    let url: string;
    try {
      url = httpProbeURL(c.spec.address, { path, host, scheme: h.scheme });
      new URL(url);
    } catch {
      throw new ProbeBuildError(
        o.templated ? 'InvalidAuthProbe' : 'InvalidLivenessProbe',
        `${o.what}: cannot build a URL from address ${JSON.stringify(c.spec.address)} and path ${JSON.stringify(path)}`,
      );
    }
    return {
      request: {
        method: h.method ?? 'GET',
        url,
        headers,
        disableRedirect: h.disableRedirect,
        timeoutMs: o.timeoutMs,
        extraCAs: o.extraCAs,
        // A templated query may carry a credential (?private_token=...): never echo it in a condition.
        redactQuery: o.templated && /\?.*\{\{/.test(h.path ?? ''),
      },
      cel: h.response?.cel?.trim() || undefined,
    };
  }
  if (probe.api) {
    const base = classApiURL(cls, o.systemNamespace);
    const path = render('path', probe.api.path ?? '/');
    return {
      request: {
        method: 'GET',
        url: apiProbeURL(base, path),
        headers: o.templated ? pluginHeaders(c, o.secret) : pluginHeaders(c, undefined),
        timeoutMs: o.timeoutMs,
        extraCAs: o.extraCAs,
        redactQuery: o.templated && /\?.*\{\{/.test(probe.api.path ?? ''),
      },
    };
  }
  throw new ProbeBuildError(
    o.templated ? 'InvalidAuthProbe' : 'InvalidLivenessProbe',
    `${o.what}: neither http nor api is set`,
  );
}

/**
 * The auth probe a Connector gets when it leaves out parameters the class's authProbe declares (they are
 * optional: the reference's quick starts omit `repository`): the probe's request with its credentials
 * headers, sent to the root of the probed host. Undefined for an api probe, which has no root to ask.
 */
export function rootProbe(
  probe: Probe,
  c: Connector,
  cls: ConnectorClass,
  o: { what: string; secret?: DecodedSecret; systemNamespace: string; timeoutMs?: number; extraCAs?: string[] },
): ProbePlan | undefined {
  if (!probe.http) return undefined;
  const plan = planProbe({ http: { ...probe.http, path: '/', response: undefined } }, c, cls, {
    ...o,
    templated: true,
  });
  return { request: plan.request };
}

/**
 * Auth at the address root: only a 401 says the server refused the credentials (any other answer, 404 or
 * 403 included, is what a server without an index page gives valid credentials), so that is the one failure;
 * the condition says how little was checked.
 */
export function rootAuthOutcome(res: ProbeResponse | undefined, missing: string[]): CondInput {
  const params = missing.map((m) => JSON.stringify(m)).join(', ');
  if (!res)
    return T(
      COND.auth,
      'AuthParamsMissing',
      `credentials not checked: spec.auth.params gives no ${params}, which the authProbe needs`,
    );
  if (res.statusCode === 401)
    return F(
      COND.auth,
      'AuthenticationFailed',
      `Authentication failed: status code 401 at the address root (spec.auth.params gives no ${params} for the authProbe's own check)`,
    );
  return T(
    COND.auth,
    'AuthParamsMissing',
    `credentials checked at the address root only (status code ${res.statusCode}): set spec.auth.params ${params} for the authProbe's own check`,
  );
}

/** Liveness: success is any 2xx, or 401/403 (the tool answered and wants credentials: AuthReady checks those), or response.cel. */
export function livenessOutcome(res: ProbeResponse, cel: string | undefined): CondInput {
  if (cel) {
    try {
      return evalResponseCel(cel, res)
        ? T(COND.liveness)
        : F(
            COND.liveness,
            'LivenessProbeFailed',
            `Liveness probe failed: status code ${res.statusCode} (response.cel is false)`,
          );
    } catch (err) {
      if (err instanceof CelError)
        return F(
          COND.liveness,
          'InvalidLivenessProbe',
          `livenessProbe: response.cel ${JSON.stringify(cel)} ${err.message}`,
        );
      throw err;
    }
  }
  const s = res.statusCode;
  if ((s >= 200 && s < 300) || s === 401 || s === 403) return T(COND.liveness);
  return F(COND.liveness, 'LivenessProbeFailed', `Liveness probe failed: status code ${s}`);
}

/** Auth: success is any 2xx (or response.cel); anything else is AuthenticationFailed. */
export function authOutcome(res: ProbeResponse, cel: string | undefined, what: string): CondInput {
  if (cel) {
    try {
      return evalResponseCel(cel, res)
        ? T(COND.auth)
        : F(
            COND.auth,
            'AuthenticationFailed',
            `Authentication failed: status code ${res.statusCode} (response.cel is false)`,
          );
    } catch (err) {
      if (err instanceof CelError)
        return F(COND.auth, 'InvalidAuthProbe', `${what}: response.cel ${JSON.stringify(cel)} ${err.message}`);
      throw err;
    }
  }
  const s = res.statusCode;
  if (s >= 200 && s < 300) return T(COND.auth);
  return F(COND.auth, 'AuthenticationFailed', `Authentication failed: status code ${s}`);
}

/**
 * Registry token auth, for auth probes of OCI classes: when the registry answers the probe with 401 and a
 * `WWW-Authenticate: Bearer realm=...,service=...` challenge, the token request `docker login` makes — GET
 * <realm>?service=<service> with the probe's Authorization (the Secret's Basic credentials, or none) — so
 * that the token service judges the credentials. Undefined when the response is not such a challenge.
 */
export function registryTokenProbe(res: ProbeResponse, probe: ProbeRequest): ProbeRequest | undefined {
  if (res.statusCode !== 401) return undefined;
  const challenge = parseChallenge(res.headers['Www-Authenticate']);
  if (challenge?.scheme !== 'bearer' || !challenge.realm) return undefined;
  let url: URL;
  try {
    url = new URL(challenge.realm, res.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (challenge.service) url.searchParams.set('service', challenge.service);
  const auth = probe.headers.filter((h) => h.name.toLowerCase() === 'authorization' && h.value !== '');
  return {
    method: 'GET',
    url: url.toString(),
    headers: auth,
    timeoutMs: probe.timeoutMs,
    extraCAs: probe.extraCAs,
  };
}

/** The registry token service's answer: a token means the credentials are valid; any other answer that they are not. */
export function registryTokenOutcome(res: ProbeResponse): CondInput {
  const body = res.body as { token?: unknown; access_token?: unknown } | undefined;
  const token = body?.token ?? body?.access_token;
  if (res.statusCode >= 200 && res.statusCode < 300 && typeof token === 'string' && token !== '') return T(COND.auth);
  return F(
    COND.auth,
    'AuthenticationFailed',
    `Authentication failed: the registry's token service answered status code ${res.statusCode}${res.statusCode < 300 ? ' without a token' : ''}`,
  );
}

export { U as unknown };
