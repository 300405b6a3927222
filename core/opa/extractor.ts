// `spec.proxy.authExtractor.rego`: where the client's token is, for clients that cannot send it as
// Basic or Bearer (e.g. `Private-Token: <token>`). Input `{request}` (see request.ts); result `auth.token`.
import { compileRego } from './compile.ts';
import type { PolicyOptions } from './generator.ts';
import { type Policy, evaluateAs, loadPolicy } from './policy.ts';
import type { RegoRequest } from './request.ts';

export const AUTH_EXTRACTOR_ENTRYPOINT = 'proxy/auth';
export const AUTH_EXTRACTOR_FILE = 'authExtractor.rego';

export class AuthExtractorError extends Error {
  override name = 'AuthExtractorError';
}

/**
 * The token from an extractor result: `""` when no token was found. An undefined `auth` (rules whose
 * conditions did not match, e.g. the header is absent) and an `auth` without `token` both mean "no token".
 */
export function toExtractedToken(result: unknown, file = AUTH_EXTRACTOR_FILE): string {
  if (result === undefined) return '';
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new AuthExtractorError(`${file}: "auth" must be an object {"token": "<string>"}`);
  }
  const token = (result as Record<string, unknown>).token;
  if (token === undefined || token === null) return '';
  if (typeof token !== 'string') {
    const hint = Array.isArray(token)
      ? ' (header and query values are lists: use e.g. input.request.headers["Private-Token"][0])'
      : '';
    throw new AuthExtractorError(
      `${file}: "token" must be a string, got ${Array.isArray(token) ? 'an array' : typeof token}${hint}`,
    );
  }
  return token;
}

export interface AuthExtractorPolicy {
  readonly policy: Policy;
  /** The client token found in the request, `""` when none. Throws AuthExtractorError. */
  extract(request: RegoRequest): string;
}

export async function authExtractorPolicy(rego: string, opts: PolicyOptions = {}): Promise<AuthExtractorPolicy> {
  const compiled = await compileRego(rego, {
    ...opts.compile,
    entrypoint: AUTH_EXTRACTOR_ENTRYPOINT,
    fileName: AUTH_EXTRACTOR_FILE,
  });
  const policy = await loadPolicy(compiled, opts.load);
  return {
    policy,
    extract(request) {
      return toExtractedToken(evaluateAs(policy, { request }, AUTH_EXTRACTOR_FILE, AuthExtractorError));
    },
  };
}
