// `spec.api.permissions.rego`: package `permissions`, decision `result.verb` ∈ read|write|delete|"".
// `""` (or an undefined result) means "fall back to the HTTP-method mapping". Input `{request}` (request.ts).
import { compileRego } from './compile.ts';
import type { PolicyOptions } from './generator.ts';
import { type Policy, evaluateAs, loadPolicy } from './policy.ts';
import type { RegoRequest } from './request.ts';

export const PERMISSIONS_ENTRYPOINT = 'permissions/result';
export const PERMISSIONS_FILE = 'permissions.rego';

export type PermissionVerb = 'read' | 'write' | 'delete' | '';
const VERBS: readonly PermissionVerb[] = ['read', 'write', 'delete', ''];

export class PermissionsPolicyError extends Error {
  override name = 'PermissionsPolicyError';
}

export function toPermissionVerb(result: unknown, file = PERMISSIONS_FILE): PermissionVerb {
  if (result === undefined) return '';
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new PermissionsPolicyError(`${file}: "result" must be an object {"verb": "read|write|delete"}`);
  }
  const verb = (result as Record<string, unknown>).verb;
  if (verb === undefined) return '';
  if (!VERBS.includes(verb as PermissionVerb)) {
    throw new PermissionsPolicyError(`${file}: verb ${JSON.stringify(verb)} is not one of read, write, delete or ""`);
  }
  return verb as PermissionVerb;
}

export interface PermissionsPolicy {
  readonly policy: Policy;
  verb(request: RegoRequest): PermissionVerb;
}

export async function permissionsPolicy(rego: string, opts: PolicyOptions = {}): Promise<PermissionsPolicy> {
  const compiled = await compileRego(rego, {
    ...opts.compile,
    entrypoint: PERMISSIONS_ENTRYPOINT,
    fileName: PERMISSIONS_FILE,
  });
  const policy = await loadPolicy(compiled, opts.load);
  return {
    policy,
    verb(request) {
      return toPermissionVerb(evaluateAs(policy, { request }, PERMISSIONS_FILE, PermissionsPolicyError));
    },
  };
}
