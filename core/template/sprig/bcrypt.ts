// bcrypt ($2a$, as golang.org/x/crypto/bcrypt generates it) on a small Blowfish implementation.
// The Blowfish initial state is the hexadecimal expansion of pi, computed once on first use.
import { randomBytes } from 'node:crypto';

let PI_WORDS: Uint32Array | undefined;

/** First 1042 32-bit words of the fractional part of pi (Blowfish P-array then S-boxes). */
function piWords(): Uint32Array {
  if (PI_WORDS) return PI_WORDS;
  const words = 18 + 4 * 256;
  const bits = BigInt(words * 32 + 64);
  const one = 1n << bits;
  const arctanInv = (x: bigint): bigint => {
    let sum = 0n;
    let term = one / x;
    const x2 = x * x;
    let k = 1n;
    let sign = 1n;
    while (term !== 0n) {
      sum += sign * (term / k);
      term /= x2;
      k += 2n;
      sign = -sign;
    }
    return sum;
  };
  const pi = 16n * arctanInv(5n) - 4n * arctanInv(239n);
  const frac = pi & (one - 1n);
  const out = new Uint32Array(words);
  for (let i = 0; i < words; i++) out[i] = Number((frac >> (bits - BigInt((i + 1) * 32))) & 0xffffffffn);
  PI_WORDS = out;
  return out;
}

class Blowfish {
  p: Uint32Array;
  s: Uint32Array;
  constructor() {
    const pi = piWords();
    this.p = pi.slice(0, 18);
    this.s = pi.slice(18);
  }
  f(x: number): number {
    const s = this.s;
    return (
      ((((s[x >>> 24] + s[256 + ((x >>> 16) & 0xff)]) >>> 0) ^ s[512 + ((x >>> 8) & 0xff)]) + s[768 + (x & 0xff)]) >>> 0
    );
  }
  encrypt(l: number, r: number): [number, number] {
    const p = this.p;
    l ^= p[0];
    for (let i = 1; i <= 16; i += 2) {
      r ^= this.f(l) ^ p[i];
      l ^= this.f(r) ^ p[i + 1];
    }
    r ^= p[17];
    return [r >>> 0, l >>> 0];
  }
  expand(key: Buffer, salt?: Buffer): void {
    const word = (buf: Buffer, pos: { i: number }): number => {
      let w = 0;
      for (let k = 0; k < 4; k++) {
        w = ((w << 8) | buf[pos.i]) >>> 0;
        pos.i = (pos.i + 1) % buf.length;
      }
      return w;
    };
    const kp = { i: 0 };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i] ^ word(key, kp)) >>> 0;
    const sp = { i: 0 };
    let l = 0;
    let r = 0;
    const next = (): void => {
      if (salt) {
        l ^= word(salt, sp);
        r ^= word(salt, sp);
      }
      [l, r] = this.encrypt(l, r);
    };
    for (let i = 0; i < 18; i += 2) {
      next();
      this.p[i] = l;
      this.p[i + 1] = r;
    }
    for (let i = 0; i < 1024; i += 2) {
      next();
      this.s[i] = l;
      this.s[i + 1] = r;
    }
  }
}

const B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function bcryptBase64(buf: Buffer): string {
  const std = buf.toString('base64').replace(/=+$/, '');
  const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (const c of std) out += B64[STD.indexOf(c)];
  return out;
}

function bcryptBase64Decode(s: string): Buffer {
  const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let std = '';
  for (const c of s) std += STD[B64.indexOf(c)];
  return Buffer.from(std, 'base64');
}

function rawHash(password: Buffer, cost: number, salt: Buffer): Buffer {
  const key = Buffer.concat([password, Buffer.from([0])]);
  const bf = new Blowfish();
  bf.expand(key, salt);
  const rounds = 1 << cost;
  for (let i = 0; i < rounds; i++) {
    bf.expand(key);
    bf.expand(salt);
  }
  const magic = Buffer.from('OrpheanBeholderScryDoubt');
  const words: number[] = [];
  for (let i = 0; i < 24; i += 4) words.push(magic.readUInt32BE(i));
  for (let k = 0; k < 64; k++) {
    for (let i = 0; i < 6; i += 2) [words[i], words[i + 1]] = bf.encrypt(words[i], words[i + 1]);
  }
  const out = Buffer.alloc(24);
  words.forEach((w, i) => out.writeUInt32BE(w, i * 4));
  return out.subarray(0, 23);
}

/** bcrypt.GenerateFromPassword(password, cost) with a random salt (or the given one). */
export function bcryptHash(password: string, cost = 10, salt?: Buffer): string {
  const pw = Buffer.from(password, 'utf8');
  if (pw.length > 72) throw new Error('bcrypt: password length exceeds 72 bytes');
  const s = salt ?? randomBytes(16);
  const saltStr = bcryptBase64(s).slice(0, 22);
  return `$2a$${String(cost).padStart(2, '0')}$${saltStr}${bcryptBase64(rawHash(pw, cost, bcryptBase64Decode(saltStr))).slice(0, 31)}`;
}

/** bcrypt.CompareHashAndPassword */
export function bcryptCompare(hash: string, password: string): boolean {
  const m = /^\$2[abxy]?\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(hash);
  if (!m) return false;
  const cost = Number(m[1]);
  const salt = bcryptBase64Decode(m[2]).subarray(0, 16);
  const got = bcryptBase64(rawHash(Buffer.from(password, 'utf8'), cost, salt)).slice(0, 31);
  return got === m[3];
}
