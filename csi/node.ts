// The CSI Identity and Node services of connectors-csi, in the generated message types of csi.proto:
// the protocol's rules (what a request must carry, what this node-only, ephemeral-only driver supports), then
// the volume source for the files and the publisher for the target path. Nothing from volume_context or
// secrets is logged except the Pod's identity and the Connector names.
//
// NodePublishVolume:
//   1. arguments     volume_id, target_path, volume_capability (InvalidArgument first, as csi-sanity
//                    expects); mount access only; ephemeral inline volumes only; readOnly required
//   2. attributes    attributes.ts parses volume_context and secrets into a VolumeRequest
//   3. files         source.resolve(request) (source.ts)
//   4. publish       publisher.publish(target, files) (publisher.ts)
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROXY_AUDIENCE } from '../core/api/keys.ts';
import type { Logger } from '../core/observability/log.ts';
import { KEYS, parseVolumeRequest } from './attributes.ts';
import { invalidArgument } from './errors.ts';
import type { Publisher } from './publisher.ts';
import type { VolumeSource } from './source.ts';
import type { GetPluginCapabilitiesResponse } from './generated/csi/v1/GetPluginCapabilitiesResponse.ts';
import type { GetPluginInfoResponse } from './generated/csi/v1/GetPluginInfoResponse.ts';
import type { NodeGetCapabilitiesResponse } from './generated/csi/v1/NodeGetCapabilitiesResponse.ts';
import type { NodeGetInfoResponse } from './generated/csi/v1/NodeGetInfoResponse.ts';
import type { NodePublishVolumeRequest__Output } from './generated/csi/v1/NodePublishVolumeRequest.ts';
import type { NodePublishVolumeResponse } from './generated/csi/v1/NodePublishVolumeResponse.ts';
import type { NodeUnpublishVolumeRequest__Output } from './generated/csi/v1/NodeUnpublishVolumeRequest.ts';
import type { NodeUnpublishVolumeResponse } from './generated/csi/v1/NodeUnpublishVolumeResponse.ts';
import type { ProbeResponse } from './generated/csi/v1/ProbeResponse.ts';

export const DRIVER_NAME = 'connectors-csi';

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

export class NodeServer {
  readonly nodeId: string;
  private readonly source: VolumeSource;
  private readonly publisher: Publisher;
  private readonly log: Logger;
  /** target → Pod uid, to forget a Pod's tokens with its last volume. */
  private readonly published = new Map<string, string>();

  constructor(nodeId: string, source: VolumeSource, publisher: Publisher, log: Logger) {
    this.nodeId = nodeId;
    this.source = source;
    this.publisher = publisher;
    this.log = log;
  }

  // ---- Identity

  getPluginInfo(): GetPluginInfoResponse {
    return { name: DRIVER_NAME, vendor_version: VERSION, manifest: {} };
  }

  getPluginCapabilities(): GetPluginCapabilitiesResponse {
    return { capabilities: [] }; // node-only: no CONTROLLER_SERVICE, no topology
  }

  probe(): ProbeResponse {
    return { ready: { value: this.source.ready() } };
  }

  // ---- Node

  nodeGetInfo(): NodeGetInfoResponse {
    return { node_id: this.nodeId, max_volumes_per_node: 0 };
  }

  nodeGetCapabilities(): NodeGetCapabilitiesResponse {
    return { capabilities: [] };
  }

  async nodePublishVolume(req: NodePublishVolumeRequest__Output): Promise<NodePublishVolumeResponse> {
    const started = performance.now();
    if (!req.volume_id) throw invalidArgument('volume_id is required');
    if (!req.target_path) throw invalidArgument('target_path is required');
    if (!req.volume_capability) throw invalidArgument('volume_capability is required');
    if (req.volume_capability.block || req.volume_capability.access_type === 'block')
      throw invalidArgument(`block volumes are not supported: ${DRIVER_NAME} provides mount volumes`);
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

    const volume = await this.source.resolve(vreq);
    const changed = await this.publisher.publish(target, volume.files);
    this.published.set(target, vreq.pod.uid);
    this.log.info(changed ? 'volume published' : 'volume up to date', {
      volumeId: req.volume_id,
      target,
      pod: `${vreq.pod.namespace}/${vreq.pod.name}`,
      connectors: volume.connectors,
      files: [...volume.files.keys()],
      issuer: volume.issuer,
      mounter: this.publisher.mounter.kind,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return {};
  }

  async nodeUnpublishVolume(req: NodeUnpublishVolumeRequest__Output): Promise<NodeUnpublishVolumeResponse> {
    if (!req.volume_id) throw invalidArgument('volume_id is required');
    if (!req.target_path) throw invalidArgument('target_path is required');
    const target = resolve(req.target_path);
    await this.publisher.unpublish(target);
    const uid = this.published.get(target);
    this.published.delete(target);
    if (uid && ![...this.published.values()].includes(uid)) this.source.forgetPod(uid);
    this.log.info('volume unpublished', { volumeId: req.volume_id, target });
    return {};
  }
}
