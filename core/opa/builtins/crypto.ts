// crypto.* digests and HMACs (hex output, as OPA), plus `hmac.sha256(key, message)`: not an OPA built-in,
// accepted because the documented "time-based" generator example calls it. Note the argument order:
// OPA's `crypto.hmac.sha256(x, key)` takes the message first; the example's `hmac.sha256(secret, msg)`
// takes the key first, so that is what `hmac.sha256` does.
import { createHash, createHmac, createPrivateKey, timingSafeEqual } from 'node:crypto';
import { type BuiltinTable, fail, wantString } from './types.ts';

function digest(name: string, algorithm: string) {
  return {
    impl: (_ctx: unknown, x: unknown) =>
      createHash(algorithm)
        .update(wantString(name, 1, x), 'utf8')
        .digest('hex'),
  };
}

function hmac(name: string, algorithm: string) {
  return {
    impl: (_ctx: unknown, x: unknown, key: unknown) =>
      createHmac(algorithm, wantString(name, 2, key))
        .update(wantString(name, 1, x), 'utf8')
        .digest('hex'),
  };
}

export const cryptoBuiltins: BuiltinTable = {
  'crypto.md5': digest('crypto.md5', 'md5'),
  'crypto.sha1': digest('crypto.sha1', 'sha1'),
  'crypto.sha256': digest('crypto.sha256', 'sha256'),
  'crypto.hmac.md5': hmac('crypto.hmac.md5', 'md5'),
  'crypto.hmac.sha1': hmac('crypto.hmac.sha1', 'sha1'),
  'crypto.hmac.sha256': hmac('crypto.hmac.sha256', 'sha256'),
  'crypto.hmac.sha512': hmac('crypto.hmac.sha512', 'sha512'),
  'crypto.hmac.equal': {
    impl: (_ctx, a: unknown, b: unknown) => {
      const x = Buffer.from(wantString('crypto.hmac.equal', 1, a));
      const y = Buffer.from(wantString('crypto.hmac.equal', 2, b));
      return x.length === y.length && timingSafeEqual(x, y);
    },
  },
  'hmac.sha256': {
    impl: (_ctx, key: unknown, message: unknown) =>
      createHmac('sha256', wantString('hmac.sha256', 1, key))
        .update(wantString('hmac.sha256', 2, message), 'utf8')
        .digest('hex'),
    decl: {
      type: 'function',
      args: [
        { name: 'key', type: 'string', description: 'HMAC key' },
        { name: 'message', type: 'string', description: 'message to sign' },
      ],
      result: { name: 'mac', type: 'string', description: 'hex-encoded HMAC-SHA256 of message under key' },
    },
  },
  'crypto.x509.parse_rsa_private_key': {
    impl: (_ctx, pem: unknown) => {
      const name = 'crypto.x509.parse_rsa_private_key';
      let key;
      try {
        key = createPrivateKey(wantString(name, 1, pem));
      } catch (err) {
        fail(name, `not a PEM private key: ${(err as Error).message}`);
      }
      if (key.asymmetricKeyType !== 'rsa') fail(name, `not an RSA key (${key.asymmetricKeyType})`);
      return key.export({ format: 'jwk' });
    },
  },
};
