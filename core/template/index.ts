// Public API of the Go text/template + sprig v3 engine. Templates render byte for byte as Go
// renders them; errors carry Go's messages. See README.md.
import { builtins } from './builtins.ts';
import { TemplateExecError, TemplateParseError } from './errors.ts';
import { State } from './exec.ts';
import type { ExecContext } from './exec.ts';
import type { FuncMap } from './functions.ts';
import { parseTemplates } from './parser.ts';
import type { Tree } from './parser.ts';
import { sprigFuncs } from './sprig/index.ts';
import { quoteGo } from './strconv.ts';
import type { GoValue } from './values.ts';
import { fromJS, parseJSON } from './json.ts';

export type { FuncDef, FuncMap } from './functions.ts';
export { fn as defineFunc } from './functions.ts';
export type { GoValue } from './values.ts';
export { GoInt, GoStruct } from './values.ts';
export { TemplateExecError, TemplateParseError, FuncError } from './errors.ts';
export { parseJSON } from './json.ts';

export interface ParseOptions {
  /** Extra functions (Go signatures). They shadow sprig functions of the same name. */
  funcs?: FuncMap;
  /** Include the sprig v3 function set (default true). */
  sprig?: boolean;
}

const BUILTINS = builtins();

export class Template {
  readonly name: string;
  private readonly ctx: ExecContext;

  constructor(name: string, trees: Map<string, Tree>, funcs: FuncMap) {
    this.name = name;
    this.ctx = { trees, funcs, builtins: BUILTINS };
  }

  /** Names of the templates defined by the text (the top-level one and every define/block). */
  templates(): string[] {
    return [...this.ctx.trees.keys()];
  }

  /**
   * Renders the template. `data` is a Go value (see README.md): use `parseJSON` for JSON text so
   * that integers stay int64; plain JS values are converted (integral numbers stay float64).
   */
  execute(data: unknown, templateName?: string): string {
    const name = templateName ?? this.name;
    const tree = this.ctx.trees.get(name);
    if (templateName !== undefined && !tree) {
      throw new TemplateExecError(
        `template: no template ${quoteGo(name)} associated with template ${quoteGo(this.name)}`,
        name,
      );
    }
    const state = new State(this.ctx, name);
    const v0 = fromJS(data);
    const value = v0 === null ? undefined : v0; // reflect.ValueOf(nil) is invalid
    state.push('$', value);
    if (!tree || !tree.root) state.errorf(`${quoteGo(name)} is an incomplete or empty template`);
    state.walk(value, tree!.root!);
    return state.out;
  }
}

function funcsFor(opts: ParseOptions | undefined): FuncMap {
  const base = opts?.sprig === false ? {} : sprigFuncs();
  if (!opts?.funcs) return base;
  return { ...base, ...opts.funcs };
}

/** Parses template text once; render it many times with `execute`. Throws TemplateParseError. */
export function parse(name: string, text: string, opts?: ParseOptions): Template {
  const funcs = funcsFor(opts);
  const has = (fname: string): boolean =>
    Object.prototype.hasOwnProperty.call(funcs, fname) || Object.prototype.hasOwnProperty.call(BUILTINS, fname);
  const trees = parseTemplates(name, text, has);
  return new Template(name, trees, funcs);
}

/** Parses and renders in one step. Throws an Error with Go's message on failure. */
export function render(text: string, data: unknown, name = 'template'): string {
  return parse(name, text).execute(data);
}

/** Parses JSON text with the Kubernetes rule (integers int64, other numbers float64) and renders. */
export function renderJSON(text: string, json: string, name = 'template'): string {
  return parse(name, text).execute(parseJSON(json));
}

export function isTemplateError(e: unknown): e is TemplateParseError | TemplateExecError {
  return e instanceof TemplateParseError || e instanceof TemplateExecError;
}

export type { GoValue as Value };
void (0 as unknown as GoValue);
