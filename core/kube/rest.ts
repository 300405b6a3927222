// The untyped form of the REST client (client.ts), for callers that still build paths themselves; new code
// uses KubeClient's typed calls on resource types.
import { kubeClient, type KubeAccess, type KubeRest } from './client.ts';

export { KubeApiError, type KubeRest } from './client.ts';

export function kubeRest(kc: KubeAccess): Promise<KubeRest> {
  // A bad kubeconfig rejects the promise rather than throwing synchronously.
  return new Promise((resolve) => resolve(kubeClient(kc)));
}
