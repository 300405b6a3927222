// The connectors-csi node driver: CSI Identity and Node services over a unix socket (csi.proto).
//
// NodePublishVolume for an ephemeral inline volume:
//   1. argument presence (volume_id, target_path, volume_capability) — before anything else, as csi-sanity
//      expects; then ephemeral-only, mount access type only, readOnly required;
//   2. volume attributes (attributes.ts), the multi-connector feature flag;
//   3. per Connector: scope (core/connector), existence, class, proxy address — from watched caches, with a live GET
//      on a cache miss so a Connector created a moment ago is found;
//   4. with approval active, the approval gate (approval.ts): wait, refuse, or only .error.json;
//   5. the token (token.ts), the proxy CA, rendering (render.ts) — all in memory;
//   6. only then the mount (mounter.ts) and the atomic write (atomicwriter.ts). A failure in 6 on a first
//      publish unmounts again, so a failed publish leaves nothing at the target path. A republish
//      (requiresRepublish, or a retry) of a mounted volume rewrites its files atomically, never the mount.
// Nothing from volume_context or secrets is logged except the pod's identity and the connector names.
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { KubeConfig, V1ConfigMap, V1Namespace } from '@kubernetes/client-node';
import {
  PROXY_AUDIENCE,
  PROXY_CA_NAME,
  PROXY_SERVICE_NAME,
  PROXY_TLS_CONFIGMAP,
  type Connector,
  type ConnectorClass,
} from '../core/api/index.ts';
import { checkScope } from '../core/connector/index.ts';
import { startInformer, type Informer } from '../core/kube/reflector.ts';
import { collectionPath } from '../core/kube/resources.ts';
import { kubeRest, KubeApiError, type KubeRest } from '../core/kube/rest.ts';
import { watchFeatureFlags, type FeatureFlags } from '../core/kube/featureflags.ts';
import { systemNamespace as defaultSystemNamespace } from '../core/kube/config.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import { counter, histogram } from '../core/observability/metrics.ts';
import { caBundle, proxyTlsOf, tlsBaseURL, withTlsAddress } from './tls.ts';
import { KEYS, parseVolumeRequest, type ConnectorRef } from './attributes.ts';
import {
  CsiError,
  codeName,
  failedPrecondition,
  internal,
  invalidArgument,
  notFound,
  permissionDenied,
  unavailable,
} from './errors.ts';
import { mounterFor, type Mounter } from './mounter.ts';
import { renderVolume, unknownConfigurations, type ResolvedConnector } from './render.ts';
import { TokenSource } from './token.ts';
import { writeFileSet } from './atomicwriter.ts';
import { MountApproval } from './approval.ts';

export const DRIVER_NAME = 'connectors-csi';
export const MULTI_CONNECTOR_FLAG = 'enable-multi-connector';

const PROTO_PATH = fileURLToPath(new URL('./csi.proto', import.meta.url));
const VERSION = (() => {
  try {
    return (
      JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '0.0.0';
  }
})();

export interface CsiDriverOptions {
  /** unix:///csi/csi.sock, unix:/csi/csi.sock or a path. */
  endpoint: string;
  nodeId: string;
  /** Base URL of the forward proxy for http.proxy/.env; default http://connectors-proxy-service.<system ns>.svc.cluster.local. */
  proxyURL?: string;
  systemNamespace?: string;
  /** tmpfs (needs CAP_SYS_ADMIN), dir, auto (default: tmpfs when possible) or a Mounter. */
  mounter?: 'auto' | 'tmpfs' | 'dir' | Mounter;
  /** Feature flags; default: watched from the ConfigMap connectors-config of the system namespace. */
  flags?: FeatureFlags;
  /** How long a publish waits for the first list of the caches (ms). */
  syncTimeoutMs?: number;
  log?: Logger;
}

export interface CsiDriver {
  endpoint: string;
  mounter: Mounter;
  /** Resolves when the caches have their first list. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

interface VolumeCapabilityMsg {
  access_type?: 'block' | 'mount';
  block?: object | null;
  mount?: object | null;
}

interface PublishRequest {
  volume_id: string;
  target_path: string;
  staging_target_path: string;
  volume_capability: VolumeCapabilityMsg | null;
  readonly: boolean;
  secrets: Record<string, string>;
  volume_context: Record<string, string>;
  publish_context: Record<string, string>;
}

interface UnpublishRequest {
  volume_id: string;
  target_path: string;
}

/** Path of a unix socket endpoint. */
export function socketPath(endpoint: string): string {
  let p = endpoint;
  if (p.startsWith('unix://')) p = p.slice('unix://'.length);
  else if (p.startsWith('unix:')) p = p.slice('unix:'.length);
  if (!p) throw new Error(`invalid CSI endpoint ${JSON.stringify(endpoint)}: use unix:///path/to/csi.sock`);
  return isAbsolute(p) ? p : resolve(p);
}

class Locks {
  private readonly tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => (timer = setTimeout(() => reject(unavailable(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export class NodeServer {
  private readonly rest: KubeRest;
  private readonly connectors: Informer<Connector>;
  private readonly classes: Informer<ConnectorClass>;
  private readonly namespaces: Informer<V1Namespace>;
  private readonly caConfigMaps: Informer<V1ConfigMap>;
  /** ConfigMap connectors-proxy-tls: the proxy's TLS listener, when it has one (csi/tls.ts). */
  private readonly tlsConfigMaps: Informer<V1ConfigMap>;
  private readonly flags: FeatureFlags;
  private readonly tokens: TokenSource;
  private readonly approval: MountApproval;
  private readonly locks = new Locks();
  private readonly log: Logger;
  readonly mounter: Mounter;
  readonly nodeId: string;
  readonly systemNamespace: string;
  readonly proxyURL: string;
  readonly synced: Promise<void>;
  private isSynced = false;
  private readonly syncTimeoutMs: number;
  private readonly published = new Map<string, string>(); // target → pod uid

  constructor(kc: KubeConfig, rest: KubeRest, mounter: Mounter, opts: CsiDriverOptions) {
    this.rest = rest;
    this.mounter = mounter;
    this.nodeId = opts.nodeId;
    this.log = opts.log ?? createLogger('csi');
    this.systemNamespace = opts.systemNamespace ?? defaultSystemNamespace();
    this.proxyURL = (opts.proxyURL ?? `http://${PROXY_SERVICE_NAME}.${this.systemNamespace}.svc.cluster.local`).replace(
      /\/+$/,
      '',
    );
    new URL(this.proxyURL); // throws on a bad --proxy-url
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 30_000;
    this.connectors = startInformer<Connector>(kc, collectionPath('Connector'), { log: this.log });
    this.classes = startInformer<ConnectorClass>(kc, collectionPath('ConnectorClass'), { log: this.log });
    this.namespaces = startInformer<V1Namespace>(kc, '/api/v1/namespaces', { log: this.log });
    this.caConfigMaps = startInformer<V1ConfigMap>(kc, `/api/v1/namespaces/${this.systemNamespace}/configmaps`, {
      fieldSelector: `metadata.name=${PROXY_CA_NAME}`,
      log: this.log,
    });
    this.tlsConfigMaps = startInformer<V1ConfigMap>(kc, `/api/v1/namespaces/${this.systemNamespace}/configmaps`, {
      fieldSelector: `metadata.name=${PROXY_TLS_CONFIGMAP}`,
      log: this.log,
    });
    this.flags = opts.flags ?? watchFeatureFlags(kc, this.systemNamespace, this.log);
    this.tokens = new TokenSource(rest, { audience: PROXY_AUDIENCE });
    this.approval = new MountApproval(rest, this.flags, this.log);
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

  async stop(): Promise<void> {
    await Promise.allSettled([
      this.connectors.stop(),
      this.classes.stop(),
      this.namespaces.stop(),
      this.caConfigMaps.stop(),
      this.tlsConfigMaps.stop(),
      this.flags.stop(),
    ]);
  }

  // ---- Identity

  getPluginInfo(): unknown {
    return { name: DRIVER_NAME, vendor_version: VERSION, manifest: {} };
  }

  getPluginCapabilities(): unknown {
    return { capabilities: [] }; // node-only: no CONTROLLER_SERVICE, no topology
  }

  probe(): unknown {
    return { ready: { value: this.isSynced } };
  }

  // ---- Node

  nodeGetInfo(): unknown {
    return { node_id: this.nodeId, max_volumes_per_node: 0 };
  }

  nodeGetCapabilities(): unknown {
    return { capabilities: [] };
  }

  async nodePublishVolume(req: PublishRequest): Promise<unknown> {
    const started = performance.now();
    if (!req.volume_id) throw invalidArgument('volume_id is required');
    if (!req.target_path) throw invalidArgument('target_path is required');
    if (!req.volume_capability) throw invalidArgument('volume_capability is required');
    if (req.volume_capability.block || req.volume_capability.access_type === 'block')
      throw invalidArgument('block volumes are not supported: connectors-csi provides mount volumes');
    const ctx = req.volume_context ?? {};
    if (ctx[KEYS.ephemeral] !== 'true') {
      throw invalidArgument(
        `only ephemeral inline volumes are supported (volume_context ${KEYS.ephemeral}="true"): use a csi volume in the Pod spec with driver ${DRIVER_NAME}`,
      );
    }
    if (!req.readonly)
      throw invalidArgument(`readOnly must be true: set readOnly: true on the csi volume of driver ${DRIVER_NAME}`);
    const target = resolve(req.target_path);
    const vreq = parseVolumeRequest(ctx, req.secrets ?? {}, PROXY_AUDIENCE);
    if (!this.isSynced)
      await withTimeout(
        this.synced,
        this.syncTimeoutMs,
        'the driver has not yet listed Connectors and ConnectorClasses; retry',
      );
    // After the sync: a fresh driver (or `connectors render`) has not read the flags before its first list.
    if (vreq.connectors.length > 1 && !this.flags.enabled(MULTI_CONNECTOR_FLAG)) {
      throw failedPrecondition(
        `several connectors in one volume (${vreq.connectors.map((c) => `${c.namespace}/${c.name}`).join(', ')}) need the feature flag ${MULTI_CONNECTOR_FLAG}: ` +
          `set ${MULTI_CONNECTOR_FLAG}: "true" in ConfigMap connectors-config of namespace ${this.systemNamespace}, or mount one connector per volume`,
      );
    }

    const resolved: ResolvedConnector[] = [];
    const labelsOf = async (name: string) => (await this.namespace(name))?.metadata?.labels;
    for (const ref of vreq.connectors) {
      const scope = await checkScope('a Pod', vreq.pod.namespace, ref, labelsOf);
      if (!scope.allowed) throw permissionDenied(`permission denied: ${scope.message}`);
      resolved.push(await this.resolveConnector(ref, vreq.pod.namespace));
    }
    const unknown = unknownConfigurations(resolved, vreq.includes);
    if (unknown.length && unknown.length < vreq.includes.length)
      this.log.warn('configurations not found, skipped', {
        pod: `${vreq.pod.namespace}/${vreq.pod.name}`,
        configurations: unknown,
        classes: [...new Set(resolved.map((r) => r.cls.metadata.name))],
      });
    // With approval active: wait (Unavailable), refuse, or mount only .error.json when rejected.
    const rejected = await this.approval.gateMount(vreq);
    const token = rejected ? undefined : await this.tokens.token(vreq);
    let caCert = this.caConfigMaps.get(PROXY_CA_NAME, this.systemNamespace)?.data?.['ca.crt'] ?? '';
    let forwardProxyURL = this.proxyURL;
    let connectors = resolved;
    const tls = proxyTlsOf(this.tlsConfigMaps.get(PROXY_TLS_CONFIGMAP, this.systemNamespace)?.data);
    if (tls) {
      forwardProxyURL = tlsBaseURL(this.proxyURL, tls);
      caCert = caBundle(tls, caCert);
      connectors = resolved.map((r) => ({ ...r, connector: withTlsAddress(r.connector, r.cls, forwardProxyURL, tls) }));
    }
    const files =
      rejected ??
      renderVolume({
        connectors,
        includes: vreq.includes,
        excludes: vreq.excludes,
        params: vreq.params,
        token: token!.token,
        caCert,
        forwardProxyURL,
      });

    const changed = await this.locks.run(target, async () => {
      const wasMounted = await this.mounter.isMounted(target);
      const existed =
        wasMounted ||
        (await stat(target).then(
          () => true,
          () => false,
        ));
      try {
        await mkdir(dirname(target), { recursive: true });
        await this.mounter.mount(target);
        const wrote = await writeFileSet(target, files);
        this.published.set(target, vreq.pod.uid);
        return wrote;
      } catch (err) {
        if (!wasMounted) {
          // A failed first publish leaves nothing behind: no mount, and no directory we created.
          await this.mounter
            .unmount(target)
            .catch((e) => this.log.warn('cleanup after failed publish', { target, error: (e as Error).message }));
          if (!existed) await rm(target, { recursive: true, force: true }).catch(() => {});
        }
        throw internal(`failed to write volume at ${target}: ${(err as Error).message}`);
      }
    });
    this.log.info(changed ? 'volume published' : 'volume up to date', {
      volumeId: req.volume_id,
      target,
      pod: `${vreq.pod.namespace}/${vreq.pod.name}`,
      connectors: vreq.connectors.map((c) => `${c.namespace}/${c.name}`),
      files: [...files.keys()],
      issuer: token?.source ?? 'none (approval rejected)',
      mounter: this.mounter.kind,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return {};
  }

  async nodeUnpublishVolume(req: UnpublishRequest): Promise<unknown> {
    if (!req.volume_id) throw invalidArgument('volume_id is required');
    if (!req.target_path) throw invalidArgument('target_path is required');
    const target = resolve(req.target_path);
    await this.locks.run(target, async () => {
      try {
        await this.mounter.unmount(target);
      } catch (err) {
        throw internal(`failed to unmount ${target}: ${(err as Error).message}`);
      }
    });
    const uid = this.published.get(target);
    this.published.delete(target);
    if (uid && ![...this.published.values()].includes(uid)) this.tokens.forgetPod(uid);
    this.log.info('volume unpublished', { volumeId: req.volume_id, target });
    return {};
  }

  // ---- lookups: cache first, live GET on a miss

  private async live<T>(path: string): Promise<T | undefined> {
    try {
      return await this.rest.call<T>('GET', path);
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
      throw unavailable(`reading ${path}: ${(err as Error).message}`);
    }
  }

  private async namespace(name: string): Promise<V1Namespace | undefined> {
    return (
      this.namespaces.get(name) ?? (await this.live<V1Namespace>(`/api/v1/namespaces/${encodeURIComponent(name)}`))
    );
  }

  private async resolveConnector(ref: ConnectorRef, podNamespace: string): Promise<ResolvedConnector> {
    const connector =
      this.connectors.get(ref.name, ref.namespace) ??
      (await this.live<Connector>(`${collectionPath('Connector', ref.namespace)}/${encodeURIComponent(ref.name)}`));
    const shown = ref.namespace === podNamespace ? ref.name : `${ref.namespace}/${ref.name}`;
    if (!connector) throw notFound(`connector "${shown}" not found`);
    const className = connector.spec.connectorClassName;
    const cls =
      this.classes.get(className) ??
      (await this.live<ConnectorClass>(`${collectionPath('ConnectorClass')}/${encodeURIComponent(className)}`));
    if (!cls) throw failedPrecondition(`connectorclass "${className}" of connector "${shown}" not found`);
    if (cls.spec?.proxy && !connector.status?.proxy?.httpAddress?.url) {
      throw unavailable(
        `connector "${shown}" has no proxy address yet (status.proxy.httpAddress.url); is the connectors controller running?`,
      );
    }
    return { connector, cls };
  }
}

function unary<Req>(log: Logger, method: string, fn: (req: Req) => unknown | Promise<unknown>) {
  return (call: Call<Req>, callback: Callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          const e = err instanceof CsiError ? err : internal((err as Error)?.message ?? String(err));
          const req = call.request as { volume_id?: string; target_path?: string };
          log.warn(`${method} failed`, {
            code: codeName(e.code),
            error: e.message,
            volumeId: req?.volume_id,
            target: req?.target_path,
          });
          callback({ code: e.code, details: e.message, metadata: new grpc.Metadata() } as grpc.ServiceError, null);
        },
      );
  };
}

export async function startCsiDriver(kc: KubeConfig, opts: CsiDriverOptions): Promise<CsiDriver> {
  if (!opts.nodeId) throw new Error('a node id is required (--node-id)');
  const log = opts.log ?? createLogger('csi');
  const path = socketPath(opts.endpoint);
  const mounter = typeof opts.mounter === 'object' ? opts.mounter : await mounterFor(opts.mounter ?? 'auto');
  const rest = await kubeRest(kc);
  const node = new NodeServer(kc, rest, mounter, { ...opts, log });

  const definition = protoLoader.loadSync(PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const csi = (grpc.loadPackageDefinition(definition) as any).csi.v1;
  const server = new grpc.Server();
  const unimplemented = (name: string) => (_call: Call<unknown>, cb: Callback) =>
    cb(
      {
        code: grpc.status.UNIMPLEMENTED,
        details: `${name} is not implemented by ${DRIVER_NAME} (ephemeral inline volumes only)`,
      } as grpc.ServiceError,
      null,
    );
  const publishSeconds = histogram(
    'connectors_csi_publish_duration_seconds',
    'NodePublishVolume duration by gRPC code.',
    ['code'],
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  );
  const calls = counter('connectors_csi_calls_total', 'CSI calls by method and gRPC code.', ['method', 'code']);
  const timed =
    <Req>(method: string, fn: (req: Req) => Promise<unknown> | unknown) =>
    async (req: Req) => {
      const t = performance.now();
      let code = 'OK';
      try {
        return await fn(req);
      } catch (err) {
        code = err instanceof CsiError ? codeName(err.code) : 'Internal';
        throw err;
      } finally {
        calls.inc({ method, code });
        if (method === 'NodePublishVolume') publishSeconds.observe({ code }, (performance.now() - t) / 1000);
      }
    };

  server.addService(csi.Identity.service, {
    GetPluginInfo: unary(log, 'GetPluginInfo', () => node.getPluginInfo()),
    GetPluginCapabilities: unary(log, 'GetPluginCapabilities', () => node.getPluginCapabilities()),
    Probe: unary(log, 'Probe', () => node.probe()),
  });
  server.addService(csi.Node.service, {
    NodeStageVolume: unimplemented('NodeStageVolume'),
    NodeUnstageVolume: unimplemented('NodeUnstageVolume'),
    NodeGetVolumeStats: unimplemented('NodeGetVolumeStats'),
    NodeExpandVolume: unimplemented('NodeExpandVolume'),
    NodePublishVolume: unary(
      log,
      'NodePublishVolume',
      timed('NodePublishVolume', (r: PublishRequest) => node.nodePublishVolume(r)),
    ),
    NodeUnpublishVolume: unary(
      log,
      'NodeUnpublishVolume',
      timed('NodeUnpublishVolume', (r: UnpublishRequest) => node.nodeUnpublishVolume(r)),
    ),
    NodeGetCapabilities: unary(log, 'NodeGetCapabilities', () => node.nodeGetCapabilities()),
    NodeGetInfo: unary(log, 'NodeGetInfo', () => node.nodeGetInfo()),
  });

  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true }); // a socket left by a previous run
  try {
    await new Promise<void>((ok, fail) =>
      server.bindAsync(`unix:${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? fail(err) : ok())),
    );
  } catch (err) {
    await node.stop();
    await rest.close();
    throw err;
  }
  log.info('CSI driver listening', {
    endpoint: `unix://${path}`,
    nodeId: opts.nodeId,
    mounter: mounter.kind,
    proxyURL: node.proxyURL,
    systemNamespace: node.systemNamespace,
  });
  let stopped = false;
  return {
    endpoint: `unix://${path}`,
    mounter,
    synced: node.synced,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((ok) => server.tryShutdown(() => ok()));
      await node.stop();
      await rest.close();
      await rm(path, { force: true });
    },
  };
}
