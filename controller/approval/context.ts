// What the approval reconcilers share: caches, writers and settings.
import type { AccessPolicy, AccessRequest, Connector } from '../../core/api/index.ts';
import type { Informer } from '../../core/kube/informer.ts';
import type { KubeRest } from '../../core/kube/rest.ts';
import type { EventRecorder } from '../../core/kube/events.ts';
import type { Logger } from '../../core/observability/log.ts';
import type { RbacWriter } from './rbac.ts';
import type { CheckObjects, PodStore } from './watched.ts';

export interface NamespaceObject {
  metadata: { name?: string; labels?: Record<string, string> };
}

export interface TemplateMap {
  metadata: { name?: string; namespace?: string };
  data?: Record<string, string>;
}

export interface ApprovalCtx {
  rest: KubeRest;
  log: Logger;
  recorder: EventRecorder;
  systemNamespace: string;
  connectors: Informer<Connector>;
  policies: Informer<AccessPolicy>;
  requests: Informer<AccessRequest>;
  namespaces: Informer<NamespaceObject>;
  /** ConfigMaps of the system namespace (role and check templates). */
  templates: Informer<TemplateMap>;
  pods: PodStore;
  checkObjects: CheckObjects;
  rbac: RbacWriter;
  /** How long an ended AccessRequest is kept before it is deleted (Infinity: kept). */
  requestTtlMs: number;
  now(): Date;
}

/** The data of a template ConfigMap of the system namespace. */
export function templateData(ctx: ApprovalCtx, name: string): Record<string, string> | undefined {
  const cm = ctx.templates.get(name, ctx.systemNamespace);
  return cm ? (cm.data ?? {}) : undefined;
}
