// `response.cel` of probes (must yield a boolean), evaluated with @marcbachmann/cel-js, a maintained, dependency-free CEL
// implementation. Variables: response.statusCode (int), response.bodyString, response.headers
// (map[string][]string, canonical header names) and response.body (parsed JSON, when the body is JSON).
import { Environment } from '@marcbachmann/cel-js';
import type { ProbeResponse } from './probe.ts';

const env = new Environment().registerVariable('response', 'map');

type Program = ReturnType<Environment['parse']>;
const programs = new Map<string, Program | Error>();

function firstLine(msg: string): string {
  return msg.split('\n')[0].trim();
}

export class CelError extends Error {
  override name = 'CelError';
}

function compile(expr: string): Program {
  let p = programs.get(expr);
  if (!p) {
    try {
      p = env.parse(expr);
    } catch (err) {
      p = new CelError(`does not compile: ${firstLine((err as Error).message)}`);
    }
    programs.set(expr, p);
    if (programs.size > 1024) programs.delete(programs.keys().next().value as string);
  }
  if (p instanceof Error) throw p;
  return p;
}

/** Checks that an expression compiles (without evaluating it). Throws CelError. */
export function checkCel(expr: string): void {
  compile(expr);
}

function celTypeName(v: unknown): string {
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string') return 'string';
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  return 'map';
}

/** Evaluates the expression over a probe response; true/false, or throws CelError with a clear message. */
export function evalResponseCel(expr: string, res: ProbeResponse): boolean {
  const program = compile(expr);
  let out: unknown;
  try {
    out = program({
      response: {
        statusCode: BigInt(res.statusCode),
        bodyString: res.bodyString,
        headers: res.headers,
        body: res.body === undefined ? {} : res.body,
      },
    });
  } catch (err) {
    throw new CelError(`failed to evaluate: ${firstLine((err as Error).message)}`);
  }
  if (typeof out !== 'boolean') throw new CelError(`must evaluate to a bool, got ${celTypeName(out)}`);
  return out;
}
