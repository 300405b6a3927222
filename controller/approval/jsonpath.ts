// kubectl's JSONPath templates (`kubectl get -o jsonpath=...`): text with `{...}` actions, e.g.
//   connectors/proxy/v1/pod/{.object.metadata.namespace}/{.object.metadata.name}
//   {.object.metadata.labels.tekton\.dev/pipelineRun}      (escaped dots, as kubectl wants them)
//   {.object.metadata.labels['tekton\.dev/pipelineRun']}
// The template and path syntax is kubectl's (client-go util/jsonpath): fields with `\` escapes, `['key']`,
// `[n]`, `[a:b]`, `[*]`, `..`, filters `[?(@.type=="Ready")]`, quoted text `{"-"}`. Evaluation is done by
// jsonpath-plus (a maintained JSONPath engine; client-node already depends on it), over the path as a list
// of segments, so a key with dots or slashes is never re-parsed. Where kubectl is stricter we accept more: a
// quoted key in brackets is the key as written (kubectl splits `['a.b']` at the dot unless escaped), and
// double quotes work there too (`["tekton\.dev/pipelineRun"]`, the form of the reference's design).
// Not supported: `range`/`end` and unions; they are reported as errors.
// Output as kubectl prints it: strings as they are, other values as JSON, several results space-separated;
// a path that finds nothing is an error ("... is not found").
import { JSONPath } from 'jsonpath-plus';

export class JsonPathError extends Error {
  override name = 'JsonPathError';
}

type Part = { text: string } | { path: string[]; source: string } | { literal: string };

/** Whether a string holds a `{...}` action (plain values need no evaluation). */
export const isTemplate = (s: string) => s.includes('{');

/** Splits a template into text and actions, respecting quotes and brackets inside actions. */
function split(template: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  let text = '';
  while (i < template.length) {
    const c = template[i];
    if (c !== '{') {
      text += c;
      i++;
      continue;
    }
    if (text) parts.push({ text });
    text = '';
    let j = i + 1;
    let quote = '';
    let depth = 0;
    for (; j < template.length; j++) {
      const d = template[j];
      if (quote) {
        if (d === '\\') j++;
        else if (d === quote) quote = '';
      } else if (d === '"' || d === "'") quote = d;
      else if (d === '[') depth++;
      else if (d === ']') depth--;
      else if (d === '}' && depth <= 0) break;
      else if (d === '\\') j++;
    }
    if (j >= template.length) throw new JsonPathError(`unclosed action in ${JSON.stringify(template)}`);
    const body = template.slice(i + 1, j).trim();
    const quoted = /^(["'])(.*)\1$/s.exec(body);
    if (quoted) parts.push({ literal: unquote(quoted[2], quoted[1]) });
    else parts.push({ path: parsePath(body), source: body });
    i = j + 1;
  }
  if (text) parts.push({ text });
  return parts;
}

function unquote(s: string, quote: string): string {
  if (quote === '"') {
    try {
      return JSON.parse(`"${s}"`) as string;
    } catch {
      throw new JsonPathError(`invalid quoted string "${s}"`);
    }
  }
  return s.replace(/\\(.)/g, '$1');
}

const FIELD_END = new Set(['.', '[', ']', ',', '$', '@', '{', '}', ' ', '\t']);

/** kubectl path syntax → jsonpath-plus segments (`$` first). */
export function parsePath(src: string): string[] {
  const segs = ['$'];
  let i = 0;
  const err = (what: string) => new JsonPathError(`${what} at position ${i} of ${JSON.stringify(src)}`);
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if ((c === '$' || c === '@') && segs.length === 1) {
      i++;
    } else if (src.startsWith('..', i)) {
      segs.push('..');
      i += 2;
      if (src[i] && !FIELD_END.has(src[i])) i = field(i);
    } else if (c === '.') {
      i = field(i + 1);
    } else if (c === '[') {
      i = bracket(i);
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))![0];
      throw err(word === 'range' || word === 'end' ? `"${word}" is not supported` : `unexpected "${word}"`);
    } else {
      throw err(`unexpected character ${JSON.stringify(c)}`);
    }
  }
  return segs;

  function field(start: number): number {
    let name = '';
    let j = start;
    for (; j < src.length && !FIELD_END.has(src[j]); j++) {
      if (src[j] === '\\' && j + 1 < src.length) name += src[++j];
      else name += src[j];
    }
    if (!name) throw err('empty field name');
    segs.push(name);
    return j;
  }

  function bracket(start: number): number {
    if (src.startsWith('[?(', start)) {
      let depth = 0;
      let quote = '';
      for (let j = start + 1; j < src.length; j++) {
        const d = src[j];
        if (quote) {
          if (d === '\\') j++;
          else if (d === quote) quote = '';
        } else if (d === '"' || d === "'") quote = d;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) {
          if (src[j + 1] !== ']') throw err('a filter must end with )]');
          segs.push(src.slice(start + 1, j + 1));
          return j + 2;
        }
      }
      throw err('unterminated filter');
    }
    const close = closingBracket(start);
    const inner = src.slice(start + 1, close).trim();
    const quoted = /^(["'])(.*)\1$/s.exec(inner);
    if (quoted) segs.push(quoted[2].replace(/\\(.)/g, '$1'));
    else if (inner === '*') segs.push('*');
    else if (/^-?\d*(:-?\d*)?(:-?\d*)?$/.test(inner) && inner !== '') segs.push(inner);
    else if (inner.includes(',')) throw err('unions are not supported');
    else throw err(`invalid array index ${JSON.stringify(inner)}`);
    return close + 1;
  }

  function closingBracket(start: number): number {
    let quote = '';
    for (let j = start + 1; j < src.length; j++) {
      const d = src[j];
      if (quote) {
        if (d === '\\') j++;
        else if (d === quote) quote = '';
      } else if (d === '"' || d === "'") quote = d;
      else if (d === ']') return j;
    }
    throw err('unterminated [');
  }
}

function format(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? '';
}

/** Checks a template's syntax without evaluating it (admission, template validation). */
export function checkTemplate(template: string): void {
  split(template);
}

/** Evaluates a template over `data`, as `kubectl -o jsonpath=<template>` prints it. */
export function renderTemplate(template: string, data: unknown): string {
  let out = '';
  for (const part of split(template)) {
    if ('text' in part) out += part.text;
    else if ('literal' in part) out += part.literal;
    else {
      let found: unknown[];
      try {
        found = JSONPath<unknown[]>({ path: part.path, json: data as object, wrap: true, eval: 'safe' });
      } catch (e) {
        throw new JsonPathError(`{${part.source}}: ${(e as Error).message}`);
      }
      if (!found.length) throw new JsonPathError(`{${part.source}} is not found`);
      out += found.map(format).join(' ');
    }
  }
  return out;
}
