// The volume source of connectors-csi: what files a volume holds, from what kubelet sent
// (`resolve(request) → files`). It knows Connectors; it knows nothing of mounts or gRPC.
//
//   1 caches     wait (bounded) for the first list of the caches
//   2 flags      several Connectors in one volume need enable-multi-connector (read after the first list)
//   3 per Connector: scope (core/connector), then the Connector and its class from the caches (a live GET on
//                a miss, so a Connector created a moment ago is found), the proxy address present
//   4 gate       a check before anything is issued: the approval of the mount (approval.ts: allow, only
//                .error.json when rejected, Unavailable while pending), or another VolumeGate
//   5 token      kubelet's pod-bound token, or a TokenRequest bound to the Pod (token.ts)
//   6 render     built-in files + class configurations (render.ts), on the proxy's TLS listener when it
//                publishes one (tls.ts); unknown configuration names are skipped and logged, none found →
//                NotFound
import type { Connector, ConnectorClass } from '../core/api/index.ts';
import { PROXY_AUDIENCE, PROXY_CA_NAME, PROXY_SERVICE_NAME, PROXY_TLS_CONFIGMAP } from '../core/api/keys.ts';
import { checkScope, refString } from '../core/connector/index.ts';
import { isNotFound } from '../core/kube/client.ts';
import type { FeatureFlags } from '../core/kube/featureflags.ts';
import type { Informer } from '../core/kube/informer.ts';
import type { Manager } from '../core/kube/manager.ts';
import { resources, type ObjectOf, type ResourceType } from '../core/kube/resources.ts';
import type { ConfigMap, Namespace } from '../core/kube/types.ts';
import type { Logger } from '../core/observability/log.ts';
import type { ConnectorRef, VolumeRequest } from './attributes.ts';
import { failedPrecondition, notFound, permissionDenied, unavailable } from './errors.ts';
import { renderVolume, unknownConfigurations, type ResolvedConnector } from './render.ts';
import { TokenSource, type ProxyToken } from './token.ts';
import { caBundle, proxyTlsOf, tlsBaseURL, withTlsAddress } from './tls.ts';

export const MULTI_CONNECTOR_FLAG = 'enable-multi-connector';

/** A volume's files and what they were made from (for the log line of the publish). */
export interface Volume {
  files: Map<string, string>;
  connectors: string[];
  /** Where the token came from (kubelet, tokenrequest), or why there is none. */
  issuer: string;
}

/** What the node service asks of a volume source. */
export interface VolumeSource {
  /** The files of the volume; throws a CsiError kubelet reports (and retries). */
  resolve(req: VolumeRequest): Promise<Volume>;
  /** Forget what was issued for a Pod whose last volume is gone (its cached tokens). */
  forgetPod(uid: string): void;
  /** Whether the source can serve (its caches have listed): the Probe answer. */
  ready(): boolean;
}

/**
 * A check between resolving a volume's Connectors and issuing anything for them (the approval of a mount
 * plugs in here): undefined → render the volume as usual; a file set → mount exactly these files instead
 * (e.g. only `.error.json` for a rejected request); throw a CsiError to refuse the mount or make kubelet
 * retry it (Unavailable while a decision is pending).
 */
export type VolumeGate = (
  req: VolumeRequest,
  connectors: ResolvedConnector[],
) => Promise<Map<string, string> | undefined>;

export interface ConnectorSourceOptions {
  systemNamespace: string;
  /** Base URL of the forward proxy for http.proxy/.env; default http://connectors-proxy-service.<system ns>.svc.cluster.local. */
  proxyURL?: string;
  /** How long a publish waits for the first list of the caches (ms, default 30 s). */
  syncTimeoutMs?: number;
  gate?: VolumeGate;
  log: Logger;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => (timer = setTimeout(() => reject(unavailable(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export class ConnectorSource implements VolumeSource {
  readonly proxyURL: string;
  readonly systemNamespace: string;
  private readonly mgr: Manager;
  private readonly connectors: Informer<Connector>;
  private readonly classes: Informer<ConnectorClass>;
  private readonly namespaces: Informer<Namespace>;
  private readonly caConfigMaps: Informer<ConfigMap>;
  /** ConfigMap connectors-proxy-tls: the proxy's TLS listener, when it has one (tls.ts). */
  private readonly tlsConfigMaps: Informer<ConfigMap>;
  private readonly flags: FeatureFlags;
  private readonly tokens: TokenSource;
  private readonly gate: VolumeGate | undefined;
  private readonly syncTimeoutMs: number;
  private readonly log: Logger;
  private readonly synced: Promise<void>;
  private isSynced = false;

  constructor(mgr: Manager, opts: ConnectorSourceOptions) {
    this.mgr = mgr;
    this.log = opts.log;
    this.systemNamespace = opts.systemNamespace;
    this.proxyURL = (opts.proxyURL ?? `http://${PROXY_SERVICE_NAME}.${this.systemNamespace}.svc.cluster.local`).replace(
      /\/+$/,
      '',
    );
    new URL(this.proxyURL); // throws on a bad --proxy-url
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 30_000;
    this.gate = opts.gate;
    this.connectors = mgr.informer(resources.Connector);
    this.classes = mgr.informer(resources.ConnectorClass);
    this.namespaces = mgr.informer(resources.Namespace);
    this.caConfigMaps = mgr.informer(resources.ConfigMap, {
      namespace: this.systemNamespace,
      fieldSelector: `metadata.name=${PROXY_CA_NAME}`,
    });
    this.tlsConfigMaps = mgr.informer(resources.ConfigMap, {
      namespace: this.systemNamespace,
      fieldSelector: `metadata.name=${PROXY_TLS_CONFIGMAP}`,
    });
    this.flags = mgr.flags;
    this.tokens = new TokenSource(mgr.client, { audience: PROXY_AUDIENCE });
    this.synced = Promise.all([
      this.connectors.synced,
      this.classes.synced,
      this.namespaces.synced,
      this.caConfigMaps.synced,
      this.tlsConfigMaps.synced,
      this.flags.synced,
    ]).then(() => {
      this.isSynced = true;
    });
  }

  ready(): boolean {
    return this.isSynced;
  }

  whenSynced(): Promise<void> {
    return this.synced;
  }

  forgetPod(uid: string): void {
    this.tokens.forgetPod(uid);
  }

  async resolve(req: VolumeRequest): Promise<Volume> {
    const names = req.connectors.map(refString);
    if (!this.isSynced)
      await withTimeout(
        this.synced,
        this.syncTimeoutMs,
        'the driver has not yet listed Connectors and ConnectorClasses; retry',
      );
    // After the sync: a fresh driver (or `connectors render`) has not read the flags before its first list.
    if (req.connectors.length > 1 && !this.flags.enabled(MULTI_CONNECTOR_FLAG)) {
      throw failedPrecondition(
        `several connectors in one volume (${names.join(', ')}) need the feature flag ${MULTI_CONNECTOR_FLAG}: ` +
          `set ${MULTI_CONNECTOR_FLAG}: "true" in ConfigMap connectors-config of namespace ${this.systemNamespace}, or mount one connector per volume`,
      );
    }

    const resolved: ResolvedConnector[] = [];
    const labelsOf = async (name: string) =>
      (await this.cachedOrLive(this.namespaces, resources.Namespace, name))?.metadata?.labels;
    for (const ref of req.connectors) {
      const scope = await checkScope('a Pod', req.pod.namespace, ref, labelsOf);
      if (!scope.allowed) throw permissionDenied(`permission denied: ${scope.message}`);
      resolved.push(await this.resolveConnector(ref, req.pod.namespace));
    }
    const unknown = unknownConfigurations(resolved, req.includes);
    if (unknown.length && unknown.length < req.includes.length)
      this.log.warn('configurations not found, skipped', {
        pod: `${req.pod.namespace}/${req.pod.name}`,
        configurations: unknown,
        classes: [...new Set(resolved.map((r) => r.cls.metadata.name))],
      });

    const instead = await this.gate?.(req, resolved);
    if (instead) return { files: instead, connectors: names, issuer: 'none (the gate decided the files)' };

    const token: ProxyToken = await this.tokens.token(req);
    let caCert = this.caConfigMaps.get(PROXY_CA_NAME, this.systemNamespace)?.data?.['ca.crt'] ?? '';
    let forwardProxyURL = this.proxyURL;
    let connectors = resolved;
    const tls = proxyTlsOf(this.tlsConfigMaps.get(PROXY_TLS_CONFIGMAP, this.systemNamespace)?.data);
    if (tls) {
      forwardProxyURL = tlsBaseURL(this.proxyURL, tls);
      caCert = caBundle(tls, caCert);
      connectors = resolved.map((r) => ({ ...r, connector: withTlsAddress(r.connector, r.cls, forwardProxyURL, tls) }));
    }
    const files = renderVolume({
      connectors,
      includes: req.includes,
      excludes: req.excludes,
      params: req.params,
      token: token.token,
      caCert,
      forwardProxyURL,
    });
    return { files, connectors: names, issuer: token.source };
  }

  /** From the cache, else a live GET (a cache miss may be an object created a moment ago). */
  private async cachedOrLive<R extends ResourceType>(
    informer: Informer<ObjectOf<R>>,
    r: R,
    name: string,
    namespace?: string,
  ): Promise<ObjectOf<R> | undefined> {
    const cached = informer.get(name, namespace);
    if (cached) return cached;
    try {
      return await this.mgr.client.find(r, name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw unavailable(`reading ${r.kind} ${namespace ? `${namespace}/` : ''}${name}: ${(err as Error).message}`);
    }
  }

  private async resolveConnector(ref: ConnectorRef, podNamespace: string): Promise<ResolvedConnector> {
    const connector = await this.cachedOrLive(this.connectors, resources.Connector, ref.name, ref.namespace);
    const shown = ref.namespace === podNamespace ? ref.name : `${ref.namespace}/${ref.name}`;
    if (!connector) throw notFound(`connector "${shown}" not found`);
    const className = connector.spec.connectorClassName;
    const cls = await this.cachedOrLive(this.classes, resources.ConnectorClass, className);
    if (!cls) throw failedPrecondition(`connectorclass "${className}" of connector "${shown}" not found`);
    if (cls.spec?.proxy && !connector.status?.proxy?.httpAddress?.url) {
      throw unavailable(
        `connector "${shown}" has no proxy address yet (status.proxy.httpAddress.url); is the connectors controller running?`,
      );
    }
    return { connector, cls };
  }
}
