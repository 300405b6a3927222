// The proxy's hardening rules as pure decisions, table by table: which forward targets are reached, which
// paths stay under a Connector's prefix, which methods and CONNECT authorities are refused, which tokens are
// well-formed JWTs, the counting limits, and the answer to each kind of upstream failure.
import { expect } from 'chai';
import { ConcurrencyLimit, FailureBudget, Gate, GateBusyError } from '../../core/util/limits.ts';
import { tokenShape } from '../../core/auth/jwt.ts';
import { staysUnder } from '../../core/connector/index.ts';
import { connectAuthority, refusedMethod, withoutTokenInQuery } from '../../proxy/rules/request-rules.ts';
import { AddressGuard, forwardTarget, HostAllowList, TARGET_REFUSED } from '../../proxy/rules/target-policy.ts';
import { failureAnswer } from '../../core/http1/upstream.ts';

describe('proxy rules', () => {
  describe('forward targets', () => {
    const guard = new AddressGuard(() => [8080, 8081], ['127.0.0.1', '::1', '10.1.2.3', 'fe80::1']);
    const none = new HostAllowList([]);
    const some = new HostAllowList([
      'api.example.com',
      '*.corp.example',
      '192.0.2.7',
      '198.51.100.0/24',
      '169.254.169.254',
      'localhost',
    ]);
    const all = new HostAllowList(['*']);
    const cases: [string, string, number, boolean, HostAllowList, string | { guarded: boolean }][] = [
      // [case, host, port, a listed Connector's host:port, allow-list, refusal text or outcome]
      ['a Connector host, on no list', 'git.example.com', 443, true, none, { guarded: false }],
      ['a Connector host on loopback (its administrator chose it)', '127.0.0.1', 9000, true, none, { guarded: false }],
      ['another host by default', 'example.org', 80, false, none, 'is not the address of a listed connector'],
      ['loopback by default', '127.0.0.1', 9000, false, none, 'is not the address of a listed connector'],
      [
        'the metadata service by default',
        '169.254.169.254',
        80,
        false,
        none,
        'is not the address of a listed connector',
      ],
      ['an allowed name', 'api.example.com', 443, false, some, { guarded: true }],
      ['a name under an allowed domain', 'x.corp.example', 443, false, some, { guarded: true }],
      ['the allowed domain itself (not listed)', 'corp.example', 443, false, some, 'is not the address'],
      ['an allowed IP', '192.0.2.7', 80, false, some, { guarded: true }],
      ['an IP in an allowed CIDR', '198.51.100.9', 80, false, some, { guarded: true }],
      ['an IP outside it', '198.51.101.9', 80, false, some, 'is not the address'],
      ['the metadata service, even allowed', '169.254.169.254', 80, false, some, 'a link-local address'],
      ['loopback, even allowed by *', '127.0.0.5', 80, false, all, 'a loopback or unspecified address'],
      ['IPv6 loopback, even allowed by *', '::1', 80, false, all, 'a loopback or unspecified address'],
      ['IPv4-mapped loopback, even allowed by *', '::ffff:127.0.0.1', 80, false, all, 'a loopback or unspecified'],
      ['the unspecified address, even allowed by *', '0.0.0.0', 80, false, all, 'a loopback or unspecified'],
      ['IPv6 link-local, even allowed by *', 'fe80::abcd', 80, false, all, 'a link-local address'],
      ["the proxy's own address and port, even allowed by *", '10.1.2.3', 8080, false, all, 'this proxy'],
      ['its health port too', '10.1.2.3', 8081, false, all, 'this proxy'],
      ['another port of its host, allowed by *', '10.1.2.3', 9999, false, all, { guarded: true }],
      ['a name allowed by * (judged when resolved)', 'anything.example', 80, false, all, { guarded: true }],
    ];
    for (const [name, host, port, connector, allow, want] of cases)
      it(`${name}: ${typeof want === 'string' ? 'refused' : 'reached'}`, () => {
        const d = forwardTarget(host, port, connector, allow, guard);
        if (typeof want === 'string') {
          expect(d.allowed).to.equal(false);
          expect(d.allowed === false && d.status).to.equal(403);
          expect(d.allowed === false && d.reason).to.include(want);
        } else expect(d).to.deep.equal({ allowed: true, ...want });
      });

    it('refuses a name that resolves to loopback when connecting, and lets a public address through', async () => {
      const lookup = guard.lookupFor(80);
      const resolve = (host: string, all: boolean) =>
        new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((r) =>
          (lookup as (h: string, o: object, cb: (e: NodeJS.ErrnoException | null, a: unknown) => void) => void)(
            host,
            { all },
            (err, address) => r({ err, address }),
          ),
        );
      for (const all of [true, false]) {
        const local = await resolve('localhost', all);
        expect(local.err?.code).to.equal(TARGET_REFUSED);
        expect(local.err?.message).to.match(
          /does not connect to localhost: it resolves to (127\.0\.0\.1|::1), a loopback/,
        );
        const literal = await resolve('192.0.2.44', all); // resolved to itself, no DNS needed
        expect(literal.err).to.equal(null);
        expect(all ? literal.address : [literal.address]).to.deep.include(
          all ? { address: '192.0.2.44', family: 4 } : '192.0.2.44',
        );
      }
    });

    const badPatterns = ['http://x', 'a b', '10.0.0.0/33', '*.', 'x/8', '::1/129'];
    for (const p of badPatterns)
      it(`an allow-list entry ${JSON.stringify(p)} is refused at start`, () =>
        expect(() => new HostAllowList([p])).to.throw(/forward allow-list entry/));
  });

  describe('paths under a Connector prefix', () => {
    const cases: [string, string, boolean][] = [
      ['/rec/a/b', '/rec', true],
      ['/rec', '/rec', true],
      ['/recx', '/rec', false],
      ['/other', '/rec', false],
      ['/rec/group%2Fproject/x', '/rec', true], // GitLab's encoded project path stays inside
      ['/rec/..%2F..%2Fsecret', '/rec', false],
      ['/rec/..%2fsecret', '/rec', false],
      ['/rec/..%5Csecret', '/rec', false],
      ['/rec/..\\secret', '/rec', false],
      ['/rec/a/..%2F..%2F..%2Fsecret', '/rec', false],
      ['/rec/a/..%2Fb', '/rec', true],
      ['/rec/%2e%2e%2Fsecret', '/rec', false],
      ['/rec/%252e%252e%252Fsecret', '/rec', false], // decoded twice by some servers
      ['/rec/..;/secret', '/rec', false], // Tomcat-style segment parameters
      ['/rec/a;b/c', '/rec', true],
      ['/rec/%zz/..%2F', '/rec', true], // a broken escape is left as it is
      ['/a/..%2F..%2F', '', true], // a root address has nothing to escape
    ];
    for (const [path, prefix, want] of cases)
      it(`staysUnder(${path}, ${JSON.stringify(prefix)}) is ${want}`, () =>
        expect(staysUnder(path, prefix)).to.equal(want));
  });

  describe('request rules', () => {
    for (const [m, want] of [
      ['TRACE', true],
      ['TRACK', true],
      ['GET', false],
      ['OPTIONS', false],
      ['trace', false], // not a method node:http would pass on: methods are case-sensitive
    ] as const)
      it(`refusedMethod(${m}) is ${want}`, () => expect(refusedMethod(m)).to.equal(want));

    const authorities: [string, { host: string; port: number } | undefined][] = [
      ['example.com:443', { host: 'example.com', port: 443 }],
      ['Example.COM:8443', { host: 'example.com', port: 8443 }],
      ['10.0.0.1:22', { host: '10.0.0.1', port: 22 }],
      ['[::1]:443', { host: '::1', port: 443 }],
      ['[fe80::1%25eth0]:443', undefined],
      ['::1:443', undefined],
      ['example.com', undefined],
      ['example.com:', undefined],
      ['example.com:0', undefined],
      ['example.com:65536', undefined],
      ['example.com:99999', undefined],
      ['example.com:-1', undefined],
      [':443', undefined],
      ['a b:443', undefined],
      ['exa%mple.com:443', undefined],
      ['user@example.com:443', undefined],
      ['[::1:443', undefined],
      ['http://example.com:443', undefined],
    ];
    for (const [a, want] of authorities)
      it(`connectAuthority(${JSON.stringify(a)})`, () => expect(connectAuthority(a)).to.deep.equal(want));

    const queries: [string, string, string][] = [
      ['/api/x?private_token=TOK&per_page=2', 'TOK', '/api/x?per_page=2'],
      ['/api/x?per_page=2&private_token=TOK', 'TOK', '/api/x?per_page=2'],
      ['/api/x?private_token=TOK', 'TOK', '/api/x'],
      ['/api/x?t=a%2Bb', 'a+b', '/api/x'],
      ['/api/x?a=1&b=2', 'TOK', '/api/x?a=1&b=2'],
      ['/api/x', 'TOK', '/api/x'],
    ];
    for (const [path, token, want] of queries)
      it(`withoutTokenInQuery(${path})`, () => expect(withoutTokenInQuery(path, token)).to.equal(want));
  });

  describe('token shape', () => {
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const jwt = (h: unknown, c: unknown) => `${b64(h)}.${b64(c)}.c2ln`;
    const cases: [string, string, string | { aud?: unknown; exp?: number }][] = [
      ['a JWT', jwt({ alg: 'RS256' }, { aud: ['connectors-proxy'], exp: 5 }), { aud: ['connectors-proxy'], exp: 5 }],
      ['random text', 'not-a-token', 'three parts'],
      ['a bootstrap-token-like string', 'abcdef.0123456789abcdef', 'three parts'],
      ['four parts', jwt({ alg: 'RS256' }, {}) + '.x', 'three parts'],
      ['an empty signature', `${b64({ alg: 'RS256' })}.${b64({})}.`, 'base64url'],
      ['padding', `${b64({ alg: 'RS256' })}=.${b64({})}.c2ln`, 'base64url'],
      ['a header without alg', jwt({ typ: 'JWT' }, {}), 'no JWT header'],
      ['claims that are not JSON', `${b64({ alg: 'RS256' })}.${b64('nope')}.c2ln`, 'no JWT claims'],
      ['claims that are an array', jwt({ alg: 'RS256' }, [1]), 'no JWT claims'],
      ['a string exp', jwt({ alg: 'RS256' }, { exp: '5' }), 'exp is not a number'],
    ];
    for (const [name, token, want] of cases)
      it(`tokenShape: ${name}`, () => {
        const got = tokenShape(token);
        if (typeof want === 'string') expect(got.ok === false && got.reason).to.include(want);
        else expect(got).to.deep.equal({ ok: true, claims: want });
      });
  });

  describe('limits', () => {
    it('ConcurrencyLimit: counts per key up to the cap, and frees a slot on release', () => {
      const l = new ConcurrencyLimit(2);
      const [a1, a2, a3, b1] = [l.acquire('a'), l.acquire('a'), l.acquire('a'), l.acquire('b')];
      expect([a1, a2, a3, b1].map(Boolean)).to.deep.equal([true, true, false, true]);
      l.release(a1!);
      const a4 = l.acquire('a');
      expect(a4).to.not.equal(undefined);
      expect(l.inFlight('a')).to.equal(2);
      l.release(a2!);
      l.release(a4!);
      expect(l.inFlight('a')).to.equal(0);
      expect(l.inFlight('b')).to.equal(1);
      const unlimited = new ConcurrencyLimit(Infinity);
      for (let i = 0; i < 1000; i++) expect(unlimited.acquire('x')).to.not.equal(undefined);
    });

    it('Gate: at most max tasks at once, the others wait in order, and give up after maxWaitMs or when the queue is full', async () => {
      const gate = new Gate({ max: 2, maxWaiting: 2, maxWaitMs: 150 });
      const releases: Array<() => void> = [];
      const order: number[] = [];
      const task = (i: number) => () =>
        new Promise<number>((r) => {
          order.push(i);
          releases.push(() => r(i));
        });
      const runs = [1, 2, 3, 4].map((i) => gate.run(task(i)));
      const fifth = gate.run(task(5));
      expect(
        await fifth.then(
          () => 'ran',
          (e) => e,
        ),
      ).to.be.instanceOf(GateBusyError); // the queue is full
      await new Promise((r) => setImmediate(r));
      expect(order).to.deep.equal([1, 2]);
      expect(gate.load).to.deep.equal({ running: 2, waiting: 2 });
      releases[0]();
      await runs[0];
      await new Promise((r) => setImmediate(r));
      expect(order).to.deep.equal([1, 2, 3]);
      const late = await runs[3].then(
        () => 'ran',
        (e) => e,
      );
      expect(late).to.be.instanceOf(GateBusyError);
      releases[1]();
      releases[2]();
      expect(await Promise.all([runs[1], runs[2]])).to.deep.equal([2, 3]);
      expect(gate.load).to.deep.equal({ running: 0, waiting: 0 });
    });

    it('FailureBudget: a burst, then a refill rate; other keys are untouched; the oldest keys go first', () => {
      let now = 0;
      const b = new FailureBudget({ burst: 3, perSecond: 2, maxKeys: 2, now: () => now });
      expect(b.exhausted('a')).to.equal(false);
      for (let i = 0; i < 3; i++) b.spend('a');
      expect(b.exhausted('a')).to.equal(true);
      expect(b.exhausted('b')).to.equal(false);
      now += 499;
      expect(b.exhausted('a')).to.equal(true);
      now += 1;
      expect(b.exhausted('a')).to.equal(false); // one refilled after 0.5 s
      b.spend('a');
      expect(b.exhausted('a')).to.equal(true);
      b.spend('b');
      b.spend('c'); // a, least recently failed, is forgotten
      expect(b.exhausted('a')).to.equal(false);
    });
  });

  describe('answers to upstream failures', () => {
    const cases: [string, number, RegExp][] = [
      ['target refused', 403, /^forward mode does not connect/],
      ['connection pool busy', 503, /is busy/],
      ['headers timeout', 504, /timed out \(headers timeout\)/],
      ['connect timeout', 504, /timed out/],
      ['invalid response', 502, /failed: invalid response/],
      ['ECONNREFUSED', 502, /failed: ECONNREFUSED/],
    ];
    for (const [kind, status, text] of cases)
      it(`${kind} → ${status}`, () => {
        const got = failureAnswer(kind, 'h:1', 'forward mode does not connect to h: it resolves to 127.0.0.1');
        expect(got.status).to.equal(status);
        expect(got.text).to.match(text);
      });
  });
});
