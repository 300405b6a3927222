// A tiny controller runtime in the manner of controller-runtime: event handlers enqueue keys, N workers take
// keys from a deduplicating work queue and call reconcile(key). A reconcile that throws is retried with
// per-key exponential backoff; one that returns `requeueAfterMs` is re-run after that delay; a success
// resets the key's backoff. Reconciles are level-triggered: they read the current state from caches, so
// dropping or merging events is harmless.
import { WorkQueue, type RateLimiterOptions } from './workqueue.ts';
import { counter, gauge, histogram } from '../observability/metrics.ts';
import type { Logger } from '../observability/log.ts';

export interface ReconcileResult {
  /** Re-run this key after this many ms (periodic re-checks). */
  requeueAfterMs?: number;
}

export interface ControllerOptions {
  /** Kind or name, used in logs and metric labels. */
  name: string;
  reconcile(key: string): Promise<ReconcileResult | void>;
  workers?: number;
  backoff?: RateLimiterOptions;
  log?: Logger;
}

const reconcileTotal = () =>
  counter('connectors_controller_reconcile_total', 'Reconciles by kind and result (success, requeue, error).', [
    'kind',
    'result',
  ]);
const reconcileSeconds = () =>
  histogram(
    'connectors_controller_reconcile_duration_seconds',
    'Duration of reconciles by kind.',
    ['kind'],
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30],
  );
const queueDepth = () =>
  gauge('connectors_controller_queue_depth', 'Keys waiting in the work queue, by kind.', ['kind']);

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;
  private running: Promise<void>[] = [];
  private started = false;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.name = opts.name;
    const depth = queueDepth();
    this.queue = new WorkQueue({ ...opts.backoff, onDepth: (d) => depth.set({ kind: opts.name }, d) });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const workers = this.opts.workers ?? 4;
    for (let i = 0; i < workers; i++) this.running.push(this.worker());
  }

  private async worker(): Promise<void> {
    const total = reconcileTotal();
    const seconds = reconcileSeconds();
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const end = seconds.startTimer({ kind: this.name });
      try {
        const result = await this.opts.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined && !this.queue.isShuttingDown) {
          this.queue.addAfter(key, result.requeueAfterMs);
          total.inc({ kind: this.name, result: 'requeue' });
        } else {
          total.inc({ kind: this.name, result: 'success' });
        }
      } catch (err) {
        total.inc({ kind: this.name, result: 'error' });
        const delay = this.queue.addRateLimited(key);
        this.opts.log?.warn('reconcile failed; retrying', {
          kind: this.name,
          key,
          retryInMs: delay,
          error: (err as Error)?.message ?? String(err),
        });
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  /** Stop handing out keys and wait for the reconciles in flight. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }
}
