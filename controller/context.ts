// What both reconcilers share: the caches, the REST client, the event recorder and the settings.
import type { Connector, ConnectorClass, FeatureFlag } from '../core/api/index.ts';
import type { KubeClient } from '../core/kube/client.ts';
import type { Informer } from '../core/kube/informer.ts';
import type { EventRecorder } from '../core/kube/events.ts';
import type { ConfigMap, Service } from '../core/kube/types.ts';
import type { Logger } from '../core/observability/log.ts';
import type { SecretStore } from './secrets.ts';

export type ServiceObject = Service;
/** A compiled-policy ConfigMap as the controller caches it: metadata only. */
export type ConfigMapMeta = ConfigMap;

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
  client: KubeClient;
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
