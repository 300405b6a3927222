// Writing the status of an AccessPolicy or AccessRequest: only when something other than timestamps changed,
// through the status subresource, guarded by the resourceVersion read from the cache (a conflict retries
// the reconcile with fresh data).
import type { Condition } from '../../core/api/index.ts';
import { API_VERSION } from '../../core/api/keys.ts';
import { kindResource, resourcePath } from '../../core/kube/resources.ts';
import type { KubeRest } from '../../core/kube/rest.ts';
import type { KubeObject } from '../../core/kube/types.ts';
import { canonical, conditionsEqual, mergeConditions, type CondInput } from '../conditions.ts';

interface WithStatus {
  metadata: { name?: string; namespace?: string; resourceVersion?: string; generation?: number };
  status?: { conditions?: Condition[]; [k: string]: unknown };
}

/** The status to store: `next` conditions merged into the stored ones (transition times kept when unchanged). */
export function nextStatus(
  obj: WithStatus,
  conditions: CondInput[],
  fields: Record<string, unknown>,
  now: Date,
): { status: Record<string, unknown>; changed: boolean } {
  const generation = obj.metadata.generation;
  const merged = mergeConditions(obj.status?.conditions, conditions, { now, generation, probeTimeRefreshMs: 0 });
  const status: Record<string, unknown> = { ...(obj.status ?? {}), ...fields, conditions: merged };
  if (generation !== undefined) status.observedGeneration = generation;
  const { conditions: oldConds, ...oldRest } = obj.status ?? {};
  const newRest = { ...status };
  delete newRest.conditions;
  const changed = !conditionsEqual(oldConds, merged) || canonical(oldRest) !== canonical(newRest);
  return { status, changed };
}

/**
 * Writes the status and puts the written object into the cache at once, so the next reconcile of the same
 * object (often triggered by what this one created) does not start from the old resourceVersion.
 */
export async function writeStatus<T extends WithStatus & { apiVersion?: string; kind?: string; spec?: unknown }>(
  rest: KubeRest,
  kind: 'AccessPolicy' | 'AccessRequest',
  obj: T,
  status: Record<string, unknown>,
  cache: { upsert(raw: KubeObject): void },
): Promise<void> {
  const path = resourcePath(kindResource(kind), {
    namespace: obj.metadata.namespace,
    name: obj.metadata.name!,
    subresource: 'status',
  });
  // Listed items carry no apiVersion/kind; the PUT needs them.
  const written = await rest.call<KubeObject>('PUT', path, { body: { ...obj, apiVersion: API_VERSION, kind, status } });
  if (written?.metadata?.resourceVersion) cache.upsert(written);
}
