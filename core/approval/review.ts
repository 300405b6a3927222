// The SubjectAccessReview the CSI driver asks before mounting a Connector when approval is active: may the
// Pod's ServiceAccount use the Connector through the proxy — `*` on connectors/proxy, or on the pod-bound
// connectors/proxy/v1/pod/<podNs>/<pod> that an approved AccessRequest grants.
import { GROUP } from '../api/keys.ts';
import type { KubeRest } from '../kube/rest.ts';
import { resourcePath, resources } from '../kube/resources.ts';

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** The groups every token of a ServiceAccount carries, so that RBAC bindings to them count in the review. */
export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'];
}

/** The review's body (pure). */
export function proxyAccessReview(
  sa: ServiceAccountRef,
  connector: { namespace: string; name: string },
  subresource: string,
): Record<string, unknown> {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: `system:serviceaccount:${sa.namespace}:${sa.name}`,
      groups: serviceAccountGroups(sa.namespace),
      resourceAttributes: {
        group: GROUP,
        resource: 'connectors',
        subresource,
        namespace: connector.namespace,
        name: connector.name,
        verb: '*',
      },
    },
  };
}

export async function mayUseProxy(
  rest: KubeRest,
  sa: ServiceAccountRef,
  connector: { namespace: string; name: string },
  subresource: string,
): Promise<boolean> {
  const review = await rest.call<{ status?: { allowed?: boolean } }>(
    'POST',
    resourcePath(resources.SubjectAccessReview),
    { body: proxyAccessReview(sa, connector, subresource) },
  );
  return review.status?.allowed === true;
}
