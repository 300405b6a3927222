// Server-side apply of arbitrary objects (CRDs, built-in ConnectorClasses, system ConfigMaps), the way
// `kubectl apply --server-side --force-conflicts` does it, with one field manager for the project.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export const FIELD_MANAGER = 'connectors';

export async function applyObjects(kc: KubeConfig, objects: KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    const o = { ...obj, metadata: { ...obj.metadata } };
    delete (o.metadata as Record<string, unknown>).resourceVersion;
    await api.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }
}
