// One watch request as a stream of events: GET ...?watch=1 on the REST client, the response read as JSON
// lines (the API server writes one event per line) and parsed one at a time, so memory holds one event,
// not the stream. Ends when the server ends the watch (its timeoutSeconds), when `signal` aborts, or when
// nothing arrived for `idleTimeoutMs` (a dead connection that no TCP error reports).
//
// Errors: an HTTP status >= 400 throws KubeApiError (410 Gone included) before any event; an ERROR event
// in the stream is yielded as is (the informer decides: code 410 means relist).
import type { KubeClient, Query } from './client.ts';
import type { KubeObject, WatchEvent } from './types.ts';

export interface WatchRequest {
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side end of the watch (seconds). */
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
  /** Client-side deadline without a byte from the server (default timeoutSeconds + 60 s, or 10 min). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

const NEWLINE = 0x0a;

/** Splits a byte stream into lines (without the newline); a trailing partial line is yielded at the end. */
export async function* jsonLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let pending: Buffer | undefined;
  for await (const chunk of chunks) {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (let i = buf.indexOf(NEWLINE, start); i >= 0; i = buf.indexOf(NEWLINE, start)) {
      if (i > start) yield buf.toString('utf8', start, i);
      start = i + 1;
    }
    pending = start < buf.length ? buf.subarray(start) : undefined;
  }
  if (pending?.length) yield pending.toString('utf8');
}

export async function* watchEvents<T extends KubeObject = KubeObject>(
  client: KubeClient,
  path: string,
  req: WatchRequest = {},
): AsyncGenerator<WatchEvent<T>> {
  const abort = new AbortController();
  const onAbort = () => abort.abort(req.signal?.reason);
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const idleMs = req.idleTimeoutMs ?? (req.timeoutSeconds ? (req.timeoutSeconds + 60) * 1000 : 600_000);
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    if (idle) idle.refresh();
    else {
      idle = setTimeout(() => abort.abort(new Error(`watch ${path}: nothing received for ${idleMs} ms`)), idleMs);
      idle.unref();
    }
  };
  const query: Query = {
    watch: '1',
    resourceVersion: req.resourceVersion || undefined,
    labelSelector: req.labelSelector,
    fieldSelector: req.fieldSelector,
    timeoutSeconds: req.timeoutSeconds === undefined ? undefined : String(req.timeoutSeconds),
    allowWatchBookmarks: req.allowWatchBookmarks ? 'true' : undefined,
  };
  try {
    arm();
    const res = await client.stream(path, query, abort.signal);
    try {
      const chunks = (async function* () {
        for await (const chunk of res.body) {
          arm();
          yield chunk;
        }
      })();
      for await (const line of jsonLines(chunks)) {
        let event: WatchEvent<T>;
        try {
          event = JSON.parse(line) as WatchEvent<T>;
        } catch {
          throw new Error(`watch ${path}: not a JSON event: ${line.slice(0, 200)}`);
        }
        if (!event || typeof event.type !== 'string' || typeof event.object !== 'object' || event.object === null)
          throw new Error(`watch ${path}: not a watch event: ${line.slice(0, 200)}`);
        yield event;
      }
    } finally {
      res.body.destroy();
    }
  } catch (err) {
    // An abort by our own idle deadline is an error the caller should see as such; the caller's abort ends quietly.
    if (req.signal?.aborted) return;
    if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
    throw err;
  } finally {
    if (idle) clearTimeout(idle);
    req.signal?.removeEventListener('abort', onAbort);
  }
}
