// sprig hashes and crypto (crypto.go) on node:crypto.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  scryptSync,
} from 'node:crypto';
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import type { GoValue } from '../values.ts';
import { GoInt, GoStruct } from '../values.ts';
import { bcryptHash } from './bcrypt.ts';
import { base64Decode } from './encoding.ts';

const S = 'string';

function adler32(s: string): number {
  let a = 1;
  let b = 0;
  for (const byte of Buffer.from(s, 'utf8')) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function bcrypt(input: string): string {
  try {
    return bcryptHash(input);
  } catch (e) {
    return `failed to encrypt string with bcrypt: ${(e as Error).message}`;
  }
}

const TEMPLATES: Record<string, string[]> = {
  maximum: ['anoxxxxxxxxxxxxxxxxx', 'axxxxxxxxxxxxxxxxxno'],
  long: [
    'CvcvnoCvcvCvcv',
    'CvcvCvcvnoCvcv',
    'CvcvCvcvCvcvno',
    'CvccnoCvcvCvcv',
    'CvccCvcvnoCvcv',
    'CvccCvcvCvcvno',
    'CvcvnoCvccCvcv',
    'CvcvCvccnoCvcv',
    'CvcvCvccCvcvno',
    'CvcvnoCvcvCvcc',
    'CvcvCvcvnoCvcc',
    'CvcvCvcvCvccno',
    'CvccnoCvccCvcv',
    'CvccCvccnoCvcv',
    'CvccCvccCvcvno',
    'CvcvnoCvccCvcc',
    'CvcvCvccnoCvcc',
    'CvcvCvccCvccno',
    'CvccnoCvcvCvcc',
    'CvccCvcvnoCvcc',
    'CvccCvcvCvccno',
  ],
  medium: ['CvcnoCvc', 'CvcCvcno'],
  short: ['Cvcn'],
  basic: ['aaanaaan', 'aannaaan', 'aaannaaa'],
  pin: ['nnnn'],
};
const CHARS: Record<string, string> = {
  V: 'AEIOU',
  C: 'BCDFGHJKLMNPQRSTVWXYZ',
  v: 'aeiou',
  c: 'bcdfghjklmnpqrstvwxyz',
  A: 'AEIOUBCDFGHJKLMNPQRSTVWXYZ',
  a: 'AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz',
  n: '0123456789',
  o: "@&%?,=[]_:-+*$#!'^~;()/.",
  x: 'AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()',
};

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function derivePassword(counter: GoInt, passwordType: string, password: string, user: string, site: string): string {
  const templates = TEMPLATES[passwordType];
  if (!templates) return `cannot find password template ${passwordType}`;
  const seed = Buffer.from('com.lyndir.masterpassword');
  const userB = Buffer.from(user, 'utf8');
  const salt = Buffer.concat([seed, u32(userB.length), userB]);
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, 64, { N: 32768, r: 8, p: 2, maxmem: 256 * 1024 * 1024 });
  const siteB = Buffer.from(site, 'utf8');
  const msg = Buffer.concat([seed, u32(siteB.length), siteB, u32(Number(counter.v))]);
  const h = createHmac('sha256', key).update(msg).digest();
  const temp = templates[h[0] % templates.length];
  let out = '';
  for (let i = 0; i < temp.length; i++) {
    const pass = CHARS[temp[i]];
    out += pass[h[i + 1] % pass.length];
  }
  return out;
}

function pem(type: string, der: Buffer): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

// Minimal DER helpers for the DSA private key format sprig writes.
function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let b = Buffer.from(hex, 'hex');
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02]), derLen(b.length), b]);
}
function derSeq(parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
}
function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}
/** Reads the integers of a DER structure in order (enough for PKCS#8 DSA keys). */
function derIntegers(der: Buffer): bigint[] {
  const out: bigint[] = [];
  const walk = (buf: Buffer): void => {
    let i = 0;
    while (i < buf.length) {
      const tag = buf[i++];
      let len = buf[i++];
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let k = 0; k < n; k++) len = (len << 8) | buf[i++];
      }
      const body = buf.subarray(i, i + len);
      i += len;
      if (tag === 0x02) out.push(BigInt('0x' + (body.toString('hex') || '0')));
      else if (tag === 0x30 || tag === 0x04) walk(body);
    }
  };
  walk(der);
  return out;
}

function generatePrivateKey(typ: string): string {
  switch (typ) {
    case '':
    case 'rsa': {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
      return privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    }
    case 'ecdsa': {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    }
    case 'ed25519': {
      const { privateKey } = generateKeyPairSync('ed25519');
      return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    }
    case 'dsa': {
      const { privateKey } = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
      const der = privateKey.export({ type: 'pkcs8', format: 'der' }) as Buffer;
      // PKCS#8: version, AlgorithmIdentifier{oid, Dss-Parms{p,q,g}}, OCTET STRING{INTEGER x}
      const ints = derIntegers(der);
      const [, p, q, g, x] = ints;
      const y = modPow(g, x, p);
      return pem('DSA PRIVATE KEY', derSeq([derInt(0n), derInt(p), derInt(q), derInt(g), derInt(y), derInt(x)]));
    }
    default:
      return 'Unknown type ' + typ;
  }
}

function encryptAES(password: string, plaintext: string): string {
  if (plaintext === '') return '';
  const key = Buffer.alloc(32);
  Buffer.from(password, 'utf8').copy(key, 0, 0, 32);
  const content = Buffer.from(plaintext, 'utf8');
  const padding = 16 - (content.length % 16);
  const padded = Buffer.concat([content, Buffer.alloc(padding, padding)]);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([iv, c.update(padded), c.final()]).toString('base64');
}

function decryptAES(password: string, crypt64: string): string {
  if (crypt64 === '') return '';
  const key = Buffer.alloc(32);
  Buffer.from(password, 'utf8').copy(key, 0, 0, 32);
  const r = base64Decode(crypt64);
  if (typeof r === 'string') throw new FuncError(r);
  if (r.length < 16) throw new FuncError(`runtime error: slice bounds out of range [:16] with capacity ${r.length}`);
  const iv = r.subarray(0, 16);
  const data = r.subarray(16);
  if (data.length % 16 !== 0) throw new FuncError('crypto/cipher: input not full blocks');
  const d = createDecipheriv('aes-256-cbc', key, iv);
  d.setAutoPadding(false);
  const dec = Buffer.concat([d.update(data), d.final()]);
  if (dec.length === 0) throw new FuncError('runtime error: index out of range [-1]');
  const pad = dec[dec.length - 1];
  const end = dec.length - pad;
  if (end < 0) throw new FuncError(`runtime error: slice bounds out of range [:${end}]`);
  return dec.subarray(0, end).toString('utf8');
}

/** sprig's certificate struct. */
export class Certificate extends GoStruct {
  readonly goType = 'sprig.certificate';
  readonly cert: string;
  readonly key: string;
  constructor(cert: string, key: string) {
    super();
    this.cert = cert;
    this.key = key;
  }
  override fields(): [string, GoValue][] {
    return [
      ['Cert', this.cert],
      ['Key', this.key],
    ];
  }
}

function buildCustomCert(b64cert: string, b64key: string): Certificate {
  const cert = base64Decode(b64cert);
  if (typeof cert === 'string') throw new FuncError('unable to decode base64 certificate');
  const key = base64Decode(b64key);
  if (typeof key === 'string') throw new FuncError('unable to decode base64 private key');
  const certPem = cert.toString('utf8');
  if (!/-----BEGIN [^-]+-----/.test(certPem)) throw new FuncError('unable to decode certificate');
  try {
    createPrivateKey(key.toString('utf8'));
  } catch (e) {
    throw new FuncError(
      `error parsing private key: ${/BEGIN/.test(key.toString('utf8')) ? (e as Error).message : 'no PEM data in input'}`,
    );
  }
  return new Certificate(certPem, key.toString('utf8'));
}

function notSupported(name: string): () => never {
  return () => {
    throw new FuncError(`${name} is not supported by the connectors template engine`);
  };
}

export function cryptoFuncs(): FuncMap {
  const C = 'sprig.certificate';
  const L = '[]interface {}';
  return {
    sha1sum: fn([S], S, (s: string) => createHash('sha1').update(s, 'utf8').digest('hex')),
    sha256sum: fn([S], S, (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')),
    sha512sum: fn([S], S, (s: string) => createHash('sha512').update(s, 'utf8').digest('hex')),
    adler32sum: fn([S], S, (s: string) => String(adler32(s))),
    bcrypt: fn([S], S, bcrypt),
    htpasswd: fn([S, S], S, (user: string, pass: string) =>
      user.includes(':') ? `invalid username: ${user}` : `${user}:${bcrypt(pass)}`,
    ),
    randBytes: fn(
      ['int'],
      S,
      (n: GoInt) => {
        if (n.v < 0n) throw new FuncError('runtime error: makeslice: len out of range');
        return randomBytes(Number(n.v)).toString('base64');
      },
      { errReturn: true },
    ),
    uuidv4: fn([], S, () => randomUUID()),
    derivePassword: fn(['uint32', S, S, S, S], S, derivePassword),
    genPrivateKey: fn([S], S, generatePrivateKey),
    encryptAES: fn([S, S], S, encryptAES, { errReturn: true }),
    decryptAES: fn([S, S], S, decryptAES, { errReturn: true }),
    buildCustomCert: fn([S, S], C, buildCustomCert, { errReturn: true }),
    genCA: fn([S, 'int'], C, notSupported('genCA'), { errReturn: true }),
    genCAWithKey: fn([S, 'int', S], C, notSupported('genCAWithKey'), { errReturn: true }),
    genSelfSignedCert: fn([S, L, L, 'int'], C, notSupported('genSelfSignedCert'), { errReturn: true }),
    genSelfSignedCertWithKey: fn([S, L, L, 'int', S], C, notSupported('genSelfSignedCertWithKey'), { errReturn: true }),
    genSignedCert: fn([S, L, L, 'int', C], C, notSupported('genSignedCert'), { errReturn: true }),
    genSignedCertWithKey: fn([S, L, L, 'int', C, S], C, notSupported('genSignedCertWithKey'), { errReturn: true }),
  };
}
