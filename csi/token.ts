// The proxy token of a volume: a ServiceAccount token of the Pod's ServiceAccount, audience
// connectors-proxy, bound to the Pod, living at most `token.expiration`.
//
// Source order:
//   1. the token kubelet requested for the CSIDriver's tokenRequests (audience connectors-proxy), from
//      NodePublishVolume secrets (KEP-5538 serviceAccountTokenInSecrets) or else volume_context — used when
//      it does not outlive the requested lifetime (the CSIDriver's expirationSeconds ≤ token.expiration);
//   2. otherwise a TokenRequest by the driver (bound to the Pod: boundObjectRef Pod name + uid), cached per
//      Pod, ServiceAccount and lifetime, and renewed once 80% of its lifetime has passed — as kubelet's own
//      token manager does. requiresRepublish makes kubelet call NodePublishVolume periodically, and each
//      republish writes the renewed token.
import { PROXY_AUDIENCE } from '../core/api/keys.ts';
import { KubeApiError, type KubeClient } from '../core/kube/client.ts';
import { resources } from '../core/kube/resources.ts';
import type { TokenRequest } from '../core/kube/types.ts';
import type { VolumeRequest } from './attributes.ts';
import { CsiError, internal, notFound, permissionDenied } from './errors.ts';

export interface ProxyToken {
  token: string;
  source: 'kubelet' | 'tokenrequest';
  /** Unix ms; NaN if unknown. */
  expiresAt: number;
}

/** A kubelet token may outlive the requested lifetime by this much (clock skew, kubelet's rounding). */
const SLACK_MS = 60_000;

interface Minted {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

export class TokenSource {
  private readonly client: KubeClient;
  private readonly cache = new Map<string, Minted>();
  private readonly inflight = new Map<string, Promise<Minted>>();
  private readonly now: () => number;
  readonly audience: string;

  constructor(client: KubeClient, opts: { audience?: string; now?: () => number } = {}) {
    this.client = client;
    this.audience = opts.audience ?? PROXY_AUDIENCE;
    this.now = opts.now ?? Date.now;
  }

  async token(req: VolumeRequest): Promise<ProxyToken> {
    const now = this.now();
    const k = req.kubeletToken;
    if (
      k &&
      (Number.isNaN(k.expiresAt) ||
        (k.expiresAt > now + SLACK_MS && k.expiresAt <= now + req.tokenExpirationSeconds * 1000 + SLACK_MS))
    ) {
      return { token: k.token, source: 'kubelet', expiresAt: k.expiresAt };
    }
    const key = `${req.pod.namespace}/${req.pod.serviceAccount}/${req.pod.uid}/${req.tokenExpirationSeconds}`;
    const cached = this.cache.get(key);
    if (cached && now < cached.issuedAt + 0.8 * (cached.expiresAt - cached.issuedAt)) {
      return { token: cached.token, source: 'tokenrequest', expiresAt: cached.expiresAt };
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.mint(req).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const minted = await pending;
    this.cache.set(key, minted);
    this.prune(now);
    return { token: minted.token, source: 'tokenrequest', expiresAt: minted.expiresAt };
  }

  /** Forgets the minted tokens of a Pod (its volumes are gone). */
  forgetPod(uid: string): void {
    for (const key of this.cache.keys()) if (key.split('/')[2] === uid) this.cache.delete(key);
  }

  private prune(now: number): void {
    for (const [key, m] of this.cache) if (m.expiresAt <= now) this.cache.delete(key);
  }

  private async mint(req: VolumeRequest): Promise<Minted> {
    const { pod } = req;
    const issuedAt = this.now();
    try {
      const res = await this.client.createSubresource<TokenRequest>(
        resources.ServiceAccount,
        pod.serviceAccount,
        pod.namespace,
        'token',
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: [this.audience],
            expirationSeconds: req.tokenExpirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
          },
        },
      );
      const token = res.status?.token;
      if (!token)
        throw internal(`TokenRequest for serviceaccount "${pod.namespace}/${pod.serviceAccount}" returned no token`);
      const expiresAt =
        Date.parse(res.status?.expirationTimestamp ?? '') || issuedAt + req.tokenExpirationSeconds * 1000;
      return { token, issuedAt, expiresAt };
    } catch (err) {
      if (err instanceof CsiError) throw err;
      const what = `failed to request a token for serviceaccount "${pod.namespace}/${pod.serviceAccount}" bound to pod "${pod.name}"`;
      const reason =
        err instanceof KubeApiError
          ? ((err.body as { message?: string })?.message ?? err.message)
          : (err as Error).message;
      if (err instanceof KubeApiError && err.statusCode === 404) throw notFound(`${what}: ${reason}`);
      if (err instanceof KubeApiError && err.statusCode === 403) throw permissionDenied(`${what}: ${reason}`);
      throw internal(`${what}: ${reason}`);
    }
  }
}
