// ResourceInterface expressions: JavaScript wrapped in `{…}` inside string values, evaluated over the context
// `{params, connector, connectors}` plus the builtin `url(x)` (a WHATWG URL's parts).
//
//   "{connector.spec.address + '/' + params.repository}"          → one expression: its value, of any type
//   "{params.tags.map(t => url(connector.spec.address).host + ':' + t)}"   → an array
//   "prefix-{connector.metadata.name}"                             → text and expressions: a string
//
// Parsing uses acorn (the ECMAScript parser behind webpack, rollup and ESLint's espree): it finds where each
// expression ends (a `}` inside a string or an object literal is part of the expression) and reports syntax
// errors with their column, so admission can reject what would not parse. Evaluation runs in QuickJS compiled
// to WebAssembly (quickjs-emscripten): a separate JavaScript heap that holds only the context given to it, no
// host objects, no I/O, with a memory limit, a stack limit and a deadline, in a worker thread
// (sandbox-worker.ts) that this module ends when an evaluation outlives its deadline or fails below the
// JavaScript level, so an expression never blocks nor ends the process that asked. Nothing here ever runs
// user text through the host's eval or Function.
import { Worker } from 'node:worker_threads';
import { parseExpressionAt, type Node } from 'acorn';
import type { SandboxCall, SandboxReply, SandboxRequest } from './sandbox-protocol.ts';
export { MAX_MESSAGE } from './sandbox-protocol.ts';

/** The ECMAScript edition expressions are parsed as (QuickJS implements it). */
export const ECMA_VERSION = 2022;

/** Limits of one evaluation batch (one admission request). */
export const DEFAULT_LIMITS = {
  /** Heap of the sandbox. */
  memoryBytes: 16 * 1024 * 1024,
  /** Stack of the sandbox (deep recursion ends here). */
  stackBytes: 512 * 1024,
  /** Wall time for every evaluation of one batch together. */
  deadlineMs: 2000,
  /** Largest value (as JSON) one expression may produce. */
  resultBytes: 64 * 1024,
} as const;

/** Sandbox worker threads at most; a batch that finds them all busy waits for one. */
export const MAX_SANDBOX_WORKERS = 2;
/**
 * How the wait for a busy sandbox is bounded: a batch waits at most this long, and at most this many wait (one
 * more is refused at once). A batch holds its worker for its deadline plus the grace at most, so a waiting
 * batch is served within seconds unless admission is flooded, and then a clear refusal beats a webhook timeout.
 */
export const SANDBOX_WAIT = { timeoutMs: 5_000, maxWaiting: 64 } as const;
export type SandboxWait = { -readonly [K in keyof typeof SANDBOX_WAIT]: number };
/**
 * How long past its deadline a batch may keep its worker busy before the worker is ended. QuickJS checks the
 * deadline itself, but not inside every native operation (a catch handler that recurses again, a long
 * regular-expression match): this bounds what it misses.
 */
export const DEADLINE_GRACE_MS = 500;
/** How long a new worker may take to load QuickJS (a busy machine, a cold disk). */
export const SANDBOX_START_TIMEOUT_MS = 15_000;
/**
 * V8 stack of a sandbox worker. Large, so that QuickJS's own check of `stackBytes` is what stops deep
 * recursion: with V8's default (under 1 MiB) nested arrays or a deeply nested `eval` exhaust V8's stack first.
 */
const WORKER_STACK_MB = 16;
export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

export type Segment = { text: string } | { expression: string; start: number; node: Node };

export class ExpressionSyntaxError extends Error {
  /** 1-based column in the string where the problem is. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.column = column;
  }
}

/**
 * Splits a string value into literal text and `{…}` expressions. Throws ExpressionSyntaxError when an
 * expression does not parse or is not closed by `}`. A `}` outside an expression is plain text.
 */
export function parseTemplate(text: string): Segment[] {
  const out: Segment[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '{') {
      literal += ch;
      i++;
      continue;
    }
    if (literal) out.push({ text: literal });
    literal = '';
    let node: Node;
    try {
      // preserveParens: without it a parenthesized expression's node ends before its `)`, and `{(a || b)}`
      // would be refused for the `)` found where `}` should be.
      node = parseExpressionAt(text, i + 1, { ecmaVersion: ECMA_VERSION, preserveParens: true });
    } catch (err) {
      const e = err as SyntaxError & { pos?: number };
      const message = e.message.replace(/\s*\(\d+:\d+\)$/, '');
      const pos = typeof e.pos === 'number' ? e.pos : i + 1;
      if (pos >= text.length)
        throw new ExpressionSyntaxError(`the expression opened at column ${i + 1} is not complete`, i + 1);
      throw new ExpressionSyntaxError(
        `the expression opened at column ${i + 1} does not parse: ${message} at column ${pos + 1}`,
        pos + 1,
      );
    }
    let end = node.end;
    while (end < text.length && /\s/.test(text[end])) end++;
    if (text[end] !== '}')
      throw new ExpressionSyntaxError(
        end >= text.length
          ? `the expression opened at column ${i + 1} has no closing "}"`
          : `the expression opened at column ${i + 1} does not parse: expected "}" at column ${end + 1}, found ${JSON.stringify(text[end])}`,
        end + 1,
      );
    out.push({ expression: text.slice(i + 1, end), start: i + 1, node });
    i = end + 1;
  }
  if (literal) out.push({ text: literal });
  return out;
}

/** Whether a string holds at least one `{…}` expression (it may still be malformed). */
export function hasExpression(text: string): boolean {
  return text.includes('{');
}

/**
 * `params.<name>` references of every expression of the segments, for checks against the declared params
 * (computed access such as `params['a-b']` with a string literal counts too).
 */
export function paramReferences(segments: Segment[]): string[] {
  const names = new Set<string>();
  const visit = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(visit);
    const node = n as { type?: string; object?: Node; property?: Node; computed?: boolean };
    if (
      node.type === 'MemberExpression' &&
      node.object?.type === 'Identifier' &&
      (node.object as unknown as { name: string }).name === 'params'
    ) {
      const prop = node.property as unknown as { type: string; name?: string; value?: unknown };
      if (!node.computed && prop.type === 'Identifier') names.add(prop.name!);
      else if (node.computed && prop.type === 'Literal' && typeof prop.value === 'string') names.add(prop.value);
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc' && typeof v === 'object') visit(v);
  };
  for (const s of segments) if ('node' in s) visit(s.node);
  return [...names];
}

/** The context of an evaluation. */
export interface Scope {
  params: Record<string, unknown>;
  connector: unknown;
  /** Comma list `ns/name,...` of every Connector of the integration (the merged ones, then the main one). */
  connectors?: string;
}

export class ExpressionError extends Error {}

/** One worker thread running sandbox-worker.ts, and its requests in flight. */
class SandboxWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: SandboxReply) => void; reject: (e: Error) => void }>();
  /** Why this worker can no longer be used. */
  dead: string | undefined;

  constructor() {
    this.worker = new Worker(new URL('./sandbox-worker.ts', import.meta.url), {
      resourceLimits: { stackSizeMb: WORKER_STACK_MB, maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
      // The worker's output is never shown: QuickJS prints its aborts ("Aborted(Assertion failed: ...)"), which
      // are reported as failures instead (and the worker silences them). The streams are left unread: reading
      // a worker's stdio keeps the process alive for as long as the worker lives.
      stdout: true,
      stderr: true,
    });
    this.worker.on('message', (r: SandboxReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    this.worker.on('error', (err: Error) => this.fail(`the sandbox failed: ${err.message}`));
    this.worker.on('exit', (code) => this.fail(`the sandbox stopped (exit code ${code})`));
    // An idle worker never keeps a process alive.
    this.worker.unref();
  }

  /** Sends a request; after timeoutMs without a reply the worker is ended and the request fails. */
  request(m: SandboxCall, timeoutMs: number, onTimeout: string): Promise<SandboxReply> {
    if (this.dead) return Promise.reject(new ExpressionError(this.dead));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.end(onTimeout), Math.max(timeoutMs, 0));
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const message: SandboxRequest = { ...m, id };
      this.worker.postMessage(message);
    });
  }

  /** Ends the worker (a runaway evaluation, a failure below JavaScript); requests in flight fail. */
  end(reason: string): void {
    this.fail(reason);
    void this.worker.terminate().catch(() => {});
  }

  private fail(reason: string): void {
    this.dead ??= reason;
    for (const p of this.pending.values()) p.reject(new ExpressionError(reason));
    this.pending.clear();
  }
}

const idle: SandboxWorker[] = [];
const waiting: Array<(w: SandboxWorker) => void> = [];
let checkedOut = 0;

function acquireWorker(wait: SandboxWait): Promise<SandboxWorker> {
  for (let w = idle.pop(); w; w = idle.pop()) {
    if (!w.dead) {
      checkedOut++;
      return Promise.resolve(w);
    }
  }
  if (checkedOut < MAX_SANDBOX_WORKERS) {
    checkedOut++;
    return Promise.resolve(new SandboxWorker());
  }
  if (waiting.length >= wait.maxWaiting)
    return Promise.reject(
      new ExpressionError(`the expression sandbox is busy (${waiting.length} waiting already); try again`),
    );
  return new Promise((resolve, reject) => {
    const take = (w: SandboxWorker) => {
      clearTimeout(timer);
      resolve(w);
    };
    const timer = setTimeout(() => {
      const i = waiting.indexOf(take);
      if (i >= 0) waiting.splice(i, 1);
      reject(new ExpressionError(`the expression sandbox stayed busy for ${wait.timeoutMs} ms; try again`));
    }, wait.timeoutMs);
    waiting.push(take);
  });
}

function releaseWorker(w: SandboxWorker): void {
  const next = waiting.shift();
  if (next) return next(w.dead ? new SandboxWorker() : w);
  checkedOut--;
  if (!w.dead) idle.push(w);
}

/**
 * One sandbox for a batch of evaluations (an admission request): a QuickJS runtime with the limits, in a
 * worker thread held until dispose(). Each evaluate/evaluateDeep call runs in a fresh context of it.
 */
export class Evaluator {
  private readonly worker: SandboxWorker;
  private readonly limits: Limits;
  private deadline = Infinity;
  private disposed = false;

  private constructor(worker: SandboxWorker, limits: Limits) {
    this.worker = worker;
    this.limits = limits;
  }

  static async create(limits: Partial<Limits> = {}, wait: Partial<SandboxWait> = {}): Promise<Evaluator> {
    const ev = new Evaluator(await acquireWorker({ ...SANDBOX_WAIT, ...wait }), { ...DEFAULT_LIMITS, ...limits });
    try {
      await ev.call({ op: 'open', limits: ev.limits }, SANDBOX_START_TIMEOUT_MS, 'the sandbox did not start in time');
    } catch (err) {
      void ev.dispose();
      throw err;
    }
    ev.deadline = Date.now() + ev.limits.deadlineMs;
    return ev;
  }

  /** Evaluates a string value: one expression alone gives its value; text with expressions gives a string. */
  async evaluate(text: string, scope: Scope): Promise<unknown> {
    return (await this.evaluateAll([parseTemplate(text)], scope))[0];
  }

  /** Every string inside a JSON value evaluated (objects and arrays walked), for workspace bindings. */
  async evaluateDeep(value: unknown, scope: Scope): Promise<unknown> {
    const templates: Segment[][] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') {
        if (hasExpression(v)) templates.push(parseTemplate(v));
      } else if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(value);
    const results = await this.evaluateAll(templates, scope);
    let next = 0;
    const rebuild = (v: unknown): unknown => {
      if (typeof v === 'string') return hasExpression(v) ? results[next++] : v;
      if (Array.isArray(v)) return v.map(rebuild);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x)]));
      return v;
    };
    return rebuild(value);
  }

  /** The values of parsed templates, all evaluated in one round trip to the sandbox. */
  private async evaluateAll(templates: Segment[][], scope: Scope): Promise<unknown[]> {
    const expressions = templates.flatMap((t) => t.flatMap((s) => ('expression' in s ? [s.expression] : [])));
    if (!expressions.length) return templates.map((t) => t.map((s) => ('text' in s ? s.text : '')).join(''));
    const r = await this.call(
      { op: 'eval', expressions, scope },
      this.deadline + DEADLINE_GRACE_MS - Date.now(),
      'took longer than the deadline',
    );
    if (!('values' in r)) throw new ExpressionError('the sandbox answered out of turn');
    if (r.error !== undefined) throw new ExpressionError(r.error);
    const values = r.values.map((json): unknown => (json === undefined ? undefined : JSON.parse(json)));
    let next = 0;
    return templates.map((t) => {
      if (t.length === 1 && 'expression' in t[0]) return values[next++];
      let out = '';
      for (const s of t) {
        if ('text' in s) out += s.text;
        else {
          const v = values[next++];
          out += typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
        }
      }
      return out;
    });
  }

  private async call(m: SandboxCall, timeoutMs: number, onTimeout: string): Promise<SandboxReply> {
    if (this.disposed) throw new Error('evaluator already disposed');
    const r = await this.worker.request(m, timeoutMs, onTimeout);
    if ('fatal' in r) {
      this.worker.end(`the sandbox failed: ${r.fatal}`);
      throw new ExpressionError(`the sandbox failed: ${r.fatal}`);
    }
    return r;
  }

  /** Frees the runtime and gives the worker back (or ends it, if freeing failed). Never throws. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (!this.worker.dead) {
        const r = await this.worker.request({ op: 'close' }, SANDBOX_START_TIMEOUT_MS, 'the sandbox did not close');
        if ('fatal' in r) this.worker.end(`the sandbox failed: ${r.fatal}`);
      }
    } catch {
      // The worker is dead already (ended, or failed); releasing it below replaces it.
    }
    releaseWorker(this.worker);
  }
}
