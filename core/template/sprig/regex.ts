// sprig regex functions over Go's RE2 syntax: patterns are translated to JavaScript regular
// expressions (u flag) and Go's match-iteration rules (empty matches, $name expansion) are kept.
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import { canBackquote, quoteGo } from '../strconv.ts';
import type { GoValue } from '../values.ts';
import { GoInt, nilSlice, tagArray } from '../values.ts';

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const JS_SYNTAX = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/']);

class RegexpError extends Error {}

function perr(code: string, arg: string): never {
  throw new RegexpError(`error parsing regexp: ${code}: \`${arg}\``);
}

interface Compiled {
  re: RegExp;
  names: (string | undefined)[];
  numGroups: number;
}

const cache = new Map<string, Compiled>();

/** Translates a Go regexp to a JavaScript RegExp, or throws RegexpError with Go's message. */
export function compile(expr: string): Compiled {
  const hit = cache.get(expr);
  if (hit) return hit;
  let flags = 'u';
  let out = '';
  let i = 0;
  const n = expr.length;
  let depth = 0;
  let groups = 0;
  const names: (string | undefined)[] = [undefined];
  let dotAll = false;
  let lastAtomEnd = -1; // out length after the last repeatable atom (-1: nothing to repeat)
  // leading global flags
  const lead = /^\(\?([imsU]+)\)/.exec(expr);
  if (lead) {
    for (const f of lead[1]) {
      if (f === 'i') flags += 'i';
      if (f === 'm') flags += 'm';
      if (f === 's') dotAll = true;
    }
    i = lead[0].length;
  }
  const classEscape = (c: string): string => {
    switch (c) {
      case 'd':
        return '0-9';
      case 'D':
        return '\\x00-\\/:-\\u{10FFFF}';
      case 'w':
        return '0-9A-Za-z_';
      case 's':
        return '\\t\\n\\f\\r ';
      case 'n':
        return '\\n';
      case 't':
        return '\\t';
      case 'r':
        return '\\r';
      case 'f':
        return '\\f';
      case 'v':
        return '\\v';
      case 'a':
        return '\\x07';
    }
    return '';
  };
  while (i < n) {
    const c = expr[i];
    if (c === '\\') {
      if (i + 1 >= n) perr('trailing backslash at end of expression', '');
      const e = expr[i + 1];
      i += 2;
      if (e === 'Q') {
        const end = expr.indexOf('\\E', i);
        const lit = end < 0 ? expr.slice(i) : expr.slice(i, end);
        i = end < 0 ? n : end + 2;
        for (const ch of lit) out += JS_SYNTAX.has(ch) || ch === '-' ? '\\' + ch : ch;
        lastAtomEnd = out.length;
        continue;
      }
      if (e === 'A') {
        out += flags.includes('m') ? '(?<![\\s\\S])' : '^';
        lastAtomEnd = -1;
        continue;
      }
      if (e === 'z') {
        out += '(?![\\s\\S])';
        lastAtomEnd = -1;
        continue;
      }
      if (e === 'b' || e === 'B') {
        out += '\\' + e;
        lastAtomEnd = -1;
        continue;
      }
      if (e === 's') out += '[\\t\\n\\f\\r ]';
      else if (e === 'S') out += '[^\\t\\n\\f\\r ]';
      else if (e === 'd' || e === 'D' || e === 'w' || e === 'W') out += '\\' + e;
      else if (e === 'p' || e === 'P') {
        let name: string;
        if (expr[i] === '{') {
          const end = expr.indexOf('}', i);
          if (end < 0) perr('invalid character class range', expr.slice(i - 2));
          name = expr.slice(i + 1, end);
          i = end + 1;
        } else {
          name = expr[i];
          i++;
        }
        out += `\\${e}{${unicodeClass(name, expr)}}`;
      } else if (e >= '1' && e <= '9') perr('invalid escape sequence', '\\' + e);
      else if ('nrtfv'.includes(e)) out += '\\' + e;
      else if (e === 'a') out += '\\x07';
      else if (e === 'x') {
        if (expr[i] === '{') {
          const end = expr.indexOf('}', i);
          out += `\\u{${expr.slice(i + 1, end)}}`;
          i = end + 1;
        } else {
          out += '\\x' + expr.slice(i, i + 2);
          i += 2;
        }
      } else if (e === '0' || (e >= '0' && e <= '7')) {
        out += '\\x00';
      } else if (/[!-/:-@[-`{-~]/.test(e)) out += JS_SYNTAX.has(e) ? '\\' + e : e === '-' ? '\\-' : e;
      else perr('invalid escape sequence', '\\' + e);
      lastAtomEnd = out.length;
      continue;
    }
    if (c === '[') {
      // character class
      let j = i + 1;
      let cls = '[';
      if (expr[j] === '^') {
        cls += '^';
        j++;
      }
      let first = true;
      for (;;) {
        if (j >= n) perr('missing closing ]', expr.slice(i));
        const d = expr[j];
        if (d === ']' && !first) {
          j++;
          break;
        }
        first = false;
        if (d === '[' && expr[j + 1] === ':') {
          const end = expr.indexOf(':]', j + 2);
          if (end > 0) {
            let name = expr.slice(j + 2, end);
            const neg = name.startsWith('^');
            if (neg) name = name.slice(1);
            const body = POSIX[name];
            if (!body) perr('invalid character class range', expr.slice(j, end + 2));
            cls += neg ? `\\P{ASCII}${body}`.replace(/^/, '') && body : body;
            j = end + 2;
            continue;
          }
        }
        if (d === '\\') {
          const e = expr[j + 1];
          j += 2;
          const ce = classEscape(e);
          if (ce) cls += ce;
          else if (e === 'p' || e === 'P') {
            let name: string;
            if (expr[j] === '{') {
              const end = expr.indexOf('}', j);
              name = expr.slice(j + 1, end);
              j = end + 1;
            } else {
              name = expr[j];
              j++;
            }
            cls += `\\${e}{${unicodeClass(name, expr)}}`;
          } else if (e === 'W' || e === 'S') cls += '\\' + e;
          else if (/[!-/:-@[-`{-~]/.test(e)) cls += '\\' + e;
          else perr('invalid escape sequence', '\\' + e);
          continue;
        }
        if (d === '[' || d === '/' || d === '|' || d === '{' || d === '}' || d === '(' || d === ')') cls += '\\' + d;
        else cls += d;
        j++;
      }
      cls += ']';
      try {
        new RegExp(cls, 'u');
      } catch {
        perr('invalid character class range', expr.slice(i, j));
      }
      out += cls;
      i = j;
      lastAtomEnd = out.length;
      continue;
    }
    if (c === '(') {
      if (expr[i + 1] === '?') {
        const rest = expr.slice(i);
        let m: RegExpExecArray | null;
        if ((m = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest))) {
          groups++;
          names.push(m[1]);
          out += `(?<${m[1]}>`;
          i += m[0].length;
          depth++;
          lastAtomEnd = -1;
          continue;
        }
        if ((m = /^\(\?([imsU-]*):/.exec(rest))) {
          const f = m[1].replace(/[sU]/g, '');
          out += f && f !== '-' ? `(?${f}:` : '(?:';
          i += m[0].length;
          depth++;
          lastAtomEnd = -1;
          continue;
        }
        if ((m = /^\(\?([imsU-]+)\)/.exec(rest))) {
          i += m[0].length;
          continue;
        }
        perr('invalid or unsupported Perl syntax', rest.slice(0, 3));
      }
      groups++;
      names.push(undefined);
      out += '(';
      i++;
      depth++;
      lastAtomEnd = -1;
      continue;
    }
    if (c === ')') {
      if (depth === 0) perr('unexpected )', expr);
      depth--;
      out += ')';
      i++;
      lastAtomEnd = out.length;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      if (lastAtomEnd !== out.length) {
        if (/[*+?]$/.test(out) || /\}$/.test(out)) perr('invalid nested repetition operator', expr.slice(i - 1, i + 1));
        perr('missing argument to repetition operator', c);
      }
      out += c;
      i++;
      if (expr[i] === '?') {
        out += '?';
        i++;
      }
      if (expr[i] === '*' || expr[i] === '+' || expr[i] === '?')
        perr('invalid nested repetition operator', expr.slice(i - 1, i + 1));
      lastAtomEnd = -2;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(expr.slice(i));
      if (m) {
        if (lastAtomEnd !== out.length) perr('missing argument to repetition operator', m[0]);
        const lo = Number(m[1]);
        const hi = m[3] ? Number(m[3]) : lo;
        if (lo > 1000 || hi > 1000 || (m[3] && hi < lo)) perr('invalid repeat count', m[0]);
        out += m[0];
        i += m[0].length;
        if (expr[i] === '?') {
          out += '?';
          i++;
        }
        lastAtomEnd = -2;
        continue;
      }
      out += '\\{';
      i++;
      lastAtomEnd = out.length;
      continue;
    }
    if (c === '}') {
      out += '\\}';
      i++;
      lastAtomEnd = out.length;
      continue;
    }
    if (c === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
      lastAtomEnd = out.length;
      continue;
    }
    if (c === '^' || c === '$' || c === '|') {
      out += c;
      i++;
      lastAtomEnd = -1;
      continue;
    }
    if (c === '/') {
      out += '\\/';
      i++;
      lastAtomEnd = out.length;
      continue;
    }
    const cp = expr.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out += ch;
    i += ch.length;
    lastAtomEnd = out.length;
  }
  if (depth > 0) perr('missing closing )', expr);
  let re: RegExp;
  try {
    re = new RegExp(out, flags + 'g');
  } catch (e) {
    throw new RegexpError(`error parsing regexp: ${(e as Error).message}`);
  }
  const c: Compiled = { re, names, numGroups: groups };
  cache.set(expr, c);
  return c;
}

function unicodeClass(name: string, expr: string): string {
  if (
    /^(L|Lu|Ll|Lt|Lm|Lo|M|Mn|Mc|Me|N|Nd|Nl|No|P|Pc|Pd|Ps|Pe|Pi|Pf|Po|S|Sm|Sc|Sk|So|Z|Zs|Zl|Zp|C|Cc|Cf|Co|Cs)$/.test(
      name,
    )
  )
    return name;
  if (name === 'Any') return 'Any';
  try {
    new RegExp(`\\p{Script=${name}}`, 'u');
    return `Script=${name}`;
  } catch {
    perr('invalid character class range', `\\p{${name}}`);
  }
  void expr;
}

function mustCompile(expr: string): Compiled {
  try {
    return compile(expr);
  } catch (e) {
    if (e instanceof RegexpError) {
      const q = canBackquote(expr) ? '`' + expr + '`' : quoteGo(expr);
      throw new FuncError(`regexp: Compile(${q}): ${e.message}`);
    }
    throw e;
  }
}

function tryCompile(expr: string): Compiled {
  try {
    return compile(expr);
  } catch (e) {
    if (e instanceof RegexpError) throw new FuncError(e.message);
    throw e;
  }
}

function execAt(c: Compiled, s: string, pos: number): RegExpExecArray | null {
  c.re.lastIndex = pos;
  return c.re.exec(s);
}

function cpWidth(s: string, pos: number): number {
  if (pos >= s.length) return 0;
  const cp = s.codePointAt(pos)!;
  return cp > 0xffff ? 2 : 1;
}

/** Go's allMatches iteration. */
function allMatches(c: Compiled, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  if (n < 0) n = s.length + 1;
  const end = s.length;
  let pos = 0;
  let prevMatchEnd = -1;
  while (out.length < n && pos <= end) {
    const m = execAt(c, s, pos);
    if (!m) break;
    const a0 = m.index;
    const a1 = a0 + m[0].length;
    let accept = true;
    if (a1 === pos) {
      if (a0 === prevMatchEnd) accept = false;
      const w = cpWidth(s, pos);
      pos += w > 0 ? w : end + 1;
    } else pos = a1;
    prevMatchEnd = a1;
    if (accept) out.push(m);
  }
  return out;
}

function findAll(expr: string, s: string, n: number, must: boolean): GoValue[] {
  const c = must ? tryCompile(expr) : mustCompile(expr);
  if (n === 0) return nilSlice('[]string');
  const ms = allMatches(c, s, n);
  if (ms.length === 0) return nilSlice('[]string');
  return tagArray(
    ms.map((m) => m[0]),
    '[]string',
  );
}

function find(expr: string, s: string, must: boolean): string {
  const c = must ? tryCompile(expr) : mustCompile(expr);
  const m = execAt(c, s, 0);
  return m ? m[0] : '';
}

function expand(template: string, m: RegExpExecArray, c: Compiled): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    let end: number;
    if (template[i] === '{') {
      const close = template.indexOf('}', i);
      const inner = close < 0 ? '' : template.slice(i + 1, close);
      if (close < 0 || !/^[A-Za-z0-9_]+$/.test(inner)) {
        out += '$';
        continue;
      }
      name = inner;
      end = close + 1;
    } else {
      const mm = /^[A-Za-z0-9_]+/.exec(template.slice(i));
      if (!mm) {
        out += '$';
        continue;
      }
      name = mm[0];
      end = i + name.length;
    }
    i = end;
    let idx: number;
    if (/^[0-9]+$/.test(name)) {
      idx = Number(name);
      if (idx > c.numGroups) idx = -1;
    } else idx = c.names.indexOf(name);
    if (idx >= 0 && m[idx] !== undefined) out += m[idx];
  }
  return out;
}

function replaceAll(expr: string, src: string, repl: string, literal: boolean, must: boolean): string {
  const c = must ? tryCompile(expr) : mustCompile(expr);
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  const end = src.length;
  while (searchPos <= end) {
    const m = execAt(c, src, searchPos);
    if (!m) break;
    const a0 = m.index;
    const a1 = a0 + m[0].length;
    out += src.slice(lastMatchEnd, a0);
    if (a1 > lastMatchEnd || a0 === 0) out += literal ? repl : expand(repl, m, c);
    lastMatchEnd = a1;
    const w = cpWidth(src, searchPos);
    if (searchPos + w > a1) searchPos += w;
    else if (searchPos + 1 > a1) searchPos++;
    else searchPos = a1;
  }
  return out + src.slice(lastMatchEnd);
}

function split(expr: string, s: string, n: number, must: boolean): GoValue[] {
  const c = must ? tryCompile(expr) : mustCompile(expr);
  if (n === 0) return nilSlice('[]string');
  if (expr.length > 0 && s.length === 0) return tagArray([''], '[]string');
  const matches = allMatches(c, s, n);
  const strings: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of matches) {
    if (n > 0 && strings.length === n - 1) break;
    end = m.index;
    if (m.index + m[0].length !== 0) strings.push(s.slice(beg, end));
    beg = m.index + m[0].length;
  }
  if (end !== s.length) strings.push(s.slice(beg));
  return tagArray(strings, '[]string');
}

function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function matchString(expr: string, s: string): boolean {
  const c = tryCompile(expr);
  return execAt(c, s, 0) !== null;
}

export function regexFuncs(): FuncMap {
  const S = 'string';
  const num = (v: GoInt) => Number(v.v);
  return {
    regexMatch: fn([S, S], 'bool', (r: string, s: string) => {
      try {
        return matchString(r, s);
      } catch {
        return false;
      }
    }),
    mustRegexMatch: fn([S, S], 'bool', matchString, { errReturn: true }),
    regexFindAll: fn([S, S, 'int'], '[]string', (r: string, s: string, n: GoInt) => findAll(r, s, num(n), false)),
    mustRegexFindAll: fn([S, S, 'int'], '[]string', (r: string, s: string, n: GoInt) => findAll(r, s, num(n), true), {
      errReturn: true,
    }),
    regexFind: fn([S, S], S, (r: string, s: string) => find(r, s, false)),
    mustRegexFind: fn([S, S], S, (r: string, s: string) => find(r, s, true), { errReturn: true }),
    regexReplaceAll: fn([S, S, S], S, (r: string, s: string, repl: string) => replaceAll(r, s, repl, false, false)),
    mustRegexReplaceAll: fn([S, S, S], S, (r: string, s: string, repl: string) => replaceAll(r, s, repl, false, true), {
      errReturn: true,
    }),
    regexReplaceAllLiteral: fn([S, S, S], S, (r: string, s: string, repl: string) =>
      replaceAll(r, s, repl, true, false),
    ),
    mustRegexReplaceAllLiteral: fn(
      [S, S, S],
      S,
      (r: string, s: string, repl: string) => replaceAll(r, s, repl, true, true),
      { errReturn: true },
    ),
    regexSplit: fn([S, S, 'int'], '[]string', (r: string, s: string, n: GoInt) => split(r, s, num(n), false)),
    mustRegexSplit: fn([S, S, 'int'], '[]string', (r: string, s: string, n: GoInt) => split(r, s, num(n), true), {
      errReturn: true,
    }),
    regexQuoteMeta: fn([S], S, quoteMeta),
  };
}
