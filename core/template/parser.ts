// The parser of Go's text/template (a port of text/template/parse/parse.go), with Go's error
// messages: `template: NAME:LINE: message`.
import type {
  ActionNode,
  BranchNode,
  CommandNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  TemplateNode,
  TreeInfo,
  VariableNode,
} from './ast.ts';
import { isEmptyTree, nodeString } from './ast.ts';
import { TemplateParseError } from './errors.ts';
import * as L from './lexer.ts';
import type { Item } from './lexer.ts';
import { Lexer, itemToString } from './lexer.ts';
import { parseFloatGo, parseIntGo, quoteGo, unquote, unquoteChar } from './strconv.ts';

export interface Tree {
  name: string;
  root: ListNode | null;
  info: TreeInfo;
}

const MAX_STACK_DEPTH = 10000;
const ZERO_ITEM: Item = { typ: 0, pos: 0, val: '', line: 0 };

class TreeParser {
  name: string;
  parseName: string;
  root: ListNode | null = null;
  text: string;
  funcs: (name: string) => boolean;
  lex!: Lexer;
  token: Item[] = [ZERO_ITEM, ZERO_ITEM, ZERO_ITEM];
  peekCount = 0;
  vars: string[] = [];
  treeSet: Map<string, Tree>;
  actionLine = 0;
  rangeDepth = 0;
  stackDepth = 0;
  info: TreeInfo;

  constructor(
    name: string,
    parseName: string,
    text: string,
    funcs: (name: string) => boolean,
    treeSet: Map<string, Tree>,
  ) {
    this.name = name;
    this.parseName = parseName;
    this.text = text;
    this.funcs = funcs;
    this.treeSet = treeSet;
    this.info = { name, parseName, text };
  }

  startParse(lex: Lexer): void {
    this.root = null;
    this.lex = lex;
    this.vars = ['$'];
    this.stackDepth = 0;
    lex.options = { emitComment: false, breakOK: !this.funcs('break'), continueOK: !this.funcs('continue') };
  }

  // ---- token handling
  next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.lex.nextItem();
    return this.token[this.peekCount];
  }
  backup(): void {
    this.peekCount++;
  }
  backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1];
    this.peekCount = 1;
    this.token[0] = this.lex.nextItem();
    return this.token[0];
  }
  nextNonSpace(): Item {
    let token: Item;
    for (;;) {
      token = this.next();
      if (token.typ !== L.itemSpace) break;
    }
    return token;
  }
  peekNonSpace(): Item {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  // ---- errors
  errorf(msg: string): never {
    this.root = null;
    throw new TemplateParseError(`template: ${this.parseName}:${this.token[0].line}: ${msg}`);
  }
  expect(expected: number, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected) this.unexpected(token, context);
    return token;
  }
  expectOneOf(e1: number, e2: number, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== e1 && token.typ !== e2) this.unexpected(token, context);
    return token;
  }
  unexpected(token: Item, context: string): never {
    if (token.typ === L.itemError) {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at ${this.parseName}:${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(`${itemToString(token)}${extra}`);
    }
    this.errorf(`unexpected ${itemToString(token)} in ${context}`);
  }

  // ---- node constructors
  newList(pos: number): ListNode {
    return { type: 'list', pos, tree: this.info, nodes: [] };
  }

  // ---- parsing
  parse(): void {
    this.root = this.newList(this.peek().pos);
    while (this.peek().typ !== L.itemEOF) {
      if (this.peek().typ === L.itemLeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === L.itemDefine) {
          const newT = new TreeParser('definition', this.parseName, this.text, this.funcs, this.treeSet);
          newT.startParse(this.lex);
          newT.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected ${nodeString(n)}`);
      this.root.nodes.push(n);
    }
  }

  add(): void {
    const tree = this.treeSet.get(this.name);
    if (!tree || isEmptyTree(tree.root)) {
      this.treeSet.set(this.name, { name: this.name, root: this.root, info: this.info });
      return;
    }
    if (!isEmptyTree(this.root)) this.errorf(`template: multiple definition of template ${quoteGo(this.name)}`);
  }

  parseDefinition(): void {
    const context = 'define clause';
    const name = this.expectOneOf(L.itemString, L.itemRawString, context);
    try {
      this.name = unquote(name.val);
    } catch (e) {
      this.errorf((e as Error).message);
    }
    this.info.name = this.name;
    this.expect(L.itemRightDelim, context);
    const [list, end] = this.itemList();
    this.root = list;
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.add();
  }

  itemList(): [ListNode, Node] {
    const list = this.newList(this.peekNonSpace().pos);
    while (this.peekNonSpace().typ !== L.itemEOF) {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case L.itemText:
        return { type: 'text', pos: token.pos, tree: this.info, text: token.val };
      case L.itemLeftDelim:
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      case L.itemComment:
        return { type: 'comment', pos: token.pos, tree: this.info, text: token.val };
      default:
        this.unexpected(token, 'input');
    }
  }

  action(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case L.itemBlock:
        return this.blockControl();
      case L.itemBreak:
        return this.breakControl(token.pos, token.line);
      case L.itemContinue:
        return this.continueControl(token.pos, token.line);
      case L.itemElse:
        return this.elseControl();
      case L.itemEnd:
        return this.endControl();
      case L.itemIf:
        return this.branch('if');
      case L.itemRange:
        return this.branch('range');
      case L.itemTemplate:
        return this.templateControl();
      case L.itemWith:
        return this.branch('with');
    }
    this.backup();
    const t = this.peek();
    const node: ActionNode = {
      type: 'action',
      pos: t.pos,
      tree: this.info,
      line: t.line,
      pipe: this.pipeline('command', L.itemRightDelim),
    };
    return node;
  }

  breakControl(pos: number, line: number): Node {
    const token = this.nextNonSpace();
    if (token.typ !== L.itemRightDelim) this.unexpected(token, '{{break}}');
    if (this.rangeDepth === 0) this.errorf('{{break}} outside {{range}}');
    return { type: 'break', pos, tree: this.info, line };
  }

  continueControl(pos: number, line: number): Node {
    const token = this.nextNonSpace();
    if (token.typ !== L.itemRightDelim) this.unexpected(token, '{{continue}}');
    if (this.rangeDepth === 0) this.errorf('{{continue}} outside {{range}}');
    return { type: 'continue', pos, tree: this.info, line };
  }

  pipeline(context: string, end: number): PipeNode {
    const token = this.peekNonSpace();
    const pipe: PipeNode = {
      type: 'pipe',
      pos: token.pos,
      tree: this.info,
      line: token.line,
      isAssign: false,
      decl: [],
      cmds: [],
    };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ === L.itemVariable) {
        this.next();
        const tokenAfterVariable = this.peek();
        const next = this.peekNonSpace();
        if (next.typ === L.itemAssign || next.typ === L.itemDeclare) {
          pipe.isAssign = next.typ === L.itemAssign;
          this.nextNonSpace();
          pipe.decl.push(this.newVariable(v.pos, v.val));
          this.vars.push(v.val);
        } else if (next.typ === L.itemChar && next.val === ',') {
          this.nextNonSpace();
          pipe.decl.push(this.newVariable(v.pos, v.val));
          this.vars.push(v.val);
          if (context === 'range' && pipe.decl.length < 2) {
            const p = this.peekNonSpace().typ;
            if (p === L.itemVariable || p === L.itemRightDelim || p === L.itemRightParen) continue decls;
            this.errorf('range can only initialize variables');
          }
          this.errorf(`too many declarations in ${context}`);
        } else if (tokenAfterVariable.typ === L.itemSpace) {
          this.backup3(v, tokenAfterVariable);
        } else {
          this.backup2(v);
        }
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      switch (token.typ) {
        case end:
          this.checkPipeline(pipe, context);
          return pipe;
        case L.itemBool:
        case L.itemCharConstant:
        case L.itemComplex:
        case L.itemDot:
        case L.itemField:
        case L.itemIdentifier:
        case L.itemNumber:
        case L.itemNil:
        case L.itemRawString:
        case L.itemString:
        case L.itemVariable:
        case L.itemLeftParen:
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    for (let i = 1; i < pipe.cmds.length; i++) {
      const t = pipe.cmds[i].args[0].type;
      if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 1}`);
      }
    }
  }

  branch(context: 'if' | 'range' | 'with'): BranchNode {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, L.itemRightDelim);
      if (context === 'range') this.rangeDepth++;
      const [list, first] = this.itemList();
      let next = first;
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.type === 'else') {
        if (context === 'if' && this.peek().typ === L.itemIf) {
          this.next();
          elseList = this.newList(next.pos);
          elseList.nodes.push(this.branch('if'));
        } else if (context === 'with' && this.peek().typ === L.itemWith) {
          this.next();
          elseList = this.newList(next.pos);
          elseList.nodes.push(this.branch('with'));
        } else {
          [elseList, next] = this.itemList();
          if (next.type !== 'end') this.errorf(`expected end; found ${nodeString(next)}`);
        }
      }
      return { type: context, pos: pipe.pos, tree: this.info, line: pipe.line, pipe, list, elseList };
    } finally {
      this.vars.length = mark;
    }
  }

  endControl(): Node {
    return { type: 'end', pos: this.expect(L.itemRightDelim, 'end').pos, tree: this.info };
  }

  elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.typ === L.itemIf || peek.typ === L.itemWith)
      return { type: 'else', pos: peek.pos, tree: this.info, line: peek.line };
    const token = this.expect(L.itemRightDelim, 'else');
    return { type: 'else', pos: token.pos, tree: this.info, line: token.line };
  }

  blockControl(): Node {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, L.itemRightDelim);
    const block = new TreeParser(name, this.parseName, this.text, this.funcs, this.treeSet);
    block.startParse(this.lex);
    const [list, end] = block.itemList();
    block.root = list;
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    block.add();
    const node: TemplateNode = { type: 'template', pos: token.pos, tree: this.info, line: token.line, name, pipe };
    return node;
  }

  templateControl(): Node {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== L.itemRightDelim) {
      this.backup();
      pipe = this.pipeline(context, L.itemRightDelim);
    }
    return { type: 'template', pos: token.pos, tree: this.info, line: token.line, name, pipe };
  }

  parseTemplateName(token: Item, context: string): string {
    if (token.typ === L.itemString || token.typ === L.itemRawString) {
      try {
        return unquote(token.val);
      } catch (e) {
        this.errorf((e as Error).message);
      }
    }
    this.unexpected(token, context);
  }

  command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, tree: this.info, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const token = this.next();
      if (token.typ === L.itemSpace) continue;
      if (token.typ === L.itemRightDelim || token.typ === L.itemRightParen) this.backup();
      else if (token.typ !== L.itemPipe) this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  operand(): Node | null {
    let node = this.term();
    if (!node) return null;
    if (this.peek().typ === L.itemField) {
      const chainPos = this.peek().pos;
      const fields: string[] = [];
      while (this.peek().typ === L.itemField) {
        const f = this.next().val;
        fields.push(f.slice(1));
      }
      switch (node.type) {
        case 'field':
          node = { type: 'field', pos: chainPos, tree: this.info, ident: [...node.ident, ...fields] };
          break;
        case 'variable':
          node = { type: 'variable', pos: chainPos, tree: this.info, ident: [...node.ident, ...fields] };
          break;
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          return this.errorf(`unexpected . after term ${quoteGo(nodeString(node))}`);
        default:
          node = { type: 'chain', pos: chainPos, tree: this.info, node, field: fields };
      }
    }
    return node;
  }

  term(): Node | null {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case L.itemIdentifier:
        if (!this.funcs(token.val)) this.errorf(`function ${quoteGo(token.val)} not defined`);
        return { type: 'identifier', pos: token.pos, tree: this.info, ident: token.val };
      case L.itemDot:
        return { type: 'dot', pos: token.pos, tree: this.info };
      case L.itemNil:
        return { type: 'nil', pos: token.pos, tree: this.info };
      case L.itemVariable:
        return this.useVar(token.pos, token.val);
      case L.itemField:
        return { type: 'field', pos: token.pos, tree: this.info, ident: token.val.slice(1).split('.') };
      case L.itemBool:
        return { type: 'bool', pos: token.pos, tree: this.info, value: token.val === 'true' };
      case L.itemCharConstant:
      case L.itemComplex:
      case L.itemNumber:
        return this.newNumber(token.pos, token.val, token.typ);
      case L.itemLeftParen: {
        if (this.stackDepth >= MAX_STACK_DEPTH) this.errorf('max expression depth exceeded');
        this.stackDepth++;
        try {
          return this.pipeline('parenthesized pipeline', L.itemRightParen);
        } finally {
          this.stackDepth--;
        }
      }
      case L.itemString:
      case L.itemRawString: {
        let s: string;
        try {
          s = unquote(token.val);
        } catch (e) {
          this.errorf((e as Error).message);
        }
        return { type: 'string', pos: token.pos, tree: this.info, quoted: token.val, text: s };
      }
    }
    this.backup();
    return null;
  }

  newVariable(pos: number, ident: string): VariableNode {
    return { type: 'variable', pos, tree: this.info, ident: ident.split('.') };
  }

  useVar(pos: number, name: string): Node {
    const v = this.newVariable(pos, name);
    if (this.vars.includes(v.ident[0])) return v;
    this.errorf(`undefined variable ${quoteGo(v.ident[0])}`);
  }

  newNumber(pos: number, text: string, typ: number): NumberNode {
    const n: NumberNode = {
      type: 'number',
      pos,
      tree: this.info,
      isInt: false,
      isUint: false,
      isFloat: false,
      isComplex: false,
      int64: 0n,
      uint64: 0n,
      float64: 0,
      complex: [0, 0],
      text,
    };
    if (typ === L.itemCharConstant) {
      let r: number;
      let next: number;
      try {
        [r, , next] = unquoteChar(text, 1, text.charCodeAt(0));
      } catch (e) {
        this.errorf((e as Error).message);
      }
      if (text.slice(next) !== "'") this.errorf(`malformed character constant: ${text}`);
      n.int64 = BigInt(r);
      n.isInt = true;
      n.uint64 = BigInt(r);
      n.isUint = true;
      n.float64 = r;
      n.isFloat = true;
      return n;
    }
    if (typ === L.itemComplex) {
      const c = parseComplex(text);
      if (!c) this.errorf(`expected integer`);
      n.isComplex = true;
      n.complex = c;
      simplifyComplex(n);
      return n;
    }
    if (text.length > 0 && text[text.length - 1] === 'i') {
      const f = parseFloatGo(text.slice(0, -1));
      if (f !== undefined) {
        n.isComplex = true;
        n.complex = [0, f];
        simplifyComplex(n);
        return n;
      }
    }
    const u = parseIntGo(text, 0, 64, true);
    if (!u.err) {
      n.isUint = true;
      n.uint64 = u.value!;
    }
    const i = parseIntGo(text, 0, 64, false);
    if (!i.err) {
      n.isInt = true;
      n.int64 = i.value!;
      if (i.value === 0n) {
        n.isUint = true;
        n.uint64 = u.value ?? 0n;
      }
    }
    if (n.isInt) {
      n.isFloat = true;
      n.float64 = Number(n.int64);
    } else if (n.isUint) {
      n.isFloat = true;
      n.float64 = Number(n.uint64);
    } else {
      const f = parseFloatGo(text);
      if (f !== undefined) {
        if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${quoteGo(text)}`);
        n.isFloat = true;
        n.float64 = f;
        if (!n.isInt && Number.isFinite(f) && Math.trunc(f) === f && Math.abs(f) < 9223372036854775808) {
          n.isInt = true;
          n.int64 = BigInt(f);
        }
        if (!n.isUint && Number.isFinite(f) && Math.trunc(f) === f && f >= 0 && f < 18446744073709551616) {
          n.isUint = true;
          n.uint64 = BigInt(f);
        }
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) this.errorf(`illegal number syntax: ${quoteGo(text)}`);
    return n;
  }
}

function simplifyComplex(n: NumberNode): void {
  n.isFloat = n.complex[1] === 0;
  if (n.isFloat) {
    n.float64 = n.complex[0];
    const f = n.float64;
    n.isInt = Number.isFinite(f) && Math.trunc(f) === f && Math.abs(f) < 9223372036854775808;
    if (n.isInt) n.int64 = BigInt(f);
    n.isUint = Number.isFinite(f) && Math.trunc(f) === f && f >= 0 && f < 18446744073709551616;
    if (n.isUint) n.uint64 = BigInt(f);
  }
}

function parseComplex(text: string): [number, number] | null {
  // real part followed by signed imaginary part ending in 'i'.
  for (let i = text.length - 2; i > 0; i--) {
    const c = text[i];
    if ((c === '+' || c === '-') && !/[eEpP]/.test(text[i - 1])) {
      const re = parseFloatGo(text.slice(0, i));
      const im = parseFloatGo(text.slice(i, -1));
      if (re === undefined || im === undefined) return null;
      return [re, im];
    }
  }
  return null;
}

/**
 * Parses template text into a set of named trees (the top-level one named `name`, plus every
 * {{define}} and {{block}}). `hasFunction` tells whether an identifier names a function.
 */
export function parseTemplates(name: string, text: string, hasFunction: (name: string) => boolean): Map<string, Tree> {
  const treeSet = new Map<string, Tree>();
  const t = new TreeParser(name, name, text, hasFunction, treeSet);
  const lex = new Lexer(name, text);
  t.startParse(lex);
  t.parse();
  t.add();
  return treeSet;
}
