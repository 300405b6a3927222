// The connectors-csi node driver, in csi-lib's shape:
//   server.ts     the gRPC shell (Identity and Node on a unix socket, types generated from csi.proto)
//   node.ts       the CSI services: the protocol's rules, then the source and the publisher
//   source.ts     the volume source: resolve(request) → files (Connectors, scope, token, rendering), with a
//                 gate step between resolving and issuing: the approval of mounts (approval.ts)
//   publisher.ts  locks, mount, atomic write, cleanup
// on the manager's caches (core/kube).
//
//   const csi = await startCsiDriver(kc, { endpoint: 'unix:///csi/csi.sock', nodeId });
//   const csi = await startCsiDriver(mgr, { ... });   // on a shared manager (connectors up)
import { isAbsolute, resolve } from 'node:path';
import { systemNamespace as defaultSystemNamespace } from '../core/kube/config.ts';
import type { KubeAccess } from '../core/kube/client.ts';
import { componentManager, Manager } from '../core/kube/manager.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import type { HealthServer } from '../core/observability/server.ts';
import { MountApproval } from './approval.ts';
import { DirMounter, mounterFor, type Mounter } from './mounter.ts';
import { NodeServer } from './node.ts';
import { Publisher } from './publisher.ts';
import { serveCsi } from './server.ts';
import { ConnectorSource, type VolumeGate } from './source.ts';

export { DRIVER_NAME, NodeServer } from './node.ts';
export { MULTI_CONNECTOR_FLAG } from './source.ts';

export interface CsiDriverOptions {
  /** unix:///csi/csi.sock, unix:/csi/csi.sock or a path. */
  endpoint: string;
  nodeId: string;
  /** Base URL of the forward proxy for http.proxy/.env; default http://connectors-proxy-service.<system ns>.svc.cluster.local. */
  proxyURL?: string;
  systemNamespace?: string;
  /** tmpfs (needs CAP_SYS_ADMIN), dir, auto (default: tmpfs when possible) or a Mounter. */
  mounter?: 'auto' | 'tmpfs' | 'dir' | Mounter;
  /** How long a publish waits for the first list of the caches (ms). */
  syncTimeoutMs?: number;
  /** A check between resolving a volume's Connectors and issuing its files (source.ts); default: the approval of mounts. */
  gate?: VolumeGate;
  /** Own manager only: serve /healthz, /readyz and /metrics on this port (0: any free port). */
  healthPort?: number;
  log?: Logger;
}

export interface CsiDriver {
  endpoint: string;
  mounter: Mounter;
  /** Resolves when the caches have their first list. */
  synced: Promise<void>;
  health?: HealthServer;
  stop(): Promise<void>;
}

/** Path of a unix socket endpoint. */
export function socketPath(endpoint: string): string {
  let p = endpoint;
  if (p.startsWith('unix://')) p = p.slice('unix://'.length);
  else if (p.startsWith('unix:')) p = p.slice('unix:'.length);
  if (!p) throw new Error(`invalid CSI endpoint ${JSON.stringify(endpoint)}: use unix:///path/to/csi.sock`);
  return isAbsolute(p) ? p : resolve(p);
}

export interface LocalNode {
  /** The CSI services, called directly (no socket): `connectors render`, tests. */
  node: NodeServer;
  manager: Manager;
  synced: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The driver's node service without a gRPC socket or a kubelet, writing plain directories: what a Pod's volume
 * would hold, for `connectors render` and tests (the approval gate included, as in the driver).
 */
export async function startLocalNode(
  kc: KubeAccess,
  opts: { systemNamespace?: string; proxyURL?: string; mounter?: Mounter; log?: Logger } = {},
): Promise<LocalNode> {
  const log = opts.log ?? createLogger('csi');
  const mgr = new Manager(kc, { systemNamespace: opts.systemNamespace ?? defaultSystemNamespace(), log });
  const approval = new MountApproval(mgr.client, mgr.flags, log);
  const source = new ConnectorSource(mgr, {
    systemNamespace: mgr.systemNamespace,
    proxyURL: opts.proxyURL,
    gate: (req) => approval.gateMount(req),
    log,
  });
  const node = new NodeServer('local', source, new Publisher(opts.mounter ?? new DirMounter(), log), log);
  await mgr.start();
  return { node, manager: mgr, synced: source.whenSynced(), stop: () => mgr.stop() };
}

export async function startCsiDriver(kcOrManager: KubeAccess | Manager, opts: CsiDriverOptions): Promise<CsiDriver> {
  if (!opts.nodeId) throw new Error('a node id is required (--node-id)');
  const log = opts.log ?? createLogger('csi');
  const path = socketPath(opts.endpoint);
  const mounter = typeof opts.mounter === 'object' ? opts.mounter : await mounterFor(opts.mounter ?? 'auto');
  const { mgr, shared } = componentManager(kcOrManager, {
    systemNamespace: opts.systemNamespace,
    log,
    healthPort: opts.healthPort,
  });
  const approval = new MountApproval(mgr.client, mgr.flags, log);
  const source = new ConnectorSource(mgr, {
    systemNamespace: mgr.systemNamespace,
    proxyURL: opts.proxyURL,
    syncTimeoutMs: opts.syncTimeoutMs,
    gate: opts.gate ?? ((req) => approval.gateMount(req)),
    log,
  });
  const node = new NodeServer(opts.nodeId, source, new Publisher(mounter, log), log);
  let listening = false;
  mgr.addReadyCheck('csi-socket', () => listening || `not listening on unix://${path} yet`);
  await mgr.start();
  let server;
  try {
    server = await serveCsi(path, node, log);
    listening = true;
  } catch (err) {
    if (!shared) await mgr.stop();
    throw err;
  }
  log.info('CSI driver listening', {
    endpoint: `unix://${path}`,
    nodeId: opts.nodeId,
    mounter: mounter.kind,
    proxyURL: source.proxyURL,
    systemNamespace: mgr.systemNamespace,
  });
  let stopped = false;
  return {
    endpoint: `unix://${path}`,
    mounter,
    synced: source.whenSynced(),
    health: mgr.health,
    async stop() {
      if (stopped) return;
      stopped = true;
      listening = false;
      await server.stop();
      if (!shared) await mgr.stop();
    },
  };
}
