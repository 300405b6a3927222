// The Connector's credentials put into one request to the tool: the plan of inject.ts (by Secret type, or the
// class generator.rego evaluated in-process) applied to the request's target, headers and body. Shared by the
// proxy and the Connectors API, which relay requests to tools the same way.
import type { SecretLike } from '../kube/types.ts';
import type { Connector, ConnectorClass } from '../api/index.ts';
import type { ProxyRequest } from '../http1/exchange.ts';
import { lowerName } from '../http1/fields.ts';
import { applyAuthInjection, AuthInjectionError, regoRequest } from '../opa/index.ts';
import { type Policies, PolicyNotReadyError } from '../opa/policies.ts';
import { planInjection, type InjectionPlan } from './inject.ts';
import { secretRefOf } from './secret.ts';

/** What injecting needs: the cached class and Secret, the compiled generators, the body limit. */
export interface InjectionContext {
  state: {
    connectorClass(name: string): ConnectorClass | undefined;
    secret(namespace: string, name: string): SecretLike | undefined;
  };
  policies: Pick<Policies, 'generate'>;
  /** Largest request body buffered for generator body injection. */
  maxInjectBodyBytes: number;
}

/** Reads a request body whole, up to `limit` bytes (undefined when larger). */
export async function readBody(req: ProxyRequest, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export type Prepared =
  | {
      ok: true;
      target: URL;
      headers: Record<string, string | string[]>;
      body?: Buffer;
      injected: boolean;
      /** Credential values put into the query (to keep them out of a Location the client sees). */
      queryCredentials?: string[];
    }
  | { ok: false; status: number; reason: string };

/**
 * planInjection memoised on the cached objects it reads (the informers replace an object when it changes,
 * never edit it), so a request does not decode the Secret and re-encode a Basic header each time.
 */
const plans = new WeakMap<
  Connector,
  { cls: ConnectorClass | undefined; secret: SecretLike | undefined; plan: InjectionPlan }
>();
function cachedPlan(
  connector: Connector,
  cls: ConnectorClass | undefined,
  secret: SecretLike | undefined,
): InjectionPlan {
  const hit = plans.get(connector);
  if (hit && hit.cls === cls && hit.secret === secret) return hit.plan;
  const plan = planInjection(connector, cls, secret);
  plans.set(connector, { cls, secret, plan });
  return plan;
}

/**
 * The Connector's credentials put into the backend request (target URL, headers, maybe a new body), by the
 * Secret type or the class generator.rego. Failures name the problem, never a secret value. Given at once
 * (not as a promise) unless a generator.rego has to be evaluated.
 */
export function injectCredentials(
  ctx: InjectionContext,
  req: ProxyRequest,
  connector: Connector,
  target: URL,
  headers: Record<string, string | string[]>,
): Prepared | Promise<Prepared> {
  const cls = ctx.state.connectorClass(connector.spec.connectorClassName);
  // Looked up only where the same-namespace rule lets it be read (planInjection gives the error otherwise).
  const ref = secretRefOf(connector);
  const secret = ref.state === 'local' ? ctx.state.secret(ref.ref.namespace, ref.ref.name) : undefined;
  const plan = cachedPlan(connector, cls, secret);
  switch (plan.kind) {
    case 'none':
      return { ok: true, target, headers, injected: false };
    case 'error':
      return { ok: false, status: 502, reason: plan.message };
    case 'headers': {
      // In place (the caller's headers are its own copy): a client header of the same name, in any case,
      // goes, and the credential headers come last.
      for (const k in headers) if (lowerName(k) in plan.headers) delete headers[k];
      for (const k in plan.headers) headers[k] = plan.headers[k];
      return { ok: true, target, headers, injected: true };
    }
    case 'generator':
      return generated(ctx, req, plan, target, headers);
  }
}

async function generated(
  ctx: InjectionContext,
  req: ProxyRequest,
  plan: Extract<InjectionPlan, { kind: 'generator' }>,
  target: URL,
  headers: Record<string, string | string[]>,
): Promise<Prepared> {
  const request = regoRequest({
    method: req.method ?? 'GET',
    path: target.pathname + target.search,
    host: target.host,
    headers,
  });
  try {
    let injection = await ctx.policies.generate(plan.rego, plan.data, request);
    let body: Buffer | undefined;
    if (injection.position === 'body') {
      body = await readBody(req, ctx.maxInjectBodyBytes);
      if (!body)
        return {
          ok: false,
          status: 413,
          reason: `request body larger than ${ctx.maxInjectBodyBytes} bytes cannot take body credentials`,
        };
      // Evaluated again with the body, which the first evaluation did not need to see.
      injection = await ctx.policies.generate(
        plan.rego,
        plan.data,
        regoRequest({ method: request.method, path: request.path, host: request.host, headers, body }),
      );
    }
    const applied = applyAuthInjection({ headers, query: target.search.slice(1), body }, injection);
    const t = new URL(target);
    t.search = applied.query ? '?' + applied.query : '';
    return {
      ok: true,
      target: t,
      headers: applied.headers,
      body: applied.body ?? body,
      injected: true,
      queryCredentials: injection.position === 'query' ? Object.values(injection.auth) : undefined,
    };
  } catch (err) {
    if (err instanceof PolicyNotReadyError) return { ok: false, status: 503, reason: err.message };
    if (err instanceof AuthInjectionError) return { ok: false, status: 502, reason: err.message };
    throw err;
  }
}
