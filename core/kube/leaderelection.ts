// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: a candidate
// takes the Lease when it is free or expired (renewTime + leaseDurationSeconds in the past), the leader
// renews it (every renewInterval, retryPeriod after a failure) and steps down when it could not renew for
// renewDeadline, and a leader that
// stops releases the Lease (holderIdentity cleared) so another candidate takes over at its next retry.
// Optimistic concurrency (resourceVersion) makes two candidates never both succeed.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { kubeClient, KubeApiError, type KubeAccess, type KubeRest } from './client.ts';
import { resourcePath, resources } from './resources.ts';
import type { Lease, LeaseSpec } from './types.ts';
import type { Logger } from '../observability/log.ts';

export type { Lease, LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  /** How long a Lease is valid after its last renewal. Default 30 s. */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down. Default 20 s. */
  renewDeadlineMs?: number;
  /** How often a candidate tries to take the Lease. Default 5 s. */
  retryPeriodMs?: number;
  /**
   * How often the leader renews. Default leaseDuration / 3 (10 s): one PUT per 10 s at rest, instead of
   * client-go's one per retryPeriod (2 s), while still tolerating two failed renewals.
   */
  renewIntervalMs?: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  log?: Logger;
  /** REST client to use (default: one made from the KubeConfig). */
  rest?: KubeRest;
}

export interface LeaderElector {
  readonly identity: string;
  isLeader(): boolean;
  /** Whether a first attempt to take or read the Lease has finished (the candidate knows its role). */
  decided(): boolean;
  /**
   * A problem for /healthz, or undefined: a leader that has not renewed for longer than the Lease lasts is
   * stuck (its reconcilers may run while another replica also leads); restarting it is the cure, as
   * client-go's HealthzAdaptor does.
   */
  stuck(): string | undefined;
  /** Stop campaigning; a leader releases the Lease first. */
  stop(): Promise<void>;
}

/** MicroTime as the apiserver writes it. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Pure: may `identity` take or keep this Lease at `now`? */
export function canAcquire(
  spec: LeaseSpec | undefined,
  identity: string,
  now: number,
  defaultDurationMs: number,
): boolean {
  if (!spec?.holderIdentity || spec.holderIdentity === identity) return true;
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : NaN;
  if (Number.isNaN(renewed)) return true;
  const duration = spec.leaseDurationSeconds ? spec.leaseDurationSeconds * 1000 : defaultDurationMs;
  return renewed + duration < now;
}

export function startLeaderElection(kc: KubeAccess, opts: LeaderElectionOptions): LeaderElector {
  const identity = opts.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
  const leaseDuration = opts.leaseDurationMs ?? 30_000;
  const renewDeadline = opts.renewDeadlineMs ?? Math.round((leaseDuration * 2) / 3);
  const retryPeriod = opts.retryPeriodMs ?? Math.max(500, Math.round(leaseDuration / 6));
  const renewInterval = opts.renewIntervalMs ?? Math.min(retryPeriod * 2, Math.round(leaseDuration / 3));
  const path = resourcePath(resources.Lease, { namespace: opts.namespace });
  const leasePath = resourcePath(resources.Lease, { namespace: opts.namespace, name: opts.name });
  const log = opts.log;
  const own = !opts.rest;
  const client: KubeRest = opts.rest ?? kubeClient(kc);
  const rest = () => Promise.resolve(client);
  let leader = false;
  let firstTickDone = false;
  let stopped = false;
  let lastRenew = 0;
  let lastTickOk = false;
  let timer: NodeJS.Timeout | undefined;
  let loop: Promise<void> = Promise.resolve();

  /** The Lease as we last wrote it: a leader renews with one PUT (client-go's fast path), no GET. */
  let observed: Lease | undefined;

  async function tryAcquireOrRenew(): Promise<boolean> {
    const r = await rest();
    const now = new Date();
    if (leader && observed && observed.spec.holderIdentity === identity) {
      try {
        observed = await r.call<Lease>('PUT', leasePath, {
          body: { ...observed, spec: { ...observed.spec, renewTime: microTime(now) } },
        });
        return true;
      } catch (err) {
        observed = undefined;
        if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
      }
    }
    let current: Lease | undefined;
    try {
      current = await r.call<Lease>('GET', leasePath);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.statusCode === 404)) throw err;
    }
    const spec: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDuration / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!current) {
      observed = await r.call<Lease>('POST', path, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: opts.name, namespace: opts.namespace },
          spec,
        },
      });
      return true;
    }
    if (!canAcquire(current.spec, identity, now.getTime(), leaseDuration)) return false;
    if (current.spec.holderIdentity === identity) {
      spec.acquireTime = current.spec.acquireTime ?? spec.acquireTime;
      spec.leaseTransitions = current.spec.leaseTransitions ?? 0;
    } else {
      spec.leaseTransitions = (current.spec.leaseTransitions ?? 0) + 1;
    }
    observed = await r.call<Lease>('PUT', leasePath, { body: { ...current, spec } });
    return true;
  }

  async function setLeader(value: boolean): Promise<void> {
    if (leader === value) return;
    leader = value;
    log?.info(value ? 'became leader' : 'stopped leading', { lease: `${opts.namespace}/${opts.name}`, identity });
    try {
      await (value ? opts.onStartedLeading() : opts.onStoppedLeading());
    } catch (err) {
      log?.error('leader election callback failed', { error: (err as Error).message });
    }
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    let ok = false;
    let failed = false;
    try {
      ok = await tryAcquireOrRenew();
    } catch (err) {
      failed = true;
      const conflict = err instanceof KubeApiError && (err.statusCode === 409 || err.statusCode === 422);
      if (!conflict)
        log?.warn('lease update failed', { lease: `${opts.namespace}/${opts.name}`, error: (err as Error).message });
    }
    if (stopped) return;
    firstTickDone = true;
    lastTickOk = ok;
    if (ok) {
      lastRenew = Date.now();
      await setLeader(true);
    } else if (leader && (!failed || Date.now() - lastRenew > renewDeadline)) {
      // Another candidate holds a valid Lease, or we could not renew in time.
      await setLeader(false);
    }
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        loop = tick().finally(schedule);
      },
      leader && lastTickOk ? renewInterval : retryPeriod,
    );
  };
  loop = tick().finally(schedule);

  return {
    identity,
    isLeader: () => leader,
    decided: () => firstTickDone,
    stuck: () =>
      leader && Date.now() - lastRenew > leaseDuration + renewDeadline
        ? `the leader has not renewed Lease ${opts.namespace}/${opts.name} for ${Math.round((Date.now() - lastRenew) / 1000)} s`
        : undefined,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      await loop.catch(() => {});
      if (leader) {
        try {
          const r = await rest();
          const current = await r.call<Lease>('GET', leasePath);
          if (current.spec.holderIdentity === identity) {
            await r.call('PUT', leasePath, {
              body: {
                ...current,
                spec: {
                  ...current.spec,
                  holderIdentity: null,
                  renewTime: null,
                  acquireTime: null,
                  leaseDurationSeconds: 1,
                },
              },
            });
          }
        } catch (err) {
          log?.warn('could not release the lease', { error: (err as Error).message });
        }
        await setLeader(false);
      }
      if (own) await client.close().catch(() => {});
    },
  };
}
