// Feature flags: the ConfigMap connectors-config in the system namespace, values the strings "true"/"false",
// all off by default (also while the ConfigMap does not exist). Read from a watched cache, so flipping a
// flag takes effect without a restart.
//
// Changes are delivered by value, not by event: a subscriber is told which flags differ from what it saw
// last, and a new subscriber has seen every flag off, so flags that were on before it subscribed (before
// the process started, or before the first list finished) are reported to it like any change. A consumer
// cannot miss a flag by subscribing late.
import { FEATURE_FLAGS, FEATURE_FLAGS_CONFIGMAP, type FeatureFlag } from '../api/keys.ts';
import type { Informer } from './informer.ts';
import type { ConfigMap } from './types.ts';

export type FlagValues = Record<FeatureFlag, string>;

export interface FeatureFlags {
  enabled(flag: FeatureFlag): boolean;
  all(): FlagValues;
  /**
   * Calls `cb` with the flags whose value differs from what this subscriber saw last (at first: every flag
   * off). Flags already on are reported at once when the cache has synced. Returns an unsubscribe function.
   */
  onChange(cb: (changed: FeatureFlag[]) => void): () => void;
  synced: Promise<void>;
  hasSynced(): boolean;
  stop(): Promise<void>;
}

/** Pure: the flag values a ConfigMap's data gives. */
export function flagsFromData(data: Record<string, string> | undefined): FlagValues {
  const out = {} as FlagValues;
  for (const flag of FEATURE_FLAGS) out[flag] = data?.[flag]?.trim().toLowerCase() === 'true' ? 'true' : 'false';
  return out;
}

/** Pure: the flags whose values differ. */
export function changedFlags(before: FlagValues, after: FlagValues): FeatureFlag[] {
  return FEATURE_FLAGS.filter((f) => before[f] !== after[f]);
}

const ALL_OFF = flagsFromData(undefined);

/** Feature flags over a cache view holding (at most) the flags ConfigMap of `namespace`. */
export function featureFlags(view: Informer<ConfigMap>, namespace: string): FeatureFlags {
  // enabled() is on request paths: the values are computed again only when the cached ConfigMap changes.
  let seen: { data: Record<string, string> | undefined; flags: FlagValues } | undefined;
  const current = (): FlagValues => {
    const data = view.get(FEATURE_FLAGS_CONFIGMAP, namespace)?.data;
    if (!seen || seen.data !== data) seen = { data, flags: flagsFromData(data) };
    return seen.flags;
  };
  const subscribers = new Map<(changed: FeatureFlag[]) => void, FlagValues>();
  const deliver = () => {
    if (!view.hasSynced()) return;
    const now = current();
    for (const [cb, last] of subscribers) {
      const changed = changedFlags(last, now);
      if (!changed.length) continue;
      subscribers.set(cb, now);
      try {
        cb(changed);
      } catch {
        // a subscriber's failure is its own
      }
    }
  };
  view.addHandler({ add: deliver, update: deliver, delete: deliver });
  void view.synced.then(deliver);
  return {
    enabled: (flag) => current()[flag] === 'true',
    all: () => ({ ...current() }),
    onChange(cb) {
      subscribers.set(cb, ALL_OFF);
      deliver();
      return () => void subscribers.delete(cb);
    },
    synced: view.synced,
    hasSynced: () => view.hasSynced(),
    async stop() {
      subscribers.clear();
      await view.stop();
    },
  };
}
