// The QuickJS side of the expression sandbox, in a worker thread that core/resourceinterface/expression.ts
// starts and, when anything goes wrong below the JavaScript level, throws away.
//
// A batch (one admission request) is a QuickJS runtime with a memory limit, a stack limit and a deadline; each
// `eval` message runs its expressions in a fresh context of that runtime holding only the scope, so one
// evaluation cannot change what another sees. Values cross back as the JSON text the sandbox made of them.
//
// Why a worker: an expression must never stall or end the webhook. Here it runs off the webhook's event loop;
// the worker's own V8 stack is large (resourceLimits.stackSizeMb) so that QuickJS's stack check, not V8's,
// stops deep recursion (with V8's default stack, nested arrays or a deeply nested eval exhaust V8's stack
// first: a host RangeError and a QuickJS runtime that aborts when freed); and whatever still fails at that
// level (a WebAssembly abort, a host exception) is reported as `fatal`, after which the parent ends the worker.
import { parentPort } from 'node:worker_threads';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, VmCallResult } from 'quickjs-emscripten-core';
import {
  MAX_MESSAGE,
  type SandboxLimits,
  type SandboxReply,
  type SandboxRequest,
  type SandboxScope,
} from './sandbox-protocol.ts';

const clip = (s: string) => (s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}… (${s.length} characters)` : s);

// Emscripten binds its print functions to the console when QuickJS loads: silenced first (the parent never
// reads this worker's output, and an abort is reported as `fatal` with its message).
process.stdout.write = process.stderr.write = () => true;
const { newQuickJSWASMModuleFromVariant, shouldInterruptAfterDeadline } = await import('quickjs-emscripten-core');
const variant = await import('@jitl/quickjs-wasmfile-release-sync');
// The package's types describe its CommonJS build; the ESM namespace's `default` is the variant.
const mod = await newQuickJSWASMModuleFromVariant(
  variant as unknown as Parameters<typeof newQuickJSWASMModuleFromVariant>[0],
);

let runtime: QuickJSRuntime | undefined;
let limits: SandboxLimits | undefined;

/** `url(x)`: the parts of a WHATWG URL (no user name or password). */
function urlParts(ctx: QuickJSContext, arg: QuickJSHandle): VmCallResult<QuickJSHandle> {
  const s = ctx.typeof(arg) === 'string' ? ctx.getString(arg) : undefined;
  let u: URL;
  try {
    if (s === undefined) throw new TypeError('url() takes a string');
    u = new URL(s);
  } catch (err) {
    return {
      error: ctx.newError({ name: 'TypeError', message: clip(`url(${JSON.stringify(s)}): ${(err as Error).message}`) }),
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

/** What a thrown value says, without trusting it (its getters run guest code, which the deadline bounds). */
function describe(ctx: QuickJSContext, error: QuickJSHandle): string {
  let text: string;
  try {
    const kind = ctx.typeof(error);
    const e = ctx.dump(error) as unknown;
    if (e && typeof e === 'object') {
      const { name, message } = e as { name?: unknown; message?: unknown };
      text = `${typeof name === 'string' ? name : 'Error'}: ${typeof message === 'string' ? message : (JSON.stringify(message) ?? '')}`;
    } else if (kind === 'object' || kind === 'function') {
      // dump() fell back to a string: the object has no JSON form (a getter that throws, a cycle).
      text = 'the expression threw a value that cannot be shown';
    } else text = `the expression threw ${JSON.stringify(e) ?? String(e)}`;
  } catch {
    text = 'the expression threw a value that cannot be shown';
  }
  return text === 'InternalError: interrupted' ? 'took longer than the deadline' : clip(text);
}

function evaluate(expressions: string[], scope: SandboxScope): SandboxReply & { values: Array<string | undefined> } {
  if (!runtime || !limits) throw new Error('sandbox not open');
  const ctx = runtime.newContext();
  const values: Array<string | undefined> = [];
  try {
    const url = ctx.newFunction('url', (arg) => urlParts(ctx, arg));
    ctx.setProp(ctx.global, 'url', url);
    url.dispose();
    for (const [name, value] of [
      ['params', scope.params],
      ['connector', scope.connector ?? null],
      ['connectors', scope.connectors ?? ''],
    ] as const) {
      const r = ctx.evalCode(`(${JSON.stringify(value ?? null)})`, 'context.js');
      if (r.error) {
        const message = describe(ctx, r.error);
        r.error.dispose();
        return { id: 0, values, error: `the context does not fit in the sandbox: ${message}` };
      }
      ctx.setProp(ctx.global, name, r.value);
      r.value.dispose();
    }
    for (const expression of expressions) {
      // JSON.stringify inside the sandbox keeps host objects out of the picture; the newline lets an
      // expression end with a line comment.
      const r = ctx.evalCode(`JSON.stringify((${expression}\n))`, 'expression.js', { type: 'global', strict: true });
      if (r.error) {
        const message = describe(ctx, r.error);
        r.error.dispose();
        return { id: 0, values, error: message };
      }
      const json = ctx.typeof(r.value) === 'string' ? ctx.getString(r.value) : undefined;
      r.value.dispose();
      if (json !== undefined && json.length > limits.resultBytes)
        return { id: 0, values, error: `its value is larger than ${limits.resultBytes} bytes` };
      values.push(json);
    }
    return { id: 0, values };
  } finally {
    ctx.dispose();
  }
}

function handle(m: SandboxRequest): SandboxReply {
  switch (m.op) {
    case 'open':
      runtime?.dispose();
      limits = m.limits;
      runtime = mod.newRuntime();
      runtime.setMemoryLimit(limits.memoryBytes);
      runtime.setMaxStackSize(limits.stackBytes);
      runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.deadlineMs));
      return { id: m.id, ok: true };
    case 'eval':
      return { ...evaluate(m.expressions, m.scope), id: m.id };
    case 'close': {
      const rt = runtime;
      runtime = undefined;
      rt?.dispose();
      return { id: m.id, ok: true };
    }
  }
}

parentPort!.on('message', (m: SandboxRequest) => {
  let reply: SandboxReply;
  try {
    reply = handle(m);
  } catch (err) {
    // A host RangeError, a WebAssembly abort (QuickJS asserting as it frees a runtime), anything not a
    // JavaScript error of the expression: this worker's QuickJS can no longer be trusted.
    reply = { id: m.id, fatal: clip((err as Error)?.message ?? String(err)) };
  }
  parentPort!.postMessage(reply);
});
