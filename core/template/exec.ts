// The executor: walks the AST against data the way text/template's exec.go does, with Go's
// truthiness, argument checking and error messages.
import type {
  BranchNode,
  ChainNode,
  CommandNode,
  FieldNode,
  IdentifierNode,
  Node,
  NumberNode,
  PipeNode,
  TemplateNode,
  VariableNode,
} from './ast.ts';
import { errorLocation, nodeString } from './ast.ts';
import { FuncError, TemplateExecError } from './errors.ts';
import { formatValue } from './fmt.ts';
import type { FuncDef, FuncMap } from './functions.ts';
import type { Tree } from './parser.ts';
import { quoteGo } from './strconv.ts';
import type { GoMap, GoValue } from './values.ts';
import {
  GoComplex,
  GoFunc,
  GoInt,
  GoStruct,
  INT_TYPES,
  UINT_TYPES,
  canBeNil,
  elemType,
  isPlainMap,
  isTrue,
  kindOf,
  mapType,
  sliceType,
  sortedKeys,
  typeKind,
  typeOf,
  keyFromString,
} from './values.ts';

const MISSING: unique symbol = Symbol('missingVal');
type Final = GoValue | typeof MISSING;

const BREAK = 1;
const CONTINUE = 2;
const MAX_EXEC_DEPTH = 100000;

export interface ExecContext {
  trees: Map<string, Tree>;
  funcs: FuncMap;
  builtins: FuncMap;
}

/** reflect.Value.String() of a value (used by `call` for the callee name). */
function reflectValueString(v: GoValue): string {
  if (v === undefined) return '<invalid Value>';
  if (typeof v === 'string') return v;
  return `<${v === null ? 'interface {}' : typeOf(v)} Value>`;
}

export class State {
  ctx: ExecContext;
  tmplName: string;
  out = '';
  node: Node | null = null;
  varNames: string[] = [];
  varValues: GoValue[] = [];
  varIface: boolean[] = [];
  depth = 0;
  /** Whether dot is held in an interface{} slot (range element of []interface{}). */
  dotIface = false;

  constructor(ctx: ExecContext, tmplName: string) {
    this.ctx = ctx;
    this.tmplName = tmplName;
  }

  // ---- errors
  errorf(msg: string): never {
    const name = this.tmplName;
    if (!this.node) throw new TemplateExecError(`template: ${name}: ${msg}`, name);
    throw new TemplateExecError(
      `template: ${errorLocation(this.node)}: executing ${quoteGo(name)} at <${nodeString(this.node)}>: ${msg}`,
      name,
    );
  }

  // ---- variables
  push(name: string, value: GoValue, iface = false): void {
    this.varNames.push(name);
    this.varValues.push(value);
    this.varIface.push(iface);
  }
  mark(): number {
    return this.varNames.length;
  }
  pop(mark: number): void {
    this.varNames.length = mark;
    this.varValues.length = mark;
    this.varIface.length = mark;
  }
  setVar(name: string, value: GoValue, iface = false): void {
    for (let i = this.varNames.length - 1; i >= 0; i--) {
      if (this.varNames[i] === name) {
        this.varValues[i] = value;
        this.varIface[i] = iface;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  setTopVar(n: number, value: GoValue, iface = false): void {
    this.varValues[this.varValues.length - n] = value;
    this.varIface[this.varIface.length - n] = iface;
  }
  varIndex(name: string): number {
    for (let i = this.varNames.length - 1; i >= 0; i--) if (this.varNames[i] === name) return i;
    this.errorf(`undefined variable: ${name}`);
  }

  // ---- walking
  walk(dot: GoValue, node: Node): number {
    this.node = node;
    switch (node.type) {
      case 'text':
        this.out += node.text;
        return 0;
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return 0;
      }
      case 'list': {
        const nodes = node.nodes;
        for (let i = 0; i < nodes.length; i++) {
          const r = this.walk(dot, nodes[i]);
          if (r !== 0) return r;
        }
        return 0;
      }
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        this.walkTemplate(dot, node);
        return 0;
      case 'break':
        return BREAK;
      case 'continue':
        return CONTINUE;
      case 'comment':
        return 0;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  walkIfOrWith(dot: GoValue, node: BranchNode): number {
    const mark = this.mark();
    try {
      let val = this.evalPipeline(dot, node.pipe);
      if (val === null) val = undefined;
      const truth = isTrue(val);
      if (truth) {
        if (node.type === 'with') {
          const saved = this.dotIface;
          this.dotIface = false;
          try {
            return this.walk(val, node.list);
          } finally {
            this.dotIface = saved;
          }
        }
        return this.walk(dot, node.list);
      } else if (node.elseList) return this.walk(dot, node.elseList);
      return 0;
    } finally {
      this.pop(mark);
    }
  }

  walkRange(dot: GoValue, r: BranchNode): number {
    this.node = r;
    const mark0 = this.mark();
    const savedIface = this.dotIface;
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const decl = r.pipe.decl;
      const assign = r.pipe.isAssign;
      // Returns true to stop (break).
      const one = (index: GoValue, elem: GoValue, elemIface: boolean): boolean => {
        if (decl.length > 0) {
          if (assign) {
            if (decl.length > 1) this.setVar(decl[0].ident[0], index);
            else this.setVar(decl[0].ident[0], elem, elemIface);
          } else this.setTopVar(1, elem, elemIface);
        }
        if (decl.length > 1) {
          if (assign) this.setVar(decl[1].ident[0], elem, elemIface);
          else this.setTopVar(2, index);
        }
        this.dotIface = elemIface;
        const res = this.walk(elem, r.list);
        this.pop(mark);
        return res === BREAK;
      };
      const k = kindOf(val);
      switch (k) {
        case 'int':
        case 'uint': {
          if (decl.length > 1) this.errorf(`can't use ${formatValue(val)} to iterate over more than one variable`);
          const n = typeof val === 'bigint' ? val : (val as GoInt).v;
          const t = typeof val === 'bigint' ? 'int64' : (val as GoInt).t;
          if (n <= 0n) break;
          for (let i = 0n; i < n; i++) {
            if (one(undefined, t === 'int64' ? i : new GoInt(t, i), false)) break;
          }
          return 0;
        }
        case 'slice': {
          const arr = val as GoValue[];
          if (arr.length === 0) break;
          const iface = sliceType(arr) === '[]interface {}';
          for (let i = 0; i < arr.length; i++) {
            if (one(new GoInt('int', BigInt(i)), arr[i], iface)) break;
          }
          return 0;
        }
        case 'map': {
          const m = val as GoMap;
          const keys = sortedKeys(m);
          if (keys.length === 0) break;
          const iface = elemType(mapType(m)) === 'interface {}';
          for (const key of keys) {
            if (one(keyFromString(m, key), m[key], iface)) break;
          }
          return 0;
        }
        case 'invalid':
        case 'interface':
          break;
        case 'ptr':
          if (val instanceof GoStruct) this.errorf(`range can't iterate over ${formatValue(val)}`);
          break;
        default:
          this.errorf(`range can't iterate over ${formatValue(val)}`);
      }
      if (r.elseList) return this.walk(dot, r.elseList);
      return 0;
    } finally {
      this.dotIface = savedIface;
      this.pop(mark0);
    }
  }

  walkTemplate(dot: GoValue, t: TemplateNode): void {
    this.node = t;
    const tree = this.ctx.trees.get(t.name);
    if (!tree || !tree.root) this.errorf(`template ${quoteGo(t.name)} not defined`);
    if (this.depth === MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = this.evalPipeline(dot, t.pipe);
    const s = new State(this.ctx, t.name);
    s.depth = this.depth + 1;
    s.push('$', newDot);
    s.walk(newDot, tree.root);
    this.out += s.out;
  }

  // ---- evaluation
  evalPipeline(dot: GoValue, pipe: PipeNode | null): GoValue {
    if (!pipe) return undefined;
    this.node = pipe;
    let value: Final = MISSING;
    const cmds = pipe.cmds;
    for (let i = 0; i < cmds.length; i++) {
      value = this.evalCommand(dot, cmds[i], value);
      if (value === null) value = undefined; // nil interface{} → invalid, like reflect's Elem()
    }
    const v = value as GoValue;
    for (const variable of pipe.decl) {
      if (pipe.isAssign) this.setVar(variable.ident[0], v);
      else this.push(variable.ident[0], v);
    }
    return v;
  }

  notAFunction(args: Node[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  evalCommand(dot: GoValue, cmd: CommandNode, final: Final): GoValue {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.node = first;
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
    this.errorf(`can't evaluate command ${quoteGo(nodeString(first))}`);
  }

  idealConstant(c: NumberNode): GoValue {
    this.node = c;
    if (c.ideal !== undefined) return c.ideal;
    let v: GoValue;
    const text = c.text;
    const isHexInt = text.length > 2 && text[0] === '0' && (text[1] === 'x' || text[1] === 'X') && !/[pP]/.test(text);
    const isRuneInt = text.length > 0 && text[0] === "'";
    if (c.isComplex) v = new GoComplex(c.complex[0], c.complex[1]);
    else if (c.isFloat && !isHexInt && !isRuneInt && /[.eEpP]/.test(text)) v = c.float64;
    else if (c.isInt) v = new GoInt('int', c.int64);
    else if (c.isUint) this.errorf(`${text} overflows int`);
    else v = undefined;
    c.ideal = v;
    return v;
  }

  evalFieldNode(dot: GoValue, field: FieldNode, args: Node[], final: Final): GoValue {
    this.node = field;
    return this.evalFieldChain(dot, dot, this.dotIface, field, field.ident, args, final);
  }

  evalChainNode(dot: GoValue, chain: ChainNode, args: Node[], final: Final): GoValue {
    this.node = chain;
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, null, chain.node);
    return this.evalFieldChain(dot, pipe, false, chain, chain.field, args, final);
  }

  evalVariableNode(dot: GoValue, variable: VariableNode, args: Node[] | null, final: Final): GoValue {
    this.node = variable;
    const i = this.varIndex(variable.ident[0]);
    const value = this.varValues[i];
    if (variable.ident.length === 1) {
      if (args) this.notAFunction(args, final);
      else if (final !== MISSING) this.notAFunction([variable], final);
      return value;
    }
    return this.evalFieldChain(dot, value, this.varIface[i], variable, variable.ident.slice(1), args, final);
  }

  evalFieldChain(
    dot: GoValue,
    receiver: GoValue,
    recvIface: boolean,
    node: Node,
    ident: string[],
    args: Node[] | null,
    final: Final,
  ): GoValue {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) {
      const prev = receiver;
      receiver = this.evalField(dot, ident[i], node, null, MISSING, receiver, recvIface);
      recvIface = fieldIsIface(prev);
    }
    return this.evalField(dot, ident[n - 1], node, args, final, receiver, recvIface);
  }

  evalFunction(dot: GoValue, node: IdentifierNode, cmd: Node, args: Node[] | null, final: Final): GoValue {
    this.node = node;
    const name = node.ident;
    let f = this.ctx.funcs[name];
    let isBuiltin = false;
    if (!f) {
      f = this.ctx.builtins[name];
      isBuiltin = true;
    }
    if (!f) this.errorf(`${quoteGo(name)} is not a defined function`);
    return this.evalCall(dot, f, isBuiltin, cmd, name, args, final);
  }

  evalField(
    dot: GoValue,
    fieldName: string,
    node: Node,
    args: Node[] | null,
    final: Final,
    receiver: GoValue,
    recvIface: boolean,
  ): GoValue {
    if (receiver === undefined) return undefined;
    // Fast path: map[string]... lookups.
    if (receiver !== null && typeof receiver === 'object' && !Array.isArray(receiver) && isPlainMap(receiver)) {
      const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      const m = receiver;
      if (Object.prototype.hasOwnProperty.call(m, fieldName)) return m[fieldName];
      return undefined;
    }
    const typ = receiver === null ? 'interface {}' : recvIface ? 'interface {}' : typeOf(receiver);
    if (receiver === null) this.errorf(`nil pointer evaluating ${typ}.${fieldName}`);
    if (receiver instanceof GoStruct) {
      const method = receiver.method(fieldName);
      if (method) {
        const def: FuncDef = {
          params: method.params,
          variadic: method.variadic,
          ret: method.ret ?? 'interface {}',
          errReturn: method.errReturn,
          fn: method.call,
        };
        return this.evalCall(dot, def, false, node, fieldName, args, final);
      }
      const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
      for (const [name, value] of receiver.fields()) {
        if (name === fieldName) {
          if (hasArgs) this.errorf(`${fieldName} has arguments but cannot be invoked as function`);
          return value;
        }
      }
    }
    this.errorf(`can't evaluate field ${fieldName} in type ${typ}`);
  }

  evalCall(
    dot: GoValue,
    f: FuncDef,
    isBuiltin: boolean,
    node: Node,
    name: string,
    argNodes: Node[] | null,
    final: Final,
  ): GoValue {
    const args = argNodes ? argNodes.slice(1) : [];
    let numIn = args.length;
    if (final !== MISSING) numIn++;
    const nParams = f.params.length + (f.variadic !== undefined ? 1 : 0);
    let numFixed = args.length;
    if (f.variadic !== undefined) {
      numFixed = f.params.length;
      if (numIn < numFixed)
        this.errorf(`wrong number of args for ${name}: want at least ${numFixed} got ${args.length}`);
    } else if (numIn !== nParams) this.errorf(`wrong number of args for ${name}: want ${nParams} got ${numIn}`);

    if (f.special === 'and' || f.special === 'or') {
      const isOr = f.special === 'or';
      let v: GoValue = undefined;
      for (const arg of args) {
        v = this.evalArg(dot, 'reflect.Value', arg);
        if (isTrue(v === null ? undefined : v) === isOr) return v;
      }
      if (final !== MISSING) v = this.validateType(final, 'reflect.Value');
      return v;
    }

    const argv = new Array<GoValue>(numIn);
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv[i] = this.evalArg(dot, f.params[i], args[i]);
    if (f.variadic !== undefined) {
      for (; i < args.length; i++) argv[i] = this.evalArg(dot, f.variadic, args[i]);
    }
    if (final !== MISSING) {
      let t: string;
      if (f.variadic !== undefined) {
        if (numIn - 1 < numFixed) t = f.params[numIn - 1];
        else t = f.variadic;
      } else t = f.params[nParams - 1];
      argv[i] = this.validateType(final, t);
    }
    if (f.special === 'call') {
      const calleeName = args.length === 0 ? reflectValueString(final as GoValue) : nodeString(args[0]);
      try {
        return callBuiltin(calleeName, argv[0], argv.slice(1));
      } catch (e) {
        if (e instanceof FuncError) {
          this.node = node;
          this.errorf(`error calling ${name}: ${e.message}`);
        }
        throw e;
      }
    }
    let result: GoValue;
    try {
      result = f.fn(...argv);
    } catch (e) {
      if (e instanceof FuncError) {
        this.node = node;
        this.errorf(`error calling ${name}: ${e.message}`);
      }
      if (e instanceof TemplateExecError) throw e;
      if (e instanceof RangeError || e instanceof TypeError) {
        this.node = node;
        this.errorf(`error calling ${name}: ${e.message}`);
      }
      throw e;
    }
    return result;
  }

  validateType(value: GoValue, typ: string | null): GoValue {
    if (value === undefined) {
      if (typ === null) return undefined;
      if (typ === 'reflect.Value') return undefined;
      if (canBeNil(typ)) return zeroNil(typ);
      this.errorf(`invalid value; expected ${typ}`);
    }
    if (typ === null || typ === 'reflect.Value' || typ === 'interface {}') return value;
    if (value === null) {
      // A nil interface{} is not assignable to a concrete type.
      this.errorf(`wrong type for value; expected ${typ}; got interface {}`);
    }
    const vt = typeOf(value);
    if (vt === typ) return value;
    if (typ === 'fmt.Stringer' && value instanceof GoStruct && value.stringer() !== undefined) return value;
    if (typ === 'error' && value instanceof GoStruct && value.errorText() !== undefined) return value;
    if (value instanceof GoStruct && value.isPointer && vt.slice(1) === typ) return value;
    this.errorf(`wrong type for value; expected ${typ}; got ${vt}`);
  }

  evalArg(dot: GoValue, typ: string | null, n: Node): GoValue {
    this.node = n;
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, typ);
      case 'nil':
        if (typ !== null && canBeNil(typ)) return zeroNil(typ);
        return this.errorf(`cannot assign nil to ${typ}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), typ);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, null, MISSING), typ);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), typ);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, null, MISSING), typ);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], MISSING), typ);
    }
    if (typ === null) this.errorf(`can't handle ${nodeString(n)} for arg of type <nil>`);
    switch (typeKind(typ)) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        return this.errorf(`expected bool; found ${nodeString(n)}`);
      case 'complex':
        if (n.type === 'number' && n.isComplex) return new GoComplex(n.complex[0], n.complex[1]);
        return this.errorf(`expected complex; found ${nodeString(n)}`);
      case 'float':
        if (n.type === 'number' && n.isFloat) return n.float64;
        return this.errorf(`expected float; found ${nodeString(n)}`);
      case 'int':
        if (n.type === 'number' && n.isInt)
          return typ === 'int64' ? n.int64 : new GoInt(typ, BigInt.asIntN(intBits(typ), n.int64));
        return this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'uint':
        if (n.type === 'number' && n.isUint) return new GoInt(typ, BigInt.asUintN(intBits(typ), n.uint64));
        return this.errorf(`expected unsigned integer; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        return this.errorf(`expected string; found ${nodeString(n)}`);
      case 'interface':
        if (typ === 'interface {}') return this.evalEmptyInterface(dot, n);
        break;
    }
    if (typ === 'reflect.Value') return this.evalEmptyInterface(dot, n);
    this.errorf(`can't handle ${nodeString(n)} for arg of type ${typ}`);
  }

  evalEmptyInterface(dot: GoValue, n: Node): GoValue {
    this.node = n;
    switch (n.type) {
      case 'bool':
        return n.value;
      case 'dot':
        return dot;
      case 'field':
        return this.evalFieldNode(dot, n, [n], MISSING);
      case 'identifier':
        return this.evalFunction(dot, n, n, null, MISSING);
      case 'nil':
        return this.errorf(`evalEmptyInterface: nil (can't happen)`);
      case 'number':
        return this.idealConstant(n);
      case 'string':
        return n.text;
      case 'variable':
        return this.evalVariableNode(dot, n, null, MISSING);
      case 'pipe':
        return this.evalPipeline(dot, n);
    }
    this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
  }

  printValue(n: Node, v: GoValue): void {
    this.node = n;
    if (typeof v === 'string') {
      this.out += v;
      return;
    }
    if (v === undefined || v === null) {
      this.out += '<no value>';
      return;
    }
    if (v instanceof GoFunc) this.errorf(`can't print ${nodeString(n)} of type ${v.goType}`);
    this.out += formatValue(v);
  }
}

/** Whether values read out of this container are held in interface{} slots. */
function fieldIsIface(container: GoValue): boolean {
  if (container !== null && typeof container === 'object' && isPlainMap(container))
    return elemType(mapType(container)) === 'interface {}';
  return false;
}

function intBits(t: string): number {
  switch (t) {
    case 'int8':
    case 'uint8':
      return 8;
    case 'int16':
    case 'uint16':
      return 16;
    case 'int32':
    case 'uint32':
      return 32;
    default:
      return 64;
  }
}

function zeroNil(typ: string): GoValue {
  if (typ === 'reflect.Value') return undefined;
  const k = typeKind(typ);
  if (k === 'slice' || k === 'map') {
    // typed nil container
    return k === 'slice' ? nilSliceOf(typ) : nilMapOf(typ);
  }
  return null;
}

import { nilMap, nilSlice } from './values.ts';
function nilSliceOf(t: string): GoValue {
  return nilSlice(t);
}
function nilMapOf(t: string): GoValue {
  return nilMap(t);
}

/** The `call` builtin: only Go func values can be called; JSON data holds none. */
function callBuiltin(name: string, fnv: GoValue, _args: GoValue[]): GoValue {
  if (fnv === undefined || fnv === null) throw new FuncError('call of nil');
  if (!(fnv instanceof GoFunc)) throw new FuncError(`non-function ${name} of type ${typeOf(fnv)}`);
  throw new FuncError(`cannot call ${name}: function values are not supported`);
}

export { INT_TYPES, UINT_TYPES };
