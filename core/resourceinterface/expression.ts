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
// host objects, no I/O, with a memory limit, a stack limit and a deadline. Nothing here ever runs user text
// through the host's eval or Function.
import { parseExpressionAt, type Node } from 'acorn';
import {
  newQuickJSWASMModuleFromVariant,
  shouldInterruptAfterDeadline,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
  type VmCallResult,
} from 'quickjs-emscripten-core';
import * as variant from '@jitl/quickjs-wasmfile-release-sync';

/** The ECMAScript edition expressions are parsed as (QuickJS implements it). */
export const ECMA_VERSION = 2022;

/** Limits of one evaluation batch (one admission request). */
export const DEFAULT_LIMITS = {
  /** Heap of the sandbox. */
  memoryBytes: 16 * 1024 * 1024,
  /** Native stack of the sandbox (deep recursion ends here). */
  stackBytes: 512 * 1024,
  /** Wall time for every evaluation of one batch together. */
  deadlineMs: 2000,
  /** Largest value (as JSON) one expression may produce. */
  resultBytes: 64 * 1024,
} as const;
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

let modulePromise: Promise<QuickJSWASMModule> | undefined;
/** The QuickJS WebAssembly module, loaded once per process (about 40 ms). */
export function quickJS(): Promise<QuickJSWASMModule> {
  // The package's types describe its CommonJS build; the ESM namespace's `default` is the variant.
  const v = variant as unknown as Parameters<typeof newQuickJSWASMModuleFromVariant>[0];
  modulePromise ??= newQuickJSWASMModuleFromVariant(v).catch((err) => {
    modulePromise = undefined;
    throw err;
  });
  return modulePromise;
}

export class ExpressionError extends Error {}

/**
 * One sandbox for a batch of evaluations (an admission request): a QuickJS runtime with the limits, reused
 * for every expression of the batch and disposed at the end.
 */
export class Evaluator {
  private readonly runtime: QuickJSRuntime;
  private readonly ctx: QuickJSContext;
  private readonly limits: Limits;
  private disposed = false;

  private constructor(mod: QuickJSWASMModule, limits: Limits) {
    this.limits = limits;
    this.runtime = mod.newRuntime();
    this.runtime.setMemoryLimit(limits.memoryBytes);
    this.runtime.setMaxStackSize(limits.stackBytes);
    this.runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.deadlineMs));
    this.ctx = this.runtime.newContext();
    const url = this.ctx.newFunction('url', (arg) => this.urlParts(arg));
    this.ctx.setProp(this.ctx.global, 'url', url);
    url.dispose();
  }

  static async create(limits: Partial<Limits> = {}): Promise<Evaluator> {
    return new Evaluator(await quickJS(), { ...DEFAULT_LIMITS, ...limits });
  }

  /** Evaluates a string value: one expression alone gives its value; text with expressions gives a string. */
  evaluate(text: string, scope: Scope): unknown {
    const segments = parseTemplate(text);
    if (segments.length === 1 && 'expression' in segments[0]) return this.run(segments[0].expression, scope);
    let out = '';
    for (const s of segments) {
      if ('text' in s) out += s.text;
      else {
        const v = this.run(s.expression, scope);
        out += typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
      }
    }
    return out;
  }

  /** Every string inside a JSON value evaluated (objects and arrays walked), for workspace bindings. */
  evaluateDeep(value: unknown, scope: Scope): unknown {
    if (typeof value === 'string') return hasExpression(value) ? this.evaluate(value, scope) : value;
    if (Array.isArray(value)) return value.map((v) => this.evaluateDeep(v, scope));
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.evaluateDeep(v, scope)]));
    return value;
  }

  private run(expression: string, scope: Scope): unknown {
    if (this.disposed) throw new Error('evaluator already disposed');
    const { ctx } = this;
    this.setGlobal('params', scope.params);
    this.setGlobal('connector', scope.connector ?? null);
    this.setGlobal('connectors', scope.connectors ?? '');
    // JSON.stringify inside the sandbox keeps host objects out of the picture; the newline lets an
    // expression end with a line comment.
    const r = ctx.evalCode(`JSON.stringify((${expression}\n))`, 'expression.js', { type: 'global', strict: true });
    if (r.error) {
      const e = ctx.dump(r.error) as { name?: string; message?: string } | string;
      r.error.dispose();
      const msg = typeof e === 'object' && e ? `${e.name ?? 'Error'}: ${e.message ?? ''}` : String(e);
      throw new ExpressionError(msg === 'InternalError: interrupted' ? `took longer than the deadline` : msg);
    }
    const json = ctx.typeof(r.value) === 'string' ? ctx.getString(r.value) : undefined;
    r.value.dispose();
    if (json === undefined) return undefined;
    if (json.length > this.limits.resultBytes)
      throw new ExpressionError(`its value is larger than ${this.limits.resultBytes} bytes`);
    return JSON.parse(json);
  }

  private setGlobal(name: string, value: unknown): void {
    const { ctx } = this;
    const h = ctx.unwrapResult(ctx.evalCode(`(${JSON.stringify(value ?? null)})`, 'context.js'));
    ctx.setProp(ctx.global, name, h);
    h.dispose();
  }

  /** `url(x)`: the parts of a WHATWG URL (no user name or password). */
  private urlParts(arg: QuickJSHandle): VmCallResult<QuickJSHandle> {
    const { ctx } = this;
    const s = ctx.typeof(arg) === 'string' ? ctx.getString(arg) : undefined;
    let u: URL;
    try {
      if (s === undefined) throw new TypeError('url() takes a string');
      u = new URL(s);
    } catch (err) {
      return {
        error: ctx.newError({ name: 'TypeError', message: `url(${JSON.stringify(s)}): ${(err as Error).message}` }),
      };
    }
    const parts = {
      href: u.href,
      protocol: u.protocol,
      scheme: u.protocol.replace(/:$/, ''),
      host: u.host,
      hostname: u.hostname,
      port: u.port,
      pathname: u.pathname,
      search: u.search,
      hash: u.hash,
      origin: u.origin,
    };
    return { value: ctx.unwrapResult(ctx.evalCode(`(${JSON.stringify(parts)})`, 'url.js')) };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.dispose();
    this.runtime.dispose();
  }
}
