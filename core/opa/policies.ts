// generator.rego, authExtractor.rego and permissions.rego, evaluated in-process with opa-wasm. The proxy and
// the Connectors API never run opa: the
// controller compiles each policy once and stores the wasm in a content-addressed ConfigMap of the system
// namespace (core/opa/store.ts); the proxy reads it from its watched cache and keeps the loaded policy by
// ConfigMap name (content-addressed, so never stale).
import {
  GENERATOR_ENTRYPOINT,
  PolicyEvaluationError,
  AuthInjectionError,
  AuthExtractorError,
  generatorInput,
  loadPolicy,
  toAuthInjection,
  toExtractedToken,
  type AuthInjection,
  type Policy,
  type RegoRequest,
} from './index.ts';
import { AUTH_EXTRACTOR_ENTRYPOINT } from './extractor.ts';
import {
  PERMISSIONS_ENTRYPOINT,
  PERMISSIONS_FILE,
  PermissionsPolicyError,
  toPermissionVerb,
  type PermissionVerb,
} from './permissions.ts';
import { decodePolicyConfigMap, policyConfigMapName, PolicyConfigMapError } from './store.ts';

/** The compiled policy is not (yet) in the system namespace: the controller has not compiled it. */
export class PolicyNotReadyError extends Error {
  override name = 'PolicyNotReadyError';
}

/** Where compiled policies are found: the watched ConfigMaps of the system namespace. */
export interface PolicySource {
  systemConfigMap(
    name: string,
  ):
    | { metadata?: { name?: string; annotations?: Record<string, string> }; binaryData?: Record<string, string> }
    | undefined;
}

export class Policies {
  private readonly state: PolicySource;
  private readonly loaded = new Map<string, Promise<Policy>>();

  constructor(state: PolicySource) {
    this.state = state;
  }

  private async policy(source: string, entrypoint: string, what: string): Promise<Policy> {
    const name = policyConfigMapName(source, entrypoint);
    let p = this.loaded.get(name);
    if (!p) {
      const cm = this.state.systemConfigMap(name);
      if (!cm) throw new PolicyNotReadyError(`${what} is not compiled yet (ConfigMap ${name} not found)`);
      p = Promise.resolve()
        .then(() => loadPolicy(decodePolicyConfigMap(cm)))
        .catch((err) => {
          if (err instanceof PolicyConfigMapError) throw new PolicyNotReadyError(`${what}: ${err.message}`);
          throw err;
        });
      this.loaded.set(name, p);
      p.catch(() => this.loaded.delete(name));
      while (this.loaded.size > 256) this.loaded.delete(this.loaded.keys().next().value as string);
    }
    return p;
  }

  /** Throws PolicyNotReadyError or AuthInjectionError. */
  async generate(rego: string, data: Record<string, string>, request: RegoRequest): Promise<AuthInjection> {
    const policy = await this.policy(rego, GENERATOR_ENTRYPOINT, 'generator.rego');
    let result: unknown;
    try {
      result = policy.evaluate(generatorInput(data, request));
    } catch (err) {
      if (err instanceof PolicyEvaluationError)
        throw new AuthInjectionError(`generator.rego: evaluation failed: ${err.message}`);
      throw err;
    }
    return toAuthInjection(result);
  }

  /** The client token found by authExtractor.rego, '' when none. Throws PolicyNotReadyError or AuthExtractorError. */
  async extract(rego: string, request: RegoRequest): Promise<string> {
    const policy = await this.policy(rego, AUTH_EXTRACTOR_ENTRYPOINT, 'authExtractor.rego');
    let result: unknown;
    try {
      result = policy.evaluate({ request });
    } catch (err) {
      if (err instanceof PolicyEvaluationError)
        throw new AuthExtractorError(`authExtractor.rego: evaluation failed: ${err.message}`);
      throw err;
    }
    return toExtractedToken(result);
  }

  /**
   * The verb class of a request by `spec.api.permissions.rego` (read, write, delete, or '' for the HTTP method's
   * own). Throws PolicyNotReadyError or PermissionsPolicyError.
   */
  async permission(rego: string, request: RegoRequest): Promise<PermissionVerb> {
    const policy = await this.policy(rego, PERMISSIONS_ENTRYPOINT, 'permissions.rego');
    let result: unknown;
    try {
      result = policy.evaluate({ request });
    } catch (err) {
      if (err instanceof PolicyEvaluationError)
        throw new PermissionsPolicyError(`${PERMISSIONS_FILE}: evaluation failed: ${err.message}`);
      throw err;
    }
    return toPermissionVerb(result);
  }
}
