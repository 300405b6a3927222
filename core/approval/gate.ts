// The approval gate of a mount (what the CSI driver asks before it writes a volume, when approval is active):
// for each Connector, may the Pod's ServiceAccount use it through the proxy? If not, the AccessRequest of this
// Pod and Connector is created (or found) and its status decides: wait, refuse, or mount only `.error.json`.
import { KubeApiError, type KubeRest } from '../kube/rest.ts';
import { collectionPath } from '../kube/resources.ts';
import type { AccessRequest } from '../api/index.ts';
import type { Logger } from '../observability/log.ts';
import { podProxySubresource } from './names.ts';
import {
  accessRequestFor,
  errorStatusJson,
  gateOutcome,
  isFinal,
  type ConnectorKey,
  type GateOutcome,
  type PodIdentity,
  type Rejection,
} from './request.ts';
import { mayUseProxy } from './review.ts';

export type GateResult =
  | { kind: 'allowed' }
  /** Mount only `.error.json` (this text). */
  | { kind: 'rejected'; errorJson: string; message: string }
  /** Do not mount; `code` says how kubelet should see it (it retries every failed publish). */
  | { kind: 'refused'; code: 'Unavailable' | 'PermissionDenied' | 'FailedPrecondition'; message: string };

export class ApprovalGate {
  private readonly rest: KubeRest;
  private readonly log?: Logger;

  constructor(rest: KubeRest, log?: Logger) {
    this.rest = rest;
    this.log = log;
  }

  /** Whether the ServiceAccount may use the Connector through the proxy: plain or pod-bound. */
  async allowed(pod: PodIdentity, connector: ConnectorKey): Promise<boolean> {
    const sa = { namespace: pod.namespace, name: pod.serviceAccount };
    return (
      (await mayUseProxy(this.rest, sa, connector, 'proxy')) ||
      (await mayUseProxy(this.rest, sa, connector, podProxySubresource(pod.namespace, pod.name)))
    );
  }

  async check(pod: PodIdentity, connectors: ConnectorKey[]): Promise<GateResult> {
    const rejections: Rejection[] = [];
    const waiting: Array<{ connector: ConnectorKey; outcome: GateOutcome }> = [];
    // Every Connector lacking the permission gets its request now, so their checks run in parallel.
    for (const connector of connectors) {
      if (await this.allowed(pod, connector)) continue;
      const ar = await this.request(pod, connector);
      const outcome = gateOutcome(ar);
      this.log?.info('approval gate', {
        pod: `${pod.namespace}/${pod.name}`,
        connector: `${connector.namespace}/${connector.name}`,
        accessRequest: ar.metadata.name,
        outcome: outcome.kind,
      });
      if (outcome.kind === 'rejected')
        rejections.push({
          connector,
          accessRequest: { namespace: ar.metadata.namespace!, name: ar.metadata.name! },
          message: outcome.message,
        });
      else waiting.push({ connector, outcome });
    }
    if (rejections.length)
      return {
        kind: 'rejected',
        errorJson: errorStatusJson(rejections),
        message: rejections.map((r) => `${r.connector.namespace}/${r.connector.name}: ${r.message}`).join('; '),
      };
    if (!waiting.length) return { kind: 'allowed' };
    const describe = ({ connector, outcome }: (typeof waiting)[number]) =>
      `connector "${connector.namespace}/${connector.name}": ${outcome.message}`;
    const who = `serviceaccount "${pod.namespace}/${pod.serviceAccount}" of pod "${pod.name}"`;
    const denied = waiting.filter((w) => w.outcome.kind === 'denied');
    if (denied.length)
      return {
        kind: 'refused',
        code: 'PermissionDenied',
        message: `${who} may not use ${denied.map(describe).join('; ')}`,
      };
    const failed = waiting.filter((w) => w.outcome.kind === 'failed' || w.outcome.kind === 'ended');
    if (failed.length)
      return { kind: 'refused', code: 'FailedPrecondition', message: `approval of ${failed.map(describe).join('; ')}` };
    return {
      kind: 'refused',
      code: 'Unavailable',
      message: `waiting for approval for ${who}: ${waiting.map(describe).join('; ')}`,
    };
  }

  /** The AccessRequest of this Pod and Connector: found by its name, created when missing, renewed when stale. */
  private async request(pod: PodIdentity, connector: ConnectorKey): Promise<AccessRequest> {
    const wanted = accessRequestFor(pod, connector);
    const path = `${collectionPath('AccessRequest', connector.namespace)}/${encodeURIComponent(wanted.metadata.name!)}`;
    let existing = await this.rest.getIfExists<AccessRequest>(path);
    // An ended request of a Pod that is still mounting (its Connector was deleted and created again) is
    // replaced, so the Pod can ask again.
    if (existing && isFinal(existing)) {
      await this.rest.call('DELETE', path).catch((err) => {
        if (!(err instanceof KubeApiError && err.statusCode === 404)) throw err;
      });
      existing = undefined;
    }
    if (existing) return existing;
    try {
      return await this.rest.call<AccessRequest>('POST', collectionPath('AccessRequest', connector.namespace), {
        body: wanted,
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 409) {
        const raced = await this.rest.getIfExists<AccessRequest>(path);
        if (raced) return raced;
      }
      throw err;
    }
  }
}
