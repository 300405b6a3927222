// An event recorder writing core/v1 Events, with client-go's correlation in small: an event that repeats
// (same object, type, reason and message) within the aggregation window bumps `count` and `lastTimestamp`
// of the existing Event instead of creating a new one. Writes are fire-and-forget: a failing Event write
// is logged and never fails a reconcile. Callers must not put credentials in messages.
import { randomBytes } from 'node:crypto';
import { kubeClient, type KubeAccess, type KubeRest } from './client.ts';
import { resourcePath, resources } from './resources.ts';
import type { Logger } from '../observability/log.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(obj: InvolvedObject, type: EventType, reason: string, message: string): void;
  /** Resolves when the writes started so far have finished (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface EventRecorderOptions {
  /** `source.component` / `reportingComponent`, e.g. connectors-controller. */
  component: string;
  /** Namespace for events about cluster-scoped objects (default `default`, as client-go). */
  clusterScopedNamespace?: string;
  /** Window in which identical events are aggregated (default 10 minutes). */
  aggregateWindowMs?: number;
  log?: Logger;
  rest?: KubeRest;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  at: number;
}

const MAX_REMEMBERED = 4096;

/** Pure: the correlation key of an event. */
export function eventKey(obj: InvolvedObject, type: EventType, reason: string, message: string): string {
  return [obj.kind, obj.namespace ?? '', obj.name, obj.uid ?? '', type, reason, message].join('\u0000');
}

export function createEventRecorder(kc: KubeAccess, opts: EventRecorderOptions): EventRecorder {
  const own = !opts.rest;
  const client: KubeRest = opts.rest ?? kubeClient(kc);
  const rest = () => Promise.resolve(client);
  const window = opts.aggregateWindowMs ?? 10 * 60_000;
  const seen = new Map<string, Seen>();
  const pending = new Set<Promise<void>>();
  const host = process.env.HOSTNAME ?? '';

  async function write(obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const r = await rest();
    const key = eventKey(obj, type, reason, message);
    const now = new Date();
    const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const prev = seen.get(key);
    if (prev && now.getTime() - prev.at < window) {
      prev.count++;
      prev.at = now.getTime();
      seen.delete(key);
      seen.set(key, prev);
      try {
        await r.call('PATCH', resourcePath(resources.Event, { namespace: prev.namespace, name: prev.name }), {
          body: { count: prev.count, lastTimestamp: ts },
          contentType: 'application/merge-patch+json',
        });
        return;
      } catch {
        // The Event is gone (TTL): create a new one below.
      }
    }
    const namespace = obj.namespace || opts.clusterScopedNamespace || 'default';
    const name = `${obj.name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`;
    await r.call('POST', resourcePath(resources.Event, { namespace }), {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: obj,
        type,
        reason,
        message: message.length > 1024 ? message.slice(0, 1021) + '...' : message,
        count: 1,
        firstTimestamp: ts,
        lastTimestamp: ts,
        source: { component: opts.component, host },
        reportingComponent: opts.component,
        reportingInstance: host || opts.component,
      },
    });
    seen.set(key, { namespace, name, count: 1, at: now.getTime() });
    while (seen.size > MAX_REMEMBERED) seen.delete(seen.keys().next().value as string);
  }

  return {
    event(obj, type, reason, message) {
      const p = write(obj, type, reason, message)
        .catch((err) =>
          opts.log?.warn('could not record event', {
            kind: obj.kind,
            name: obj.name,
            reason,
            error: (err as Error).message,
          }),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      await Promise.all([...pending]);
    },
    async close() {
      await Promise.all([...pending]);
      if (own) await client.close().catch(() => {});
    },
  };
}
