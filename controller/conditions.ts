// Pure condition bookkeeping: building conditions, the Ready aggregate, merging a freshly computed set into
// the stored one (keeping lastTransitionTime when the status did not change, and lastProbeTime unless it is
// stale), and deciding whether a status write is needed at all.
import type { Condition } from '../core/api/index.ts';

export type Status = Condition['status'];

export interface CondInput {
  type: string;
  status: Status;
  reason?: string;
  message?: string;
  severity?: string;
  /** Set on conditions backed by a probe (liveness, auth, API, proxy). */
  probed?: boolean;
}

export const T = (type: string, reason = '', message = ''): CondInput => ({ type, status: 'True', reason, message });
export const F = (type: string, reason: string, message: string): CondInput => ({
  type,
  status: 'False',
  reason,
  message,
});
export const U = (type: string, reason: string, message = ''): CondInput => ({
  type,
  status: 'Unknown',
  reason,
  message,
});

/**
 * Ready: any False → False, else any Unknown → Unknown, else True. Its reason and message are the first
 * non-True sub-condition's. Conditions with severity Info never count.
 */
export function aggregateReady(subs: CondInput[], type = 'Ready'): CondInput {
  const counted = subs.filter((c) => c.severity !== 'Info');
  const firstFalse = counted.find((c) => c.status === 'False');
  if (firstFalse)
    return {
      type,
      status: 'False',
      reason: firstFalse.reason || `${firstFalse.type}False`,
      message: firstFalse.message ?? '',
    };
  const firstUnknown = counted.find((c) => c.status === 'Unknown');
  if (firstUnknown)
    return {
      type,
      status: 'Unknown',
      reason: firstUnknown.reason || `${firstUnknown.type}Unknown`,
      message: firstUnknown.message ?? '',
    };
  return { type, status: 'True', reason: '', message: '' };
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface MergeOptions {
  now: Date;
  generation?: number;
  /** Refresh lastProbeTime of an otherwise unchanged probe condition only when it is older than this. */
  probeTimeRefreshMs: number;
  /** When the probes behind `probed` conditions actually ran (default now). */
  probedAt?: Date;
}

/** Merge `next` into `prev`, in the order of `next`; returns the conditions to store. */
export function mergeConditions(prev: Condition[] | undefined, next: CondInput[], o: MergeOptions): Condition[] {
  const old = new Map((prev ?? []).map((c) => [c.type, c]));
  const now = rfc3339(o.now);
  const probedAt = rfc3339(o.probedAt ?? o.now);
  return next.map((n) => {
    const p = old.get(n.type);
    const same =
      p && p.status === n.status && (p.reason ?? '') === (n.reason ?? '') && (p.message ?? '') === (n.message ?? '');
    const c: Condition = {
      type: n.type,
      status: n.status,
      ...(o.generation !== undefined ? { observedGeneration: o.generation } : {}),
      lastTransitionTime: p && p.status === n.status && p.lastTransitionTime ? p.lastTransitionTime : now,
      reason: n.reason ?? '',
      message: n.message ?? '',
      ...(n.severity ? { severity: n.severity } : {}),
    };
    if (n.probed) {
      const stale = !p?.lastProbeTime || o.now.getTime() - Date.parse(p.lastProbeTime) >= o.probeTimeRefreshMs;
      c.lastProbeTime = same && !stale && p?.lastProbeTime ? p.lastProbeTime : probedAt;
    }
    return c;
  });
}

/** Conditions compared without their timestamps. */
export function conditionsEqual(a: Condition[] | undefined, b: Condition[] | undefined): boolean {
  const strip = (cs: Condition[] | undefined) =>
    (cs ?? []).map((c) => [
      c.type,
      c.status,
      c.reason ?? '',
      c.message ?? '',
      c.severity ?? '',
      c.observedGeneration ?? null,
      c.lastProbeTime ?? null,
    ]);
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/** Canonical JSON (sorted keys) for comparing status objects. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
}

/** Condition transitions worth an Event: type, new status, reason, message. */
export function transitions(prev: Condition[] | undefined, next: Condition[]): Condition[] {
  const old = new Map((prev ?? []).map((c) => [c.type, c]));
  return next.filter((c) => {
    const p = old.get(c.type);
    return !p || p.status !== c.status || (p.reason ?? '') !== (c.reason ?? '');
  });
}
