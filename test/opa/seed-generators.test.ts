// The generator.rego examples of the ConnectorClass reference text, cut out as written (v0 syntax, `input.<key>`,
// `import time`, `hmac.sha256`), compiled with the real opa to wasm and evaluated with opa-wasm; then the
// injection is applied to a backend request the way the proxy does.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ensureBinary } from '../../core/peers/index.ts';
import { applyAuthInjection, generatorPolicy, regoRequest } from '../../core/opa/index.ts';
import { seedGenerators } from '@connectors/test-support';

const backend = regoRequest({
  method: 'GET',
  path: '/api/v1/items?page=2',
  host: 'tool.example.com',
  headers: { accept: 'application/json' },
});

describe('opa: the reference generator.rego examples', function () {
  this.timeout(600_000);
  const generators = seedGenerators();

  before(async () => {
    await ensureBinary('opa');
  });

  it('finds all six examples in the seed', () => {
    assert.deepEqual([...generators.keys()].sort(), [
      'apikey-rego-auth',
      'basic-rego-auth',
      'body-rego-auth',
      'conditional-auth',
      'rego-auth',
      'time-based-auth',
    ]);
    assert.match(generators.get('time-based-auth')!.rego, /import time/);
  });

  const cases: { name: string; data: Record<string, string>; want: object }[] = [
    {
      name: 'rego-auth',
      data: { token: 'tok-123' },
      want: { position: 'header', auth: { Authorization: 'Bearer tok-123' } },
    },
    {
      name: 'basic-rego-auth',
      data: { username: 'alice', password: 's3cr3t:x' },
      want: {
        position: 'header',
        auth: { Authorization: `Basic ${Buffer.from('alice:s3cr3t:x').toString('base64')}` },
      },
    },
    { name: 'apikey-rego-auth', data: { apikey: 'k&y=1' }, want: { position: 'query', auth: { api_key: 'k&y=1' } } },
    {
      name: 'body-rego-auth',
      data: { username: 'bob', password: 'pw', client_id: 'cli' },
      want: {
        position: 'body',
        contentType: 'application/json',
        auth: { username: 'bob', password: 'pw', client_id: 'cli' },
      },
    },
    {
      name: 'conditional-auth',
      data: { apikey: 'key-1' },
      want: { position: 'header', auth: { 'X-API-Key': 'key-1' } },
    },
    {
      name: 'conditional-auth',
      data: { apikey: 'key-1', oauth_token: '' },
      want: { position: 'header', auth: { 'X-API-Key': 'key-1' } },
    },
    {
      name: 'conditional-auth',
      data: { oauth_token: 'oauth-9' },
      want: { position: 'header', auth: { Authorization: 'Bearer oauth-9' } },
    },
  ];
  for (const c of cases) {
    it(`${c.name} with secret keys ${Object.keys(c.data).join(', ')} produces ${JSON.stringify(c.want)}`, async () => {
      const g = await generatorPolicy(generators.get(c.name)!.rego);
      assert.deepEqual(g.generate(c.data, backend), c.want);
    });
  }

  it('the same policies read input.data.<key> (the v1.6+ form) too', async () => {
    const g = await generatorPolicy(
      'package proxy\nauth = {"position": "header", "auth": {"Private-Token": input.data.token}}\n',
    );
    assert.deepEqual(g.generate({ token: 't' }).auth, { 'Private-Token': 't' });
  });

  it('conditional-auth with both secrets set reports the rule conflict Rego semantics give', async () => {
    const g = await generatorPolicy(generators.get('conditional-auth')!.rego);
    assert.throws(
      () => g.generate({ apikey: 'k', oauth_token: 'o' }),
      /generator\.rego: evaluation failed: .*complete rules must not produce multiple outputs/,
    );
  });

  it('time-based-auth signs the timestamp it sends with HMAC-SHA256 of api_secret', async () => {
    const g = await generatorPolicy(generators.get('time-based-auth')!.rego);
    const before = Math.floor(Date.now() / 1000);
    const out = g.generate({ api_secret: 'the-secret' }, backend);
    const after = Math.floor(Date.now() / 1000);
    assert.equal(out.position, 'header');
    const ts = out.auth['X-Timestamp'];
    assert.match(ts, /^\d+$/);
    assert.ok(Number(ts) >= before && Number(ts) <= after, `timestamp ${ts} not in [${before}, ${after}]`);
    assert.equal(out.auth['X-Signature'], createHmac('sha256', 'the-secret').update(ts).digest('hex'));
  });

  it('time-based-auth uses a fixed clock when given one', async () => {
    const g = await generatorPolicy(generators.get('time-based-auth')!.rego, {
      load: { nowNs: () => 1_700_000_000_123_456_789n },
    });
    const out = g.generate({ api_secret: 'k' });
    assert.equal(out.auth['X-Timestamp'], '1700000000');
    assert.equal(out.auth['X-Signature'], createHmac('sha256', 'k').update('1700000000').digest('hex'));
  });

  describe('the injections reach the backend request', () => {
    it('header: Bearer replaces a client Authorization header', async () => {
      const g = await generatorPolicy(generators.get('rego-auth')!.rego);
      const out = applyAuthInjection(
        { headers: { authorization: 'Bearer sa-token', accept: '*/*' }, query: '' },
        g.generate({ token: 'tool' }),
      );
      assert.deepEqual(out.headers, { accept: '*/*', Authorization: 'Bearer tool' });
    });

    it('query: ?api_key=<value> is added, other parameters kept', async () => {
      const g = await generatorPolicy(generators.get('apikey-rego-auth')!.rego);
      const out = applyAuthInjection({ headers: {}, query: 'page=2&api_key=old' }, g.generate({ apikey: 'k&y=1' }));
      assert.equal(out.query, 'page=2&api_key=k%26y%3D1');
    });

    it('body: JSON fields are merged into the request body', async () => {
      const g = await generatorPolicy(generators.get('body-rego-auth')!.rego);
      const out = applyAuthInjection(
        {
          headers: { 'content-type': 'application/json', 'content-length': '13' },
          query: '',
          body: Buffer.from('{"grant":"pw"}'),
        },
        g.generate({ username: 'bob', password: 'pw', client_id: 'cli' }),
      );
      const body = JSON.parse(out.body!.toString());
      assert.deepEqual(body, { grant: 'pw', username: 'bob', password: 'pw', client_id: 'cli' });
      assert.equal(out.headers['Content-Length'], String(out.body!.length));
      assert.equal(out.headers['content-type'], 'application/json');
    });
  });
});
