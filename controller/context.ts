// What both reconcilers share: the caches, the REST client, the event recorder and the settings.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Connector, ConnectorClass, FeatureFlag } from '../core/api/index.ts';
import type { KubeRest } from '../core/kube/rest.ts';
import type { Informer } from '../core/kube/reflector.ts';
import type { EventRecorder } from '../core/kube/events.ts';
import type { Logger } from '../core/observability/log.ts';
import type { SecretStore } from './secrets.ts';

export interface ServiceObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }>;
  };
  spec?: { type?: string; externalName?: string; ports?: unknown[] };
}

export interface ConfigMapMeta {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }>;
  };
}

export interface Settings {
  systemNamespace: string;
  /** Re-probe period (default 5 min), ±10 % jitter. */
  probePeriodMs: number;
  /** An unchanged probe condition gets a fresh lastProbeTime only when the stored one is older than this. */
  probeTimeRefreshMs: number;
  /** Timeout of one probe (default 10 s). */
  probeTimeoutMs: number;
  /** Re-check period of failing probes (default min(period, 60 s)). */
  failedProbePeriodMs: number;
  /** PEM CA certificates trusted, besides the system ones, by the APIReady probe of class APIs (plugins). */
  pluginCAs?: string[];
}

export interface Ctx extends Settings {
  kc: KubeConfig;
  rest: KubeRest;
  log: Logger;
  recorder: EventRecorder;
  classes: Informer<ConnectorClass>;
  connectors: Informer<Connector>;
  services: Informer<ServiceObject>;
  policyMaps: Informer<ConfigMapMeta>;
  secrets: SecretStore;
  flag(name: FeatureFlag): boolean;
}

export const MANAGED_BY = 'connectors-controller';

/** period ± 10 %. */
export function jitter(ms: number, rand = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * rand()));
}
