// A CSI gRPC client for tests: the Identity and Node services of csi/csi.proto over the driver's socket, with
// promise-returning calls and kubelet-shaped NodePublishVolume requests.
import * as grpc from '@grpc/grpc-js';
import { loadCsiPackage } from '../../csi/server.ts';

export interface RpcError extends Error {
  code: grpc.status;
  details: string;
}

export interface CsiClient {
  call<T = any>(service: 'Identity' | 'Node', method: string, req?: object): Promise<T>;
  close(): void;
}

export function csiClient(endpoint: string): CsiClient {
  const csi = loadCsiPackage();
  const address = endpoint.startsWith('unix://') ? `unix:${endpoint.slice('unix://'.length)}` : endpoint;
  const clients = {
    Identity: new csi.Identity(address, grpc.credentials.createInsecure()),
    Node: new csi.Node(address, grpc.credentials.createInsecure()),
  };
  return {
    call(service, method, req = {}) {
      // Tests call methods by name (and send malformed requests on purpose): an untyped view of the client.
      const client = clients[service] as unknown as Record<
        string,
        (req: object, o: grpc.CallOptions, cb: (err: RpcError | null, res: unknown) => void) => void
      >;
      return new Promise((resolve, reject) => {
        client[method].call(clients[service], req, { deadline: Date.now() + 60_000 }, (err, res) =>
          err ? reject(err) : resolve(res as never),
        );
      });
    },
    close() {
      clients.Identity.close();
      clients.Node.close();
    },
  };
}

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
  serviceAccount?: string;
}

/** volume_context as kubelet builds it for an inline volume with podInfoOnMount: the Pod's attributes plus pod info. */
export function kubeletVolumeContext(
  pod: PodIdentity,
  attributes: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...attributes,
    'csi.storage.k8s.io/ephemeral': 'true',
    'csi.storage.k8s.io/pod.name': pod.name,
    'csi.storage.k8s.io/pod.namespace': pod.namespace,
    'csi.storage.k8s.io/pod.uid': pod.uid,
    'csi.storage.k8s.io/serviceAccount.name': pod.serviceAccount ?? 'default',
    ...extra,
  };
}

/** A NodePublishVolume request as kubelet sends it for an inline `connectors-csi` volume. */
export function publishRequest(
  targetPath: string,
  pod: PodIdentity,
  attributes: Record<string, string>,
  o: {
    readonly?: boolean;
    volumeId?: string;
    secrets?: Record<string, string>;
    extraContext?: Record<string, string>;
  } = {},
) {
  return {
    volume_id: o.volumeId ?? `csi-${pod.uid}-${Math.random().toString(16).slice(2, 10)}`,
    target_path: targetPath,
    volume_capability: { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
    readonly: o.readonly ?? true,
    secrets: o.secrets ?? {},
    volume_context: kubeletVolumeContext(pod, attributes, o.extraContext),
  };
}
