// sprig path functions: path.Base/Dir/Clean/Ext/IsAbs and their filepath (Linux) variants.
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';

/** path.Clean */
export function clean(p: string): string {
  if (p === '') return '.';
  const rooted = p[0] === '/';
  const parts = p.split('/');
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

export function base(p: string): string {
  if (p === '') return '.';
  while (p.length > 0 && p[p.length - 1] === '/') p = p.slice(0, -1);
  const i = p.lastIndexOf('/');
  if (i >= 0) p = p.slice(i + 1);
  return p === '' ? '/' : p;
}

export function dir(p: string): string {
  const i = p.lastIndexOf('/');
  return clean(p.slice(0, i + 1));
}

export function ext(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

export function pathFuncs(): FuncMap {
  const S = 'string';
  return {
    base: fn([S], S, base),
    dir: fn([S], S, dir),
    clean: fn([S], S, clean),
    ext: fn([S], S, ext),
    isAbs: fn([S], 'bool', (p: string) => p.startsWith('/')),
    osBase: fn([S], S, base),
    osClean: fn([S], S, clean),
    osDir: fn([S], S, dir),
    osExt: fn([S], S, ext),
    osIsAbs: fn([S], 'bool', (p: string) => p.startsWith('/')),
  };
}
