// Feature flags: the ConfigMap connectors-config in the system namespace, values the strings "true"/"false",
// all off by default. Read from a watched cache, so flipping a flag takes effect without a restart.
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { FEATURE_FLAGS, FEATURE_FLAGS_CONFIGMAP, type FeatureFlag } from '../api/index.ts';
import { startInformer, type Informer } from './reflector.ts';
import type { Logger } from '../observability/log.ts';

export interface FeatureFlags {
  enabled(flag: FeatureFlag): boolean;
  all(): Record<FeatureFlag, string>;
  synced: Promise<void>;
  stop(): Promise<void>;
}

/** Pure: the flag values a ConfigMap's data gives. */
export function flagsFromData(data: Record<string, string> | undefined): Record<FeatureFlag, string> {
  const out = {} as Record<FeatureFlag, string>;
  for (const flag of FEATURE_FLAGS) out[flag] = data?.[flag]?.trim().toLowerCase() === 'true' ? 'true' : 'false';
  return out;
}

export function watchFeatureFlags(kc: KubeConfig, namespace: string, log?: Logger): FeatureFlags {
  const cache: Informer<V1ConfigMap> = startInformer<V1ConfigMap>(kc, `/api/v1/namespaces/${namespace}/configmaps`, {
    fieldSelector: `metadata.name=${FEATURE_FLAGS_CONFIGMAP}`,
    log,
  });
  const all = () => flagsFromData(cache.get(FEATURE_FLAGS_CONFIGMAP, namespace)?.data);
  // enabled() is on request paths: the values are computed again only when the cached ConfigMap changes.
  let seen: { data: Record<string, string> | undefined; flags: Record<FeatureFlag, string> } | undefined;
  const enabled = (flag: FeatureFlag) => {
    const data = cache.get(FEATURE_FLAGS_CONFIGMAP, namespace)?.data;
    if (!seen || seen.data !== data) seen = { data, flags: flagsFromData(data) };
    return seen.flags[flag] === 'true';
  };
  return { all, enabled, synced: cache.synced, stop: () => cache.stop() };
}
