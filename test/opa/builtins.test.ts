// Our TypeScript built-ins, called from real Rego compiled to wasm (so the argument/result marshalling
// through wasm memory is exercised too), compared with node:crypto or with what OPA's Go built-ins return.
import assert from 'node:assert/strict';
import { createHmac, createHash, generateKeyPairSync, verify, constants } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { ensureBinary } from '../../core/peers/index.ts';
import { PolicyEvaluationError, compileRego, loadPolicy, type LoadOptions } from '../../core/opa/index.ts';

async function evalExpr(expr: string, input: unknown = {}, opts?: LoadOptions): Promise<unknown> {
  const compiled = await compileRego(`package t\n\nr := ${expr}\n`, { entrypoint: 't/r', fileName: 'builtins.rego' });
  return (await loadPolicy(compiled, opts)).evaluate(input);
}

const NS = Number(1_704_161_045_123_456_789n); // 2024-01-02T02:04:05.123456789Z, a float64 here
const hex = (alg: string, key: string, msg: string) => createHmac(alg, key).update(msg).digest('hex');

describe('opa: built-ins implemented in TypeScript', function () {
  this.timeout(600_000);
  before(async () => {
    await ensureBinary('opa');
  });

  const cases: { expr: string; input?: unknown; want: unknown }[] = [
    { expr: 'crypto.hmac.sha256(input.m, input.k)', input: { m: 'msg', k: 'key' }, want: hex('sha256', 'key', 'msg') },
    { expr: 'crypto.hmac.sha1(input.m, input.k)', input: { m: 'msg', k: 'key' }, want: hex('sha1', 'key', 'msg') },
    { expr: 'crypto.hmac.sha512(input.m, input.k)', input: { m: 'msg', k: 'key' }, want: hex('sha512', 'key', 'msg') },
    { expr: 'crypto.hmac.md5(input.m, input.k)', input: { m: 'msg', k: 'key' }, want: hex('md5', 'key', 'msg') },
    {
      expr: '[crypto.hmac.equal("ab", "ab"), crypto.hmac.equal("ab", "ac"), crypto.hmac.equal("ab", "abc")]',
      want: [true, false, false],
    },
    { expr: 'hmac.sha256(input.k, input.m)', input: { m: 'msg', k: 'key' }, want: hex('sha256', 'key', 'msg') },
    { expr: 'crypto.sha256("héllo")', want: createHash('sha256').update('héllo').digest('hex') },
    { expr: 'crypto.sha1("x")', want: createHash('sha1').update('x').digest('hex') },
    { expr: 'crypto.md5("x")', want: createHash('md5').update('x').digest('hex') },
    { expr: '[hex.encode("hi€"), hex.decode("6869e282ac")]', want: ['6869e282ac', 'hi€'] },
    { expr: 'base64url.encode_no_pad("hi?>")', want: 'aGk_Pg' },
    { expr: 'urlquery.encode("a b&c=d/é~*!")', want: 'a+b%26c%3Dd%2F%C3%A9~%2A%21' },
    { expr: 'urlquery.decode("a+b%26c%3D%C3%A9")', want: 'a b&c=é' },
    { expr: 'urlquery.encode_object({"b": "2 3", "a": ["x", "y"], "c": {"s"}})', want: 'a=x&a=y&b=2+3&c=s' },
    { expr: 'urlquery.decode_object("a=1&a=2&b=x+y&c")', want: { a: ['1', '2'], b: ['x y'], c: [''] } },
    {
      expr: '[strings.any_prefix_match("abc", ["x", "ab"]), strings.any_prefix_match({"zz", "abc"}, {"q"}), strings.any_suffix_match("abc", "bc")]',
      want: [true, false, true],
    },
    {
      expr: '[indexof_n("abcabc", "bc"), indexof_n("ééb", "b"), strings.count("cheese", "e")]',
      want: [[1, 4], [2], 3],
    },
    { expr: 'time.parse_rfc3339_ns("2024-01-02T03:04:05.123456789+01:00") == 1704161045123456789', want: true },
    { expr: 'time.parse_rfc3339_ns("2024-01-02T02:04:05Z")', want: 1704161045000000000 },
    { expr: 'time.parse_duration_ns("1h30m0.5s")', want: 5_400_500_000_000 },
    { expr: 'time.format(input.ns)', input: { ns: NS }, want: '2024-01-02T02:04:05.123457Z' },
    { expr: 'time.format(1704161045000000000)', want: '2024-01-02T02:04:05Z' },
    { expr: 'time.format([input.ns, "UTC", "RFC1123"])', input: { ns: NS }, want: 'Tue, 02 Jan 2024 02:04:05 UTC' },
    {
      expr: 'time.format([input.ns, "", "2006-01-02 3:04PM .000 Mon January _2 002"])',
      input: { ns: NS },
      want: '2024-01-02 2:04AM .123 Tue January  2 002',
    },
    {
      expr: '[time.date(input.ns), time.clock(input.ns), time.weekday(input.ns)]',
      input: { ns: NS },
      want: [[2024, 1, 2], [2, 4, 5], 'Tuesday'],
    },
    { expr: 'time.date(time.add_date(input.ns, 1, 1, 30))', input: { ns: NS }, want: [2025, 3, 4] },
    {
      expr: 'sprintf("%d|%s|%v|%v|%05.2f", [time.parse_rfc3339_ns("2024-01-02T02:04:05.5Z") / 1000000000, "s", "v", 7, 3.14159])',
      want: '1704161045|s|v|7|03.14',
    },
  ];
  for (const c of cases) {
    it(`${c.expr}${c.input ? ` (input ${JSON.stringify(c.input)})` : ''} = ${JSON.stringify(c.want)}`, async () => {
      assert.deepEqual(await evalExpr(c.expr, c.input), c.want);
    });
  }

  // The same expressions through OPA's own Go implementation (`opa eval`), as the oracle.
  const differential = [
    'urlquery.encode("a b&c=d/é~*!\'()")',
    'urlquery.encode_object({"b": "2 3", "a": ["x", "y"], "c": {"s"}, "é k": "v/w"})',
    'urlquery.decode_object("a=1&a=2&b=x+y&c&%C3%A9=%2F")',
    'time.format([1704161045123456000, "", "2006-01-02 3:04PM .000 Mon January _2 002 Z07:00 -0700"])',
    'time.format(1704161045123456000)',
    'time.format([1704161045000000000, "UTC", "RFC850"])',
    '[time.parse_rfc3339_ns("1999-12-31T23:59:59.1-08:30"), time.parse_duration_ns("-1.5h10us")]',
    'io.jwt.encode_sign({"typ": "JWT", "alg": "HS256"}, {"sub": "x<&>", "iat": 1, "n": {"b": [1, "2"], "a": null}}, {"kty": "oct", "k": "c2VjcmV0"})',
    'io.jwt.encode_sign({"alg": "HS512"}, {"a": 1}, {"kty": "oct", "k": "c2VjcmV0"})',
    'io.jwt.decode("eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2ln")',
    '[hex.encode("\\u00e9\\u0000"), base64url.encode_no_pad("\\u00ff\\u00fe"), strings.count("ééé", "é"), indexof_n("aaaa", "aa")]',
    '[crypto.hmac.sha512("m", "k"), crypto.sha1("m"), crypto.md5("")]',
    'sprintf("%d|%s|%v|%v|%x|%05.2f|%%", [42, "s", "v", true, 255, 2.5])',
  ];
  for (const expr of differential) {
    it(`agrees with opa eval: ${expr}`, async () => {
      const opa = await ensureBinary('opa');
      const want = JSON.parse(execFileSync(opa, ['eval', '-f', 'json', expr], { encoding: 'utf8' })).result[0]
        .expressions[0].value;
      assert.deepEqual(await evalExpr(expr), want);
    });
  }

  it('time.now_ns is the evaluation clock, the same within one evaluation, exact in Rego arithmetic', async () => {
    const now = 1_700_000_000_123_456_789n;
    assert.deepEqual(
      await evalExpr('[time.now_ns() == 1700000000123456789, time.now_ns() - time.now_ns()]', {}, { nowNs: () => now }),
      [true, 0],
    );
    const before = Date.now() * 1e6;
    const wall = (await evalExpr('time.now_ns()')) as number;
    assert.ok(wall >= before && wall <= Date.now() * 1e6);
  });

  it('uuid.rfc4122 is a v4 UUID, stable per seed within an evaluation, fresh across evaluations', async () => {
    const compiled = await compileRego('package t\nr := [uuid.rfc4122("a"), uuid.rfc4122("a"), uuid.rfc4122("b")]\n', {
      entrypoint: 't/r',
    });
    const p = await loadPolicy(compiled);
    const [a1, a2, b] = p.evaluate({}) as string[];
    assert.match(a1, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a1, a2);
    assert.notEqual(a1, b);
    assert.notEqual((p.evaluate({}) as string[])[0], a1);
  });

  describe('io.jwt', () => {
    const decode = (jwt: string) => {
      const [h, p, s] = jwt.split('.');
      return {
        header: JSON.parse(Buffer.from(h, 'base64url').toString()),
        payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
        input: `${h}.${p}`,
        sig: Buffer.from(s, 'base64url'),
        h,
        p,
      };
    };

    it('encode_sign HS256 with an oct JWK: Go-style JSON (sorted keys), HMAC signature', async () => {
      const jwt = (await evalExpr(
        'io.jwt.encode_sign({"typ": "JWT", "alg": "HS256"}, {"sub": "x", "iat": 1}, {"kty": "oct", "k": input.k})',
        {
          k: Buffer.from('secret').toString('base64url'),
        },
      )) as string;
      const d = decode(jwt);
      assert.equal(Buffer.from(d.h, 'base64url').toString(), '{"alg":"HS256","typ":"JWT"}');
      assert.equal(Buffer.from(d.p, 'base64url').toString(), '{"iat":1,"sub":"x"}');
      assert.deepEqual(d.sig, createHmac('sha256', 'secret').update(d.input).digest());
    });

    it('GitHub-App style RS256: PEM from the Secret → crypto.x509.parse_rsa_private_key → encode_sign', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      const rego = `package proxy
now := time.now_ns() / 1000000000
claims := {"iat": now - 60, "exp": now + 540, "iss": input.data.app_id}
jwt := io.jwt.encode_sign({"alg": "RS256", "typ": "JWT"}, claims, crypto.x509.parse_rsa_private_key(input.data.private_key))
auth := {"position": "header", "auth": {"Authorization": concat(" ", ["Bearer", jwt])}}
`;
      const compiled = await compileRego(rego, { entrypoint: 'proxy/auth' });
      const p = await loadPolicy(compiled, { nowNs: () => 1_700_000_000_000_000_000n });
      const out = p.evaluate({ data: { app_id: '12345', private_key: pem } }) as { auth: { Authorization: string } };
      const d = decode(out.auth.Authorization.replace(/^Bearer /, ''));
      assert.deepEqual(d.header, { alg: 'RS256', typ: 'JWT' });
      assert.deepEqual(d.payload, { exp: 1_700_000_540, iat: 1_699_999_940, iss: '12345' });
      assert.ok(verify('sha256', Buffer.from(d.input), publicKey, d.sig));
    });

    const asymmetric: {
      alg: string;
      gen: () => { privateKey: any; publicKey: any };
      check: (input: Buffer, sig: Buffer, pub: any) => boolean;
    }[] = [
      {
        alg: 'ES256',
        gen: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
        check: (i, s, k) => verify('sha256', i, { key: k, dsaEncoding: 'ieee-p1363' }, s),
      },
      {
        alg: 'ES384',
        gen: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
        check: (i, s, k) => verify('sha384', i, { key: k, dsaEncoding: 'ieee-p1363' }, s),
      },
      {
        alg: 'PS256',
        gen: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
        check: (i, s, k) =>
          verify('sha256', i, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s),
      },
      {
        alg: 'RS512',
        gen: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
        check: (i, s, k) => verify('sha512', i, k, s),
      },
      { alg: 'EdDSA', gen: () => generateKeyPairSync('ed25519'), check: (i, s, k) => verify(null, i, k, s) },
    ];
    for (const a of asymmetric) {
      it(`encode_sign ${a.alg} with a JWK verifies with node:crypto`, async () => {
        const { privateKey, publicKey } = a.gen();
        const jwk = privateKey.export({ format: 'jwk' });
        const jwt = (await evalExpr(`io.jwt.encode_sign({"alg": "${a.alg}"}, {"n": 1}, input.jwk)`, { jwk })) as string;
        const d = decode(jwt);
        assert.ok(a.check(Buffer.from(d.input), d.sig, publicKey));
      });
    }

    it('encode_sign_raw keeps the given JSON text; decode returns header, payload and hex signature', async () => {
      const k = JSON.stringify({ kty: 'oct', k: Buffer.from('s').toString('base64url') });
      const out = (await evalExpr(
        '[t, io.jwt.decode(t)] if { t := io.jwt.encode_sign_raw(`{"alg":"HS256"}`, `{"b":1, "a":2}`, input.k) }',
        { k },
      )) as [string, unknown[]];
      const d = decode(out[0]);
      assert.equal(Buffer.from(d.p, 'base64url').toString(), '{"b":1, "a":2}');
      assert.deepEqual(out[1], [{ alg: 'HS256' }, { b: 1, a: 2 }, d.sig.toString('hex')]);
    });

    it('an unsupported alg is an evaluation error naming the built-in', async () => {
      await assert.rejects(
        evalExpr('io.jwt.encode_sign({"alg": "XX1"}, {}, {"kty": "oct", "k": "YQ"})'),
        (err: Error) => {
          assert.ok(err instanceof PolicyEvaluationError);
          assert.match(err.message, /io\.jwt\.encode_sign: unsupported alg "XX1"/);
          return true;
        },
      );
    });
  });

  it('a built-in error (hex.decode of non-hex) fails the evaluation with a message naming it', async () => {
    await assert.rejects(evalExpr('hex.decode(input.x)', { x: 'zz' }), /hex\.decode: invalid hex string "zz"/);
  });
});
