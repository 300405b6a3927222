// sprig encodings: base64 and base32 (strings.go). Decoding errors are returned as the text.
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(data: Buffer): string {
  let out = '';
  for (let i = 0; i < data.length; i += 5) {
    const chunk = data.subarray(i, i + 5);
    let bits = 0n;
    for (let k = 0; k < 5; k++) bits = (bits << 8n) | BigInt(chunk[k] ?? 0);
    const nChars = [0, 2, 4, 5, 7, 8][chunk.length];
    for (let k = 0; k < 8; k++) {
      out += k < nChars ? B32[Number((bits >> BigInt(35 - 5 * k)) & 31n)] : '=';
    }
  }
  return out;
}

/** encoding/base64 StdEncoding.DecodeString (Go's decodeQuantum, CorruptInputError offsets). */
export function base64Decode(str: string): Buffer | string {
  const src = Buffer.from(str, 'utf8');
  const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const map = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) map[STD.charCodeAt(i)] = i;
  const out: number[] = [];
  const corrupt = (n: number) => `illegal base64 data at input byte ${n}`;
  let si = 0;
  while (si < src.length || si === 0) {
    const dbuf = [0, 0, 0, 0];
    let dlen = 4;
    let stop = false;
    let j = 0;
    for (; j < 4; j++) {
      if (src.length === si) {
        if (j === 0) return Buffer.from(out);
        return corrupt(si - j);
      }
      const inb = src[si];
      si++;
      const o = map[inb];
      if (o >= 0) {
        dbuf[j] = o;
        continue;
      }
      if (inb === 0x0a || inb === 0x0d) {
        j--;
        continue;
      }
      if (inb !== 0x3d) return corrupt(si - 1);
      if (j === 0 || j === 1) return corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
        if (si === src.length) return corrupt(src.length);
        if (src[si] !== 0x3d) return corrupt(si - 1);
        si++;
      }
      while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
      if (si < src.length) return corrupt(si);
      dlen = j;
      stop = true;
      break;
    }
    const val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    out.push(...bytes.slice(0, dlen - 1));
    if (stop) break;
    if (src.length === 0) break;
  }
  return Buffer.from(out);
}

export function base32Decode(s: string): Buffer | string {
  const clean = s.replace(/[\r\n]/g, '');
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  let sawPad = false;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i];
    if (c === '=') {
      sawPad = true;
      continue;
    }
    const v = B32.indexOf(c);
    if (v < 0 || sawPad) return `illegal base32 data at input byte ${i}`;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if (clean.length % 8 !== 0)
    return `illegal base32 data at input byte ${clean.length - (clean.length % 8) + (clean.length % 8 > 0 ? clean.length % 8 : 0)}`;
  return Buffer.from(bytes);
}

export function encodingFuncs(): FuncMap {
  return {
    b64enc: fn(['string'], 'string', (v: string) => Buffer.from(v, 'utf8').toString('base64')),
    b64dec: fn(['string'], 'string', (v: string) => {
      const r = base64Decode(v);
      return typeof r === 'string' ? r : r.toString('utf8');
    }),
    b32enc: fn(['string'], 'string', (v: string) => base32Encode(Buffer.from(v, 'utf8'))),
    b32dec: fn(['string'], 'string', (v: string) => {
      const r = base32Decode(v);
      return typeof r === 'string' ? r : r.toString('utf8');
    }),
  };
}
