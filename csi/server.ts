// The gRPC shell of connectors-csi: csi.proto's Identity and Node services on a unix socket, each method
// bound to the node service (node.ts) through the handler types generated from csi.proto (csi/generated,
// `npm run gen:csi`), so a message field the code reads or writes is checked against the proto. The shell
// owns what every method shares: a CsiError becomes its gRPC status (anything else Internal), every call is
// counted and NodePublishVolume timed, failures are logged with the volume and target only.
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../core/observability/log.ts';
import { counter, histogram } from '../core/observability/metrics.ts';
import { CsiError, codeName, internal } from './errors.ts';
import type { ProtoGrpcType } from './generated/csi.ts';
import type { IdentityHandlers } from './generated/csi/v1/Identity.ts';
import type { NodeHandlers } from './generated/csi/v1/Node.ts';
import { DRIVER_NAME, type NodeServer } from './node.ts';
import { LOADER_OPTIONS } from './proto-types.ts';

const PROTO_PATH = fileURLToPath(new URL('./csi.proto', import.meta.url));

/** The csi.proto package, typed by the generated ProtoGrpcType (how proto-loader-gen-types is used). */
export function loadCsiPackage(): ProtoGrpcType['csi']['v1'] {
  const definition = protoLoader.loadSync(PROTO_PATH, { ...LOADER_OPTIONS });
  return (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).csi.v1;
}

export interface CsiServer {
  stop(): Promise<void>;
}

const publishSeconds = () =>
  histogram(
    'connectors_csi_publish_duration_seconds',
    'NodePublishVolume duration by gRPC code.',
    ['code'],
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  );
const calls = () => counter('connectors_csi_calls_total', 'CSI calls by method and gRPC code.', ['method', 'code']);

/** A unary handler: the result of `fn`, or its error as a gRPC status. */
function unary<Req extends object, Res>(log: Logger, method: string, fn: (req: Req) => Res | Promise<Res>) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    const t = performance.now();
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => {
          calls().inc({ method, code: 'OK' });
          if (method === 'NodePublishVolume') publishSeconds().observe({ code: 'OK' }, (performance.now() - t) / 1000);
          callback(null, res);
        },
        (err: unknown) => {
          const e = err instanceof CsiError ? err : internal((err as Error)?.message ?? String(err));
          const code = codeName(e.code);
          calls().inc({ method, code });
          if (method === 'NodePublishVolume') publishSeconds().observe({ code }, (performance.now() - t) / 1000);
          const req = call.request as { volume_id?: string; target_path?: string };
          log.warn(`${method} failed`, { code, error: e.message, volumeId: req?.volume_id, target: req?.target_path });
          callback({ code: e.code, details: e.message, metadata: new grpc.Metadata() }, null);
        },
      );
  };
}

function unimplemented(name: string) {
  return (_call: unknown, callback: grpc.sendUnaryData<never>) =>
    callback(
      {
        code: grpc.status.UNIMPLEMENTED,
        details: `${name} is not implemented by ${DRIVER_NAME} (ephemeral inline volumes only)`,
        metadata: new grpc.Metadata(),
      },
      null,
    );
}

/** Serves the node service on a unix socket (a stale socket file is replaced). */
export async function serveCsi(socket: string, node: NodeServer, log: Logger): Promise<CsiServer> {
  const csi = loadCsiPackage();
  const identity: IdentityHandlers = {
    GetPluginInfo: unary(log, 'GetPluginInfo', () => node.getPluginInfo()),
    GetPluginCapabilities: unary(log, 'GetPluginCapabilities', () => node.getPluginCapabilities()),
    Probe: unary(log, 'Probe', () => node.probe()),
  };
  const nodeService: NodeHandlers = {
    NodeStageVolume: unimplemented('NodeStageVolume'),
    NodeUnstageVolume: unimplemented('NodeUnstageVolume'),
    NodeGetVolumeStats: unimplemented('NodeGetVolumeStats'),
    NodeExpandVolume: unimplemented('NodeExpandVolume'),
    NodePublishVolume: unary(log, 'NodePublishVolume', (r) => node.nodePublishVolume(r)),
    NodeUnpublishVolume: unary(log, 'NodeUnpublishVolume', (r) => node.nodeUnpublishVolume(r)),
    NodeGetCapabilities: unary(log, 'NodeGetCapabilities', () => node.nodeGetCapabilities()),
    NodeGetInfo: unary(log, 'NodeGetInfo', () => node.nodeGetInfo()),
  };
  const server = new grpc.Server();
  server.addService(csi.Identity.service, identity);
  server.addService(csi.Node.service, nodeService);
  await mkdir(dirname(socket), { recursive: true });
  await rm(socket, { force: true }); // a socket left by a previous run
  await new Promise<void>((ok, fail) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? fail(err) : ok())),
  );
  return {
    async stop() {
      await new Promise<void>((ok) => server.tryShutdown(() => ok()));
      await rm(socket, { force: true });
    },
  };
}
