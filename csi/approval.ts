// The driver's hook into approval (core/approval/gate.ts): with enable-connectors-approval and
// enable-connector-proxy-permissions both on, a publish first asks whether the Pod's ServiceAccount may use
// each Connector through the proxy, and creates or reuses AccessRequests when it may not.
//   - allowed             → the volume is rendered as usual;
//   - pending             → Unavailable (kubelet retries the mount; the Pod waits);
//   - no policy covers it → PermissionDenied; a configuration error → FailedPrecondition (both retried too);
//   - rejected            → the volume holds only `.error.json` (a google.rpc.Status), and the Pod starts
//                           without usable configuration and fails fast.
import type { FeatureFlags } from '../core/kube/featureflags.ts';
import type { KubeRest } from '../core/kube/rest.ts';
import type { Logger } from '../core/observability/log.ts';
import { approvalActive } from '../core/approval/names.ts';
import { ApprovalGate } from '../core/approval/gate.ts';
import type { VolumeRequest } from './attributes.ts';
import { failedPrecondition, internal, permissionDenied, unavailable } from './errors.ts';

export const ERROR_FILE = '.error.json';

export class MountApproval {
  private readonly gate: ApprovalGate;
  private readonly flags: FeatureFlags;

  constructor(rest: KubeRest, flags: FeatureFlags, log?: Logger) {
    this.gate = new ApprovalGate(rest, log);
    this.flags = flags;
  }

  /**
   * undefined: mount as usual. A Map: the only file the volume holds (`.error.json`). Throws the CsiError
   * kubelet reports while the mount must wait or is refused.
   */
  async gateMount(vreq: VolumeRequest): Promise<Map<string, string> | undefined> {
    if (!approvalActive((f) => this.flags.enabled(f))) return undefined;
    let result;
    try {
      result = await this.gate.check(
        {
          namespace: vreq.pod.namespace,
          name: vreq.pod.name,
          uid: vreq.pod.uid,
          serviceAccount: vreq.pod.serviceAccount,
        },
        vreq.connectors,
      );
    } catch (err) {
      throw unavailable(`cannot check the approval of this mount now: ${(err as Error).message}`);
    }
    switch (result.kind) {
      case 'allowed':
        return undefined;
      case 'rejected':
        return new Map([[ERROR_FILE, result.errorJson]]);
      case 'refused':
        if (result.code === 'Unavailable') throw unavailable(result.message);
        if (result.code === 'PermissionDenied') throw permissionDenied(result.message);
        if (result.code === 'FailedPrecondition') throw failedPrecondition(result.message);
        throw internal(result.message);
    }
  }
}
