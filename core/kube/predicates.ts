// Predicates and mappings for declarative watches (manager.ts): which events of a watched resource reach a
// controller, and which keys they enqueue. Pure functions of the event.
import { labelMatcher } from './labels.ts';
import { objectKey } from './resources.ts';
import type { KubeObject } from './types.ts';

export type EventType = 'add' | 'update' | 'delete';

export interface WatchedEvent<T> {
  type: EventType;
  obj: T;
  /** The previous object of an update. */
  old?: T;
}

/** Whether an event passes. */
export type Predicate<T> = (ev: WatchedEvent<T>) => boolean;

const canonical = (v: Record<string, string> | undefined) =>
  JSON.stringify(Object.entries(v ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * Updates that change metadata.generation (the spec, for resources with a status subresource) pass; a
 * status write does not. Adds and deletes pass.
 */
export const generationChanged: Predicate<KubeObject> = (ev) =>
  ev.type !== 'update' || ev.obj.metadata?.generation !== ev.old?.metadata?.generation;

/** Updates that change an annotation pass; adds and deletes pass. */
export const annotationsChanged: Predicate<KubeObject> = (ev) =>
  ev.type !== 'update' || canonical(ev.obj.metadata?.annotations) !== canonical(ev.old?.metadata?.annotations);

/** Updates that change a label pass; adds and deletes pass. */
export const labelsChanged: Predicate<KubeObject> = (ev) =>
  ev.type !== 'update' || canonical(ev.obj.metadata?.labels) !== canonical(ev.old?.metadata?.labels);

/** Updates where `fingerprint` differs between the old and the new object pass; adds and deletes pass. */
export function changed<T>(fingerprint: (obj: T) => unknown): Predicate<T> {
  return (ev) =>
    ev.type !== 'update' ||
    ev.old === undefined ||
    JSON.stringify(fingerprint(ev.obj)) !== JSON.stringify(fingerprint(ev.old));
}

/** Events of objects whose labels match a selector (an update passes when the old or the new one matches). */
export function labelSelected(selector: string): Predicate<KubeObject> {
  const matches = labelMatcher(selector);
  return (ev) => matches(ev.obj.metadata?.labels) || (ev.old !== undefined && matches(ev.old.metadata?.labels));
}

/** Only these event types. */
export function onlyEvents<T>(...types: EventType[]): Predicate<T> {
  return (ev) => types.includes(ev.type);
}

export function anyOf<T>(...ps: Predicate<T>[]): Predicate<T> {
  return (ev) => ps.some((p) => p(ev));
}

export function allOf<T>(...ps: Predicate<T>[]): Predicate<T> {
  return (ev) => ps.every((p) => p(ev));
}

/** Maps an event's object to the keys of the objects to reconcile. */
export type KeyMapper<T> = (obj: T) => string[];

/** The object's own key (`ns/name` or `name`). */
export const ownKey: KeyMapper<KubeObject> = (obj) => [objectKey(obj)];

/**
 * The keys of the owners of `kind` in metadata.ownerReferences (namespaced owners share the object's
 * namespace, as Kubernetes requires): "when a Service changes, reconcile the Connector that owns it".
 */
export function ownerKeys(kind: string, o: { controllerOnly?: boolean } = {}): KeyMapper<KubeObject> {
  return (obj) =>
    (obj.metadata?.ownerReferences ?? [])
      .filter((r) => r.kind === kind && (!o.controllerOnly || r.controller))
      .map((r) => (obj.metadata?.namespace ? `${obj.metadata.namespace}/${r.name}` : r.name));
}
