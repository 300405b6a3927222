// The proxy's pure decisions, table-driven: which Connector a request names and forward-mode credentials
// parsing (the upstream URL, Location rewriting, target matching and what to inject for a Secret are
// core/connector's: test/connector/inject.test.ts); plus the decision caches against the real apiserver with a
// skewed clock (a cached allow never outlives the token).
import { expect } from 'chai';
import { kubeRest, type KubeRest } from '../../core/kube/rest.ts';
import { forwardCredentials, tokenFromAuthorization } from '../../proxy/auth/credentials.ts';
import { Authorizer, serviceAccountName } from '../../core/auth/review.ts';
import { checkAccess, type ProxyContext } from '../../proxy/context.ts';
import { TtlCache } from '../../core/auth/cache.ts';
import { reverseTarget } from '../../proxy/reverse.ts';
import { upstreamRequestHeaders } from '../../core/http1/upstream.ts';
import { cluster } from '@connectors/test-support';
import { signedToken } from './fixture.ts';

/** A token of the shape the proxy reviews (a JWT) standing for `name`: the fake apiservers read the name back. */
const fakeJwt = (name: string): string =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: name })).toString('base64url')}.c2ln`;
const nameOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub as string;

describe('proxy: decisions (pure)', () => {
  const targets: Array<[string | undefined, string, ReturnType<typeof reverseTarget>]> = [
    [
      undefined,
      '/namespaces/ns1/connectors/git/org/repo.git/info/refs?service=git-upload-pack',
      {
        namespace: 'ns1',
        name: 'git',
        prefix: '/namespaces/ns1/connectors/git',
        rest: '/org/repo.git/info/refs?service=git-upload-pack',
      },
    ],
    [
      'proxy:8080',
      '/namespaces/ns1/connectors/git',
      { namespace: 'ns1', name: 'git', prefix: '/namespaces/ns1/connectors/git', rest: '/' },
    ],
    [
      'proxy',
      '/namespaces/ns1/connectors/git?x=1',
      { namespace: 'ns1', name: 'git', prefix: '/namespaces/ns1/connectors/git', rest: '?x=1' },
    ],
    [
      'c-github.default.svc.cluster.local',
      '/org/repo',
      { namespace: 'default', name: 'github', prefix: '', rest: '/org/repo' },
    ],
    ['c-github.default.svc:80', '/', { namespace: 'default', name: 'github', prefix: '', rest: '/' }],
    ['c-my.dotted.name.team-a.svc', '/x', { namespace: 'team-a', name: 'my.dotted.name', prefix: '', rest: '/x' }],
    ['proxy', '/namespaces/ns1/connectorsX/git', undefined],
    ['example.com', '/org/repo', undefined],
  ];
  for (const [host, url, want] of targets) {
    it(`reverseTarget(${host}, ${url})`, () => expect(reverseTarget(host, url)).to.deep.equal(want));
  }

  it('forwardCredentials: one or several connectors, URL-encoded slashes, errors', () => {
    const h = (user: string, tok = 'T') => ({
      'proxy-authorization': 'Basic ' + Buffer.from(`${user}:${tok}`).toString('base64'),
    });
    expect(forwardCredentials(h('default/github'))).to.deep.equal({
      ok: true,
      token: 'T',
      connectors: [{ namespace: 'default', name: 'github' }],
    });
    expect(forwardCredentials(h('ns1%2Fa,ns2%2Fb', 'x:y'))).to.deep.equal({
      ok: true,
      token: 'x:y',
      connectors: [
        { namespace: 'ns1', name: 'a' },
        { namespace: 'ns2', name: 'b' },
      ],
    });
    expect(forwardCredentials({}).ok).to.equal(false);
    expect(forwardCredentials(h('github')).ok).to.equal(false);
    expect(forwardCredentials(h('ns/a', '')).ok).to.equal(false);
    expect(forwardCredentials({ 'proxy-authorization': 'Bearer abc' }).ok).to.equal(false);
  });

  it('tokenFromAuthorization: Basic password with any user, Bearer; nothing else', () => {
    expect(tokenFromAuthorization('Basic ' + Buffer.from(':tok').toString('base64'))).to.equal('tok');
    expect(tokenFromAuthorization('basic ' + Buffer.from('anything:tok:with:colons').toString('base64'))).to.equal(
      'tok:with:colons',
    );
    expect(tokenFromAuthorization('Bearer abc.def.ghi')).to.equal('abc.def.ghi');
    expect(tokenFromAuthorization('Digest x')).to.equal('');
    expect(tokenFromAuthorization(undefined)).to.equal('');
  });

  // The Bearer fast path against the documented rule /^\s*(\S+)\s+(.*?)\s*$/ on values around its edges.
  const bearerValues = [
    'Bearer abc',
    'Bearer  abc',
    'Bearer abc ',
    'Bearer abc\u00a0',
    '\u00a0Bearer abc',
    'Bearer \tabc',
    'Bearer a b',
    'Bearer a\u2028',
    'Bearer é',
    'Bearer ',
    'Bearer',
    'Bearer\tabc',
    'bearer abc',
    'Bearer x'.padEnd(2000, 'y'),
  ];
  for (const v of bearerValues) {
    it(`tokenFromAuthorization(${JSON.stringify(v.slice(0, 20))}) follows the rule`, () => {
      const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(v);
      expect(tokenFromAuthorization(v)).to.equal(m && m[1].toLowerCase() === 'bearer' ? m[2] : '');
    });
  }

  it('serviceAccountName: ns/name of a ServiceAccount user, any other user as it is, also when asked again', () => {
    const cases: Array<[string, string]> = [
      ['system:serviceaccount:ns:sa', 'ns/sa'],
      ['system:serviceaccount:ns:sa', 'ns/sa'],
      ['alice', 'alice'],
      ['system:serviceaccount:ns:sa', 'ns/sa'],
      ['system:serviceaccount:other:b', 'other/b'],
      ['system:serviceaccount:a:b:c', 'system:serviceaccount:a:b:c'],
      ['alice', 'alice'],
      ['', ''],
    ];
    for (const [user, want] of cases) expect(serviceAccountName(user), user).to.equal(want);
  });

  it('cachedAuthorization answers for the check and token asked, whatever was asked just before', async () => {
    // SubjectAccessReview allows the Connector `ok` (get) and `ok` on connectors/proxy only in namespace a.
    const rest = {
      call: (
        _m: string,
        _p: string,
        o: { body: { spec: { resourceAttributes: { namespace: string; name: string; subresource?: string } } } },
      ) => {
        const ra = o.body.spec.resourceAttributes;
        return Promise.resolve({
          status: { allowed: ra.name === 'ok' && (ra.subresource !== 'proxy' || ra.namespace === 'a') },
        });
      },
    } as unknown as KubeRest;
    const az = new Authorizer(rest);
    const auth = { authenticated: true as const, user: { username: 'u' } };
    const checks = [
      ['k1', 'a', 'ok', false, true],
      ['k1', 'a', 'ok', true, true],
      ['k1', 'b', 'ok', true, false],
      ['k1', 'b', 'ok', false, true],
      ['k1', 'a', 'no', false, false],
      ['k2', 'a', 'ok', false, true],
      ['k2', 'b', 'no', true, false],
    ] as const;
    for (const [key, namespace, name, proxySubresource] of checks)
      await az.authorize(auth, { namespace, name, proxySubresource }, key);
    for (const i of [0, 0, 1, 2, 1, 3, 4, 4, 5, 6, 0, 6, 2, 3]) {
      const [key, namespace, name, proxySubresource, allowed] = checks[i];
      expect(az.cachedAuthorization({ namespace, name, proxySubresource }, key)?.allowed, String(checks[i])).to.equal(
        allowed,
      );
    }
    expect(az.cachedAuthorization({ namespace: 'a', name: 'ok', proxySubresource: false }, 'k3')).to.equal(undefined);
  });

  it('checkAccess answers at once from cached decisions, with a promise when a review is needed', async () => {
    let reviews = 0;
    let down = false;
    const rest = {
      call: (
        _m: string,
        path: string,
        o: { body: { spec: { token?: string; resourceAttributes?: { name: string } } } },
      ) => {
        reviews++;
        if (down) return Promise.reject(new Error('connection refused'));
        if (path.includes('tokenreviews')) {
          const t = nameOf(o.body.spec.token!);
          return Promise.resolve({
            status:
              t === 'bad'
                ? { authenticated: false }
                : { authenticated: true, user: { username: `system:serviceaccount:ns:${t}` } },
          });
        }
        return Promise.resolve({ status: { allowed: o.body.spec.resourceAttributes!.name !== 'secret' } });
      },
    } as unknown as KubeRest;
    const warnings: string[] = [];
    const ctx = {
      authorizer: new Authorizer(rest),
      state: { flags: { enabled: () => false } },
      log: { warn: (m: string) => warnings.push(m) },
    } as unknown as ProxyContext;
    const c = (name: string) => ({ namespace: 'ns', name });
    // [token, connectors, want status (0: ok), reviews the call makes, answered at once]
    const steps: Array<[string, string[], number, number, boolean]> = [
      ['not-a-jwt', ['a'], 401, 0, false],
      ['not-a-jwt', ['a'], 401, 0, true],
      ['sa', ['a'], 0, 2, false],
      ['sa', ['a'], 0, 0, true],
      ['sa', ['a', 'b'], 0, 1, false],
      ['sa', ['a', 'b'], 0, 0, true],
      ['sa', ['a', 'secret', 'b'], 403, 1, false],
      ['sa', ['a', 'secret', 'b'], 403, 0, true],
      ['bad', ['a'], 401, 1, false],
      ['bad', ['a'], 401, 0, true],
      ['other', ['b', 'a'], 0, 3, false],
    ];
    for (const [name, names, status, wantReviews, atOnce] of steps) {
      const token = name === 'not-a-jwt' ? name : fakeJwt(name);
      const before = reviews;
      const r = checkAccess(ctx, token, names.map(c));
      expect(r instanceof Promise, `${token} ${names.join(',')}`).to.equal(!atOnce);
      const access = await r;
      expect(access.ok ? 0 : access.status, `${token} ${names.join(',')}`).to.equal(status);
      if (name === 'sa' || name === 'other') expect(access.serviceAccount).to.equal(`ns/${name}`);
      expect(reviews - before, `${token} ${names.join(',')}`).to.equal(wantReviews);
    }
    down = true;
    const failed = await checkAccess(ctx, fakeJwt('sa'), [c('new')]);
    expect(failed).to.include({ ok: false, status: 503 });
    expect(warnings).to.deep.equal(['cannot check the client token']);
    expect(await checkAccess(ctx, fakeJwt('fresh'), [c('a')])).to.include({ ok: false, status: 503 });
  });

  it('TokenReview amplification: malformed tokens cost no review, failures per client address are capped, reviews in flight too', async () => {
    let reviews = 0;
    let inFlight = 0;
    let most = 0;
    let hold = Promise.resolve();
    const rest = {
      call: async (_m: string, path: string, o: { body: { spec: { token: string } } }) => {
        if (path.includes('subjectaccessreviews')) return { status: { allowed: true } };
        reviews++;
        inFlight++;
        most = Math.max(most, inFlight);
        await hold;
        inFlight--;
        const ok = nameOf(o.body.spec.token).startsWith('good');
        return { status: ok ? { authenticated: true, user: { username: 'system:serviceaccount:ns:good' } } : {} };
      },
    } as unknown as KubeRest;
    let now = 1_000_000;
    const warnings: string[] = [];
    const ctx = {
      authorizer: new Authorizer(rest, {
        now: () => now,
        limits: { failureBurst: 20, failuresPerSecond: 1, maxInFlight: 4 },
      }),
      state: { flags: { enabled: () => false } },
      log: { warn: (m: string) => warnings.push(m) },
    } as unknown as ProxyContext;
    const from = (address: string) => ({ remoteAddress: address });
    const statuses = async (tokens: string[], conn: object) => {
      const out: Record<number, number> = {};
      for (const t of tokens) {
        const a = await checkAccess(ctx, t, [{ namespace: 'ns', name: 'a' }], conn);
        const s = a.ok ? 200 : a.status;
        out[s] = (out[s] ?? 0) + 1;
      }
      return out;
    };
    // 500 random strings: refused locally, no review; they do spend the address's budget.
    const junk = Array.from({ length: 500 }, (_, i) => `junk-${i}-${Math.random()}`);
    expect(await statuses(junk, from('10.0.0.1'))).to.deep.equal({ 401: 20, 429: 480 });
    expect(reviews).to.equal(0);
    // 500 well-formed but invalid tokens from another address: 20 reviews, then 429 without a review.
    const forged = Array.from({ length: 500 }, (_, i) => fakeJwt(`forged-${i}`));
    expect(await statuses(forged, from('10.0.0.2'))).to.deep.equal({ 401: 20, 429: 480 });
    expect(reviews).to.equal(20);
    // A good token from a fresh address is still reviewed; one more failure a second is allowed back in.
    expect(await statuses([fakeJwt('good-1')], from('10.0.0.3'))).to.deep.equal({ 200: 1 });
    now += 1000;
    expect(await statuses([fakeJwt('forged-x'), fakeJwt('forged-y')], from('10.0.0.2'))).to.deep.equal({
      401: 1,
      429: 1,
    });
    // Reviews in flight are capped: 12 concurrent lookups from fresh addresses ask at most 4 at once.
    let open!: () => void;
    hold = new Promise<void>((r) => (open = r));
    reviews = 0;
    const pending = Array.from({ length: 12 }, (_, i) =>
      checkAccess(ctx, fakeJwt(`good-${i + 10}`), [{ namespace: 'ns', name: 'b' }], from(`10.1.0.${i}`)),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(inFlight).to.equal(4);
    open();
    expect((await Promise.all(pending.map((p) => Promise.resolve(p)))).every((a) => a.ok)).to.equal(true);
    expect(most).to.equal(4);
  });

  it('upstreamRequestHeaders drops hop-by-hop headers, those named by Connection, and any header carrying the token', () => {
    const out = upstreamRequestHeaders(
      {
        connection: 'close, x-a',
        'x-a': '1',
        'keep-alive': 'x',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'x',
        host: 'h',
        'private-token': 'TOK',
        'x-b': '2',
        'content-length': '4',
      },
      [],
      'TOK',
    );
    expect(out).to.deep.equal({ 'x-b': '2', 'content-length': '4' });
  });

  it('TtlCache: expiry, bounded size, least recently used first', () => {
    let now = 0;
    const c = new TtlCache<number>(2, () => now);
    c.set('a', 1, 100);
    c.set('b', 2, 100);
    expect(c.get('a')).to.equal(1);
    c.set('c', 3, 100);
    expect(c.get('b')).to.equal(undefined);
    now = 100;
    expect(c.get('a')).to.equal(undefined);
    c.set('z', 1, 0);
    expect(c.get('z')).to.equal(undefined);
  });

  it('TtlCache: repeated hits on the newest entry keep the least recently used order exact', () => {
    // [steps, the key evicted by a third set]: 'g' gets, 's' sets, with room for two entries.
    const cases: Array<[Array<[string, string]>, string]> = [
      [
        [
          ['s', 'a'],
          ['s', 'b'],
          ['g', 'b'],
          ['g', 'b'],
        ],
        'a',
      ],
      [
        [
          ['s', 'a'],
          ['s', 'b'],
          ['g', 'a'],
          ['g', 'a'],
        ],
        'b',
      ],
      [
        [
          ['s', 'a'],
          ['s', 'b'],
          ['g', 'a'],
          ['g', 'b'],
          ['g', 'b'],
        ],
        'a',
      ],
      [
        [
          ['s', 'a'],
          ['s', 'b'],
          ['s', 'a'],
          ['g', 'a'],
        ],
        'b',
      ],
      [
        [
          ['s', 'a'],
          ['g', 'a'],
          ['s', 'b'],
          ['g', 'a'],
        ],
        'b',
      ],
    ];
    for (const [steps, evicted] of cases) {
      const c = new TtlCache<string>(2, () => 0);
      for (const [op, k] of steps)
        if (op === 's') c.set(k, k, 100);
        else expect(c.get(k), `${JSON.stringify(steps)} get ${k}`).to.equal(k);
      c.set('c', 'c', 100);
      const kept = ['a', 'b'].filter((k) => k !== evicted);
      expect(c.get(evicted), JSON.stringify(steps)).to.equal(undefined);
      for (const k of [...kept, 'c']) expect(c.get(k), JSON.stringify(steps)).to.equal(k);
    }
    // The newest entry expiring, then set again, is found (and is the newest again).
    let now = 0;
    const c = new TtlCache<number>(2, () => now);
    c.set('a', 1, 10);
    now = 10;
    expect(c.get('a')).to.equal(undefined);
    c.set('a', 2, 10);
    expect(c.get('a')).to.equal(2);
    expect(c.size).to.equal(1);
  });
});

describe('proxy: decision caches against the real apiserver', function () {
  this.timeout(120_000);
  it('a cached TokenReview never outlives the token, denials are cached briefly, errors not at all', async () => {
    const c = await cluster();
    const ns = await c.createNamespace('proxy-cache');
    await c.createServiceAccount(ns, 'sa');
    const rest = await kubeRest(c.kubeConfig);
    let now = Date.now();
    const authz = new Authorizer(rest, { now: () => now, authnTtlMs: 30_000, denyTtlMs: 5_000 });
    try {
      const tok = await signedToken(c, ns, 'sa', { audience: ['connectors-proxy'], expiresInSeconds: 20 });
      const first = await authz.authenticate(tok);
      expect(first.authenticated).to.equal(true);
      // Within the token's life: served from the cache.
      now += 10_000;
      expect((await authz.authenticate(tok)).authenticated).to.equal(true);
      // Past its exp (20 s) though inside the 30 s TTL: not served from the cache any more.
      now += 15_000;
      const later = await authz.authenticate(tok);
      expect(later).to.deep.equal({ authenticated: false, reason: 'token has expired' });

      // An apiserver failure is an error, and is not cached: the next lookup asks again and succeeds.
      let down = true;
      const flaky = {
        ...rest,
        call: (async (...args: Parameters<typeof rest.call>) => {
          if (down) throw new Error('connection refused');
          return rest.call(...args);
        }) as typeof rest.call,
      };
      const authz2 = new Authorizer(flaky, {});
      const good = await c.createToken(ns, 'sa', { audience: 'connectors-proxy' });
      let failed = false;
      await authz2.authenticate(good).catch(() => (failed = true));
      expect(failed).to.equal(true);
      down = false;
      expect((await authz2.authenticate(good)).authenticated).to.equal(true);
      // A rejected token is cached for denyTtlMs only.
      const bad = good.slice(0, -4) + 'AAAA';
      expect((await authz.authenticate(bad)).authenticated).to.equal(false);
    } finally {
      await rest.close();
      await c.deleteNamespace(ns);
    }
  });
});
