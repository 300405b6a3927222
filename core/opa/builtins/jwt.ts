// io.jwt.encode_sign / encode_sign_raw / decode, for policies that mint JWTs (e.g. GitHub App tokens:
// `io.jwt.encode_sign({"alg": "RS256"}, {"iat": now, "exp": now + 540, "iss": app_id},
// crypto.x509.parse_rsa_private_key(input.data.private_key))`). Keys are JWKs, as in OPA.
// Algorithms: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA.
import { type KeyObject, constants, createHmac, createPrivateKey, createSecretKey, sign } from 'node:crypto';
import { type BuiltinTable, fail, typeName, wantString } from './types.ts';

/** Go's json.Marshal of a decoded JSON value: object keys sorted, HTML characters escaped. */
export function goJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sorted(value))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

function signingKey(name: string, jwk: Record<string, unknown>): KeyObject {
  try {
    if (jwk.kty === 'oct') return createSecretKey(Buffer.from(wantString(name, 3, jwk.k), 'base64url'));
    return createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    return fail(name, `invalid JWK: ${(err as Error).message}`);
  }
}

export function signJws(name: string, alg: unknown, signingInput: string, jwk: Record<string, unknown>): string {
  if (typeof alg !== 'string') fail(name, 'the JWS header must contain an "alg" string');
  const key = signingKey(name, jwk);
  const m = /^(HS|RS|PS|ES)(256|384|512)$/.exec(alg);
  const data = Buffer.from(signingInput);
  if (alg === 'EdDSA') {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
      fail(name, 'EdDSA needs an OKP Ed25519 private key');
    return b64u(sign(null, data, key));
  }
  if (!m) return fail(name, `unsupported alg ${JSON.stringify(alg)}`);
  const hash = `sha${m[2]}`;
  switch (m[1]) {
    case 'HS':
      if (key.type !== 'secret') fail(name, `${alg} needs a symmetric ("oct") key`);
      return createHmac(hash, key).update(data).digest('base64url');
    case 'RS':
    case 'PS':
      if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') fail(name, `${alg} needs an RSA private key`);
      return b64u(
        m[1] === 'RS'
          ? sign(hash, data, key)
          : sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(m[2]) / 8 }),
      );
    default:
      if (key.type !== 'private' || key.asymmetricKeyType !== 'ec') fail(name, `${alg} needs an EC private key`);
      return b64u(sign(hash, data, { key, dsaEncoding: 'ieee-p1363' }));
  }
}

function object(name: string, position: number, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    fail(name, `operand ${position} must be object but got ${typeName(v)}`);
  return v as Record<string, unknown>;
}

function parseJsonObject(name: string, position: number, text: unknown): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(wantString(name, position, text));
  } catch {
    fail(name, `operand ${position} is not valid JSON`);
  }
  return object(name, position, v);
}

export const jwtBuiltins: BuiltinTable = {
  'io.jwt.encode_sign': {
    impl: (_ctx, headers: unknown, payload: unknown, key: unknown) => {
      const name = 'io.jwt.encode_sign';
      const h = object(name, 1, headers);
      const input = `${b64u(goJson(h))}.${b64u(goJson(object(name, 2, payload)))}`;
      return `${input}.${signJws(name, h.alg, input, object(name, 3, key))}`;
    },
  },
  'io.jwt.encode_sign_raw': {
    impl: (_ctx, headers: unknown, payload: unknown, key: unknown) => {
      const name = 'io.jwt.encode_sign_raw';
      const h = parseJsonObject(name, 1, headers);
      parseJsonObject(name, 2, payload);
      const input = `${b64u(headers as string)}.${b64u(payload as string)}`;
      return `${input}.${signJws(name, h.alg, input, parseJsonObject(name, 3, key))}`;
    },
  },
  'io.jwt.decode': {
    impl: (_ctx, jwt: unknown) => {
      const name = 'io.jwt.decode';
      const parts = wantString(name, 1, jwt).split('.');
      if (parts.length !== 3) fail(name, 'encoded JWT had no period separators');
      const decode = (s: string, what: string) => {
        try {
          return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
        } catch {
          return fail(name, `JWT ${what} is not valid base64url-encoded JSON`);
        }
      };
      return [
        decode(parts[0], 'header'),
        decode(parts[1], 'payload'),
        Buffer.from(parts[2], 'base64url').toString('hex'),
      ];
    },
  },
};
