// Template functions with Go signatures: the executor checks and converts arguments against the
// declared Go parameter types exactly as text/template does through reflection.
import { FuncError } from './errors.ts';
import type { GoValue } from './values.ts';

export interface FuncDef {
  /** Go types of the fixed parameters. */
  params: string[];
  /** Element type of a trailing variadic parameter. */
  variadic?: string;
  /** Go result type (`interface {}` results are unwrapped like reflect does). */
  ret: string;
  /** The function has a second `error` result: fn throws FuncError to return it. */
  errReturn?: boolean;
  /**
   * Implementation; arguments arrive already converted to the parameter types, so implementations declare
   * narrower parameters (a method signature, whose parameters TypeScript checks bivariantly, allows that).
   */
  fn(...args: GoValue[]): GoValue;
  /** Special builtins evaluated by the executor (and, or, call). */
  special?: 'and' | 'or' | 'call';
}

export type FuncMap = Record<string, FuncDef>;

/** Shorthand for a function definition. */
export function fn(
  params: string[],
  ret: string,
  impl: FuncDef['fn'],
  opts: { variadic?: string; errReturn?: boolean } = {},
): FuncDef {
  return { params, ret, fn: impl, variadic: opts.variadic, errReturn: opts.errReturn };
}

/** Go `panic(msg)` / returned error inside a function. */
export function fail(message: string): never {
  throw new FuncError(message);
}
