// sprig urlParse / urlJoin over a port of the parts of Go's net/url they use.
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import type { GoMap, GoValue } from '../values.ts';
import { newMap } from '../values.ts';
import { reflectKind } from './lists.ts';

type Mode = 'path' | 'pathSegment' | 'host' | 'zone' | 'userPassword' | 'queryComponent' | 'fragment';

function shouldEscape(c: number, mode: Mode): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)) return false;
  const ch = String.fromCharCode(c);
  if (mode === 'host' || mode === 'zone') {
    if ('!$&\'()*+,;=:[]<>"'.includes(ch)) return false;
  }
  if ('-_.~'.includes(ch)) return false;
  if ('$&+,/:;=?@'.includes(ch)) {
    switch (mode) {
      case 'path':
        return ch === '?';
      case 'pathSegment':
        return ch === '/' || ch === ';' || ch === ',' || ch === '?';
      case 'userPassword':
        return ch === '@' || ch === '/' || ch === '?' || ch === ':';
      case 'queryComponent':
        return true;
      case 'fragment':
        return false;
    }
  }
  if (mode === 'fragment' && (ch === '!' || ch === '(' || ch === ')' || ch === '*')) return false;
  return true;
}

function escape(s: string, mode: Mode): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (shouldEscape(b, mode)) {
      if (b === 0x20 && mode === 'queryComponent') out += '+';
      else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    } else out += String.fromCharCode(b);
  }
  return out;
}

class URLError extends Error {}

function ishex(c: string): boolean {
  return /^[0-9a-fA-F]$/.test(c);
}

function unescape(s: string, mode: Mode): string {
  let n = 0;
  for (let i = 0; i < s.length;) {
    if (s[i] === '%') {
      n++;
      if (i + 2 >= s.length || !ishex(s[i + 1]) || !ishex(s[i + 2])) {
        let bad = s.slice(i);
        if (bad.length > 3) bad = bad.slice(0, 3);
        throw new URLError(`invalid URL escape ${JSON.stringify(bad)}`);
      }
      i += 3;
    } else {
      if ((mode === 'host' || mode === 'zone') && s.charCodeAt(i) < 0x80 && shouldEscape(s.charCodeAt(i), mode)) {
        throw new URLError(`invalid character ${JSON.stringify(s[i])} in host name`);
      }
      i++;
    }
  }
  if (n === 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length;) {
    if (s[i] === '%') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      for (const b of Buffer.from(s[i], 'utf8')) bytes.push(b);
      i++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

interface URL_ {
  scheme: string;
  opaque: string;
  user?: { username: string; password?: string };
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
  fragment: string;
  forceQuery: boolean;
}

function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new URLError('missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

function parseAuthority(authority: string): [URL_['user'], string] {
  const i = authority.lastIndexOf('@');
  let host: string;
  if (i < 0) host = parseHost(authority);
  else host = parseHost(authority.slice(i + 1));
  if (i < 0) return [undefined, host];
  const userinfo = authority.slice(0, i);
  if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) throw new URLError('net/url: invalid userinfo');
  const ci = userinfo.indexOf(':');
  if (ci < 0) return [{ username: unescape(userinfo, 'userPassword') }, host];
  return [
    {
      username: unescape(userinfo.slice(0, ci), 'userPassword'),
      password: unescape(userinfo.slice(ci + 1), 'userPassword'),
    },
    host,
  ];
}

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new URLError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (colonPort !== '' && !/^:[0-9]*$/.test(colonPort))
      throw new URLError(`invalid port ${JSON.stringify(colonPort)} after host`);
    return unescape(host, 'host');
  }
  const i = host.lastIndexOf(':');
  if (i >= 0) {
    const colonPort = host.slice(i);
    if (!/^:[0-9]*$/.test(colonPort)) throw new URLError(`invalid port ${JSON.stringify(colonPort)} after host`);
  }
  return unescape(host, 'host');
}

export function parseURL(raw: string): URL_ {
  const hash = raw.indexOf('#');
  const u = parse(hash < 0 ? raw : raw.slice(0, hash), raw);
  if (hash >= 0) u.fragment = unescape(raw.slice(hash + 1), 'fragment');
  return u;
}

function parse(rawURL: string, full: string): URL_ {
  // eslint-disable-next-line no-control-regex -- the check is for control characters, as in Go's net/url
  if (/[\x00-\x1f\x7f]/.test(rawURL))
    throw new URLError(`parse ${JSON.stringify(full)}: net/url: invalid control character in URL`);
  const url: URL_ = {
    scheme: '',
    opaque: '',
    host: '',
    path: '',
    rawPath: '',
    rawQuery: '',
    fragment: '',
    forceQuery: false,
  };
  if (rawURL === '') return url;
  let rest: string;
  try {
    [url.scheme, rest] = getScheme(rawURL);
  } catch (e) {
    throw new URLError(`parse ${JSON.stringify(full)}: ${(e as Error).message}`);
  }
  url.scheme = url.scheme.toLowerCase();
  if (rest.endsWith('?') && rest.split('?').length === 2) {
    url.forceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      url.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (url.scheme !== '') {
      url.opaque = rest;
      return url;
    }
    const seg = rest.split('/')[0];
    if (seg.includes(':'))
      throw new URLError(`parse ${JSON.stringify(full)}: first path segment in URL cannot contain colon`);
  }
  if ((url.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    let r = '';
    const i = authority.indexOf('/');
    if (i >= 0) {
      r = authority.slice(i);
      authority = authority.slice(0, i);
    }
    try {
      [url.user, url.host] = parseAuthority(authority);
    } catch (e) {
      throw new URLError(`parse ${JSON.stringify(full)}: ${(e as Error).message}`);
    }
    rest = r;
  }
  try {
    url.path = unescape(rest, 'path');
  } catch (e) {
    throw new URLError(`parse ${JSON.stringify(full)}: ${(e as Error).message}`);
  }
  const esc = escape(url.path, 'path');
  url.rawPath = rest === esc ? '' : rest;
  return url;
}

function hostname(host: string): string {
  if (host.startsWith('[')) {
    const i = host.indexOf(']');
    return i >= 0 ? host.slice(1, i) : host.slice(1);
  }
  const i = host.lastIndexOf(':');
  if (i >= 0 && /^:[0-9]*$/.test(host.slice(i))) return host.slice(0, i);
  return host;
}

function userString(u: { username: string; password?: string }): string {
  let s = escape(u.username, 'userPassword');
  if (u.password !== undefined) s += ':' + escape(u.password, 'userPassword');
  return s;
}

function validEncoded(s: string, mode: Mode): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ("!$&'()*+,;=:@[]".includes(c)) continue;
    if (c === '%') continue;
    if (shouldEscape(s.charCodeAt(i), mode)) return false;
  }
  return true;
}

function escapedPath(u: URL_): string {
  if (u.rawPath !== '' && validEncoded(u.rawPath, 'path')) {
    try {
      if (unescape(u.rawPath, 'path') === u.path) return u.rawPath;
    } catch {
      // fall through
    }
  }
  if (u.path === '*') return '*';
  return escape(u.path, 'path');
}

export function urlString(u: URL_): string {
  let buf = '';
  if (u.scheme !== '') buf += u.scheme + ':';
  if (u.opaque !== '') buf += u.opaque;
  else {
    if (u.scheme !== '' || u.host !== '' || u.user) {
      if (u.host !== '' || u.path !== '' || u.user) buf += '//';
      if (u.user) buf += userString(u.user) + '@';
      if (u.host !== '') buf += escape(u.host, 'host');
    }
    const path = escapedPath(u);
    if (path !== '' && path[0] !== '/' && u.host !== '') buf += '/';
    if (buf.length === 0) {
      const seg = path.split('/')[0];
      if (seg.includes(':')) buf += './';
    }
    buf += path;
  }
  if (u.forceQuery || u.rawQuery !== '') buf += '?' + u.rawQuery;
  if (u.fragment !== '') buf += '#' + escape(u.fragment, 'fragment');
  return buf;
}

function dictGetOrEmpty(d: GoMap, key: string): string {
  if (!Object.prototype.hasOwnProperty.call(d, key)) return '';
  const v = d[key];
  const k = reflectKind(v);
  if (k !== 'string') throw new FuncError(`unable to parse ${key} key, must be of type string, but ${k} found`);
  return v as string;
}

export function urlFuncs(): FuncMap {
  const M = 'map[string]interface {}';
  return {
    urlParse: fn(['string'], M, (v: string) => {
      let u: URL_;
      try {
        u = parseURL(v);
      } catch (e) {
        throw new FuncError(`unable to parse url: ${(e as Error).message}`);
      }
      const d = newMap();
      d.scheme = u.scheme;
      d.host = u.host;
      d.hostname = hostname(u.host);
      d.path = u.path;
      d.query = u.rawQuery;
      d.opaque = u.opaque;
      d.fragment = u.fragment;
      d.userinfo = u.user ? userString(u.user) : '';
      return d;
    }),
    urlJoin: fn([M], 'string', (d: GoMap) => {
      const u: URL_ = {
        scheme: dictGetOrEmpty(d, 'scheme'),
        host: dictGetOrEmpty(d, 'host'),
        path: dictGetOrEmpty(d, 'path'),
        rawQuery: dictGetOrEmpty(d, 'query'),
        opaque: dictGetOrEmpty(d, 'opaque'),
        fragment: dictGetOrEmpty(d, 'fragment'),
        rawPath: '',
        forceQuery: false,
      };
      const userinfo = dictGetOrEmpty(d, 'userinfo');
      if (userinfo !== '') {
        try {
          u.user = parseURL(`proto://${userinfo}@host`).user;
        } catch (e) {
          throw new FuncError(`unable to parse userinfo in dict: ${(e as Error).message}`);
        }
      }
      return urlString(u);
    }),
  };
}

export type { GoValue };
