// A compiled policy instantiated with opa-wasm and our built-ins; evaluation is synchronous.
// opa-wasm (and the yaml 1.x it brings for Rego's yaml built-ins) is imported when the first policy is loaded: a
// proxy whose classes define no Rego policy does not carry it.
import { type BuiltinContext, type BuiltinTable, BUILTINS, bindBuiltins } from './builtins/index.ts';
import type { CompiledPolicy } from './compile.ts';

export interface Policy {
  readonly entrypoint: string;
  readonly sha256: string;
  /** The decision for `input`, or `undefined` when the rule is undefined. Throws PolicyEvaluationError. */
  evaluate(input: unknown): unknown;
}

export interface LoadOptions {
  /** Clock for time.now_ns (nanoseconds since the epoch); default the wall clock. */
  nowNs?: () => bigint;
  /** Built-in table; default BUILTINS. */
  builtins?: BuiltinTable;
}

export class PolicyEvaluationError extends Error {
  override name = 'PolicyEvaluationError';
}

/** `policy.evaluate(input)`, an evaluation failure re-thrown as the caller's error naming the policy file. */
export function evaluateAs(
  policy: Policy,
  input: unknown,
  file: string,
  asError: new (message: string) => Error,
): unknown {
  try {
    return policy.evaluate(input);
  } catch (err) {
    if (err instanceof PolicyEvaluationError) throw new asError(`${file}: evaluation failed: ${err.message}`);
    throw err;
  }
}

/** Compiled wasm modules by sha256, so loading the same policy again only instantiates it. */
// The es2024 lib has no WebAssembly declarations (so opa-wasm's WebAssembly.Module is unresolved); Node has the
// global. A compiled module is opaque here: it is only handed back to opa-wasm.
type WasmModule = object;
const webAssembly = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } })
  .WebAssembly;
const modules = new Map<string, WasmModule>();
const MODULE_CACHE_LIMIT = 256;

async function wasmModule(compiled: CompiledPolicy): Promise<WasmModule> {
  let m = modules.get(compiled.sha256);
  if (!m) {
    m = await webAssembly.compile(compiled.wasm);
    modules.set(compiled.sha256, m);
    while (modules.size > MODULE_CACHE_LIMIT) modules.delete(modules.keys().next().value as string);
  }
  return m;
}

const wallClockNs = () => BigInt(Date.now()) * 1_000_000n;

/** Messages opa_abort produces for Rego runtime errors, in the words OPA's Go evaluator uses. */
function explainAbort(message: string): string {
  if (/var assignment conflict/.test(message)) {
    return `${message} (complete rules must not produce multiple outputs: more than one definition of the rule matched with different values)`;
  }
  if (/object insert conflict/.test(message)) return `${message} (object keys must be unique)`;
  if (/functions must not produce multiple outputs/.test(message)) return message;
  return message;
}

export async function loadPolicy(compiled: CompiledPolicy, opts: LoadOptions = {}): Promise<Policy> {
  const clock = opts.nowNs ?? wallClockNs;
  let now: bigint | undefined;
  const ctx: BuiltinContext = {
    nowNs: () => (now ??= clock()),
    uuids: new Map(),
  };
  const { loadPolicy: loadWasmPolicy } = await import('@open-policy-agent/opa-wasm');
  const wasm = await loadWasmPolicy(
    await wasmModule(compiled),
    { initial: 5 },
    bindBuiltins(ctx, opts.builtins ?? BUILTINS),
  );
  const entrypoint = compiled.entrypoint;
  if (!Object.prototype.hasOwnProperty.call(wasm.entrypoints, entrypoint)) {
    throw new PolicyEvaluationError(`compiled policy has no entrypoint ${entrypoint}`);
  }
  return {
    entrypoint,
    sha256: compiled.sha256,
    evaluate(input: unknown): unknown {
      now = undefined;
      if (ctx.uuids.size > 0) ctx.uuids.clear();
      let rs: unknown;
      try {
        rs = wasm.evaluate(input, entrypoint);
      } catch (err) {
        const message =
          typeof err === 'string'
            ? err
            : err instanceof Error
              ? err.message
              : String((err as { message?: unknown })?.message ?? err);
        throw new PolicyEvaluationError(explainAbort(message));
      }
      if (!Array.isArray(rs) || rs.length === 0) return undefined;
      return (rs[0] as { result?: unknown }).result;
    },
  };
}
