// What credentials go into a request to the tool (pure). The Connector's Secret is resolved and decoded by
// core/connector (same-namespace rule; kubernetes.io/basic-auth → `Authorization: Basic`,
// connectors.cpaas.io/bearer-token → `Authorization: Bearer`); any other type goes through the class auth
// type's generator.rego (evaluated by the caller, see core/opa/policies.ts and inject-request.ts). No secretRef (an optional auth type) →
// nothing is injected.
import type { SecretLike } from '../kube/types.ts';
import type { Connector, ConnectorClass } from '../api/index.ts';
import { authorizationHeader, authTypeOf, credentialsOf, resolveSecret } from './index.ts';

// Address matching is core/connector's (address.ts); re-exported for the callers of this module.
export { matchTarget, originOf, pathPrefix, staysUnder, underPrefix } from './index.ts';

export type InjectionPlan =
  | { kind: 'none' }
  | { kind: 'headers'; headers: Record<string, string> }
  | { kind: 'generator'; rego: string; authType: string; data: Record<string, string> }
  | { kind: 'error'; message: string };

export function planInjection(
  connector: Connector,
  connectorClass: ConnectorClass | undefined,
  secret: SecretLike | undefined,
): InjectionPlan {
  const got = credentialsOf(resolveSecret(connector, () => secret));
  if (!got.ok) return { kind: 'error', message: got.message };
  const credentials = got.credentials;
  if (credentials.kind === 'anonymous') return { kind: 'none' };
  const authorization = authorizationHeader(credentials);
  if (authorization) return { kind: 'headers', headers: { authorization } };
  if (credentials.kind !== 'data') return { kind: 'none' };
  const authName = connector.spec.auth?.name;
  const rego = connectorClass ? authTypeOf(connector, connectorClass)?.generator?.rego : undefined;
  if (!rego) {
    const cls = connector.spec.connectorClassName;
    return {
      kind: 'error',
      message: connectorClass
        ? `auth type ${JSON.stringify(authName)} of connectorclass ${cls} has no generator.rego for secret type ${credentials.secretType}`
        : `connectorclass ${cls} not found: cannot inject a ${credentials.secretType} secret`,
    };
  }
  return { kind: 'generator', rego, authType: authName!, data: { ...credentials.data } };
}
