// The shape of a ServiceAccount token, checked before the apiserver is asked: every ServiceAccount token
// (projected or legacy) is a signed JWT, three base64url parts whose first two are JSON objects, the header
// naming its algorithm. Anything else cannot pass a TokenReview, so it is refused here without one: random
// strings sent by a scanner cost no apiserver call. The claims are read unverified, only to pick the audience
// to review and to refuse an expired token early; the apiserver verifies the signature.

export interface TokenClaims {
  aud?: string | string[];
  exp?: number;
}

export type TokenShape = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Whether `token` is a well-formed JWT, and its claims if so. Pure. */
export function tokenShape(token: string): TokenShape {
  const a = token.indexOf('.');
  const b = a === -1 ? -1 : token.indexOf('.', a + 1);
  if (b === -1 || token.indexOf('.', b + 1) !== -1)
    return { ok: false, reason: 'not a ServiceAccount token (a JWT has three parts)' };
  const header = token.slice(0, a);
  const payload = token.slice(a + 1, b);
  const signature = token.slice(b + 1);
  if (!BASE64URL.test(header) || !BASE64URL.test(payload) || !BASE64URL.test(signature))
    return { ok: false, reason: 'not a ServiceAccount token (parts are not base64url)' };
  const h = jsonObject(header);
  if (!h || typeof h.alg !== 'string') return { ok: false, reason: 'not a ServiceAccount token (no JWT header)' };
  const claims = jsonObject(payload);
  if (!claims) return { ok: false, reason: 'not a ServiceAccount token (no JWT claims)' };
  if (claims.exp !== undefined && typeof claims.exp !== 'number')
    return { ok: false, reason: 'not a ServiceAccount token (exp is not a number)' };
  return { ok: true, claims: claims };
}

function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
