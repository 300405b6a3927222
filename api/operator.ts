// The Connectors Operator API: `GET /connectors-operator/featureflags`, every feature flag as "true"/"false",
// for a caller who may list ConnectorClasses. The flags come from the watched connectors-config ConfigMap, so
// a change shows here as soon as the watch delivers it.
import type { Authentication } from '../core/auth/review.ts';
import { ReviewError } from '../core/auth/review.ts';
import { connectionTokenKey } from '../core/auth/token-key.ts';
import type { ProxyRequest, ProxyResponse } from '../core/http1/exchange.ts';
import { sendStatus } from '../core/plugin/status.ts';
import { bearerToken, REALM, type ApiContext } from './handler.ts';

export const FEATURE_FLAGS_PATH = '/connectors-operator/featureflags';

export async function handleFeatureFlags(ctx: ApiContext, req: ProxyRequest, res: ProxyResponse): Promise<void> {
  const started = performance.now();
  const record = {
    connector: '',
    user: '',
    method: req.method ?? 'GET',
    path: req.url ?? '',
    status: 0,
    provider: '' as const,
    template: '',
    durationMs: 0,
    reason: undefined as string | undefined,
  };
  const reply = (code: number, message: string, headers?: Record<string, string>) => {
    sendStatus(res, code, message, headers);
    record.status = code;
    record.reason = message;
    record.durationMs = performance.now() - started;
    ctx.access.record(record);
  };
  const token = bearerToken(req.headers.authorization);
  if (!token)
    return reply(401, 'a Bearer token is required (Authorization: Bearer <token>)', {
      'www-authenticate': `Bearer realm="${REALM}"`,
    });
  const key = connectionTokenKey(token, req.socket);
  let auth: Authentication;
  let allowed: boolean;
  try {
    auth = ctx.authorizer.cachedAuthentication(key) ?? (await ctx.authorizer.authenticate(token, key));
    if (!auth.authenticated)
      return reply(401, 'the token is invalid, expired or for another audience', {
        'www-authenticate': `Bearer realm="${REALM}"`,
      });
    record.user = auth.user.username;
    const check = { verb: 'list', resource: 'connectorclasses' };
    allowed =
      ctx.authorizer.cachedResourceAccess(check, key) ?? (await ctx.authorizer.resourceAccess(auth, check, key));
  } catch (err) {
    if (!(err instanceof ReviewError)) throw err;
    ctx.log.warn('cannot check the client token', { error: err.message });
    return reply(503, 'cannot check the token with the Kubernetes API now');
  }
  if (!allowed)
    return reply(
      403,
      `connectorclasses.connectors.alauda.io is forbidden: User ${JSON.stringify(auth.user.username)} ` +
        `cannot list resource "connectorclasses" in API group "connectors.alauda.io" at the cluster scope`,
    );
  const body = JSON.stringify(ctx.state.flags.all());
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
  record.status = 200;
  record.durationMs = performance.now() - started;
  ctx.access.record(record);
}
