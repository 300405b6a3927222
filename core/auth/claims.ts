// The claims of a ServiceAccount token read without verification, only to choose what to ask the apiserver.
/** The claims of a JWT, without verifying it (used only to pick the audience to ask TokenReview for). */
export function unverifiedClaims(token: string): { aud?: string | string[]; exp?: number } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' ? claims : undefined;
  } catch {
    return undefined;
  }
}
