// Credential injection in reverse mode, checked at a real recording upstream: the generator.rego examples of
// seed 002 (header, query and body positions; Opaque Secrets with the keys the policies read), the bearer-token
// Secret type, an authExtractor that reads the client's token from Private-Token, optional auth, and the safety
// rules: redirects, Location rewriting, hop-by-hop and client credential headers, header size limit, timeouts, upstream failure.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { registry } from '../../core/observability/metrics.ts';
import {
  seedGenerators,
  startRecordingUpstream,
  echoHandler,
  type RecordingUpstream,
  freePort,
  eventually,
  objects,
} from '@connectors/test-support';
import { auditLines, PRIVATE_TOKEN_GENERATOR, privateTokenClass, setup, type Env } from './fixture.ts';

function seedGenerator(name: string): string {
  const g = seedGenerators().get(name);
  if (!g) throw new Error(`seed 002 has no generator ${name}`);
  return g.rego;
}

const PRIVATE_TOKEN_EXTRACTOR = `package proxy
auth = {"token": input.request.headers["Private-Token"][0]}
`;

/** Raw HTTP request (node:http), so tests can send any header, including Host and hop-by-hop ones. */
function raw(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    // host/port/path options rather than a URL string: a URL would normalise dot segments before sending.
    const u = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url)!;
    const req = httpRequest(
      { host: u[1], port: Number(u[2]), path: u[3], method: o.method ?? 'GET', headers: o.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('proxy: credential injection and safety in reverse mode', function () {
  this.timeout(300_000);
  let env: Env;
  let up: RecordingUpstream;
  let token: string;
  const cls = `proxytest-${randomBytes(3).toString('hex')}`;
  const secretValue = 'S3CRET-' + randomBytes(6).toString('hex');
  const url = (connector: string, rest: string) =>
    `${env.proxy.url}/namespaces/${env.ns}/connectors/${connector}${rest}`;
  const bearer = () => ({ authorization: `Bearer ${token}` });

  before(async () => {
    up = await startRecordingUpstream({
      handler: async (req, res) => {
        if (req.path === '/api/slow') {
          await new Promise((r) => setTimeout(r, 4000));
        }
        if (req.path === '/api/redirect-away') {
          res.writeHead(302, { location: 'http://elsewhere.invalid/landing?x=1' }).end();
          return;
        }
        if (req.path === '/api/redirect-self') {
          res.writeHead(301, { location: `${up.url}/api/moved/here?y=2` }).end();
          return;
        }
        if (req.path === '/api/redirect-keep-query' || req.path === '/api/redirect-away-keep-query') {
          // Keeps the query it was sent, as a trailing-slash redirect does.
          const q = req.url.slice(req.url.indexOf('?'));
          const to =
            req.path === '/api/redirect-keep-query' ? `${up.url}/api/kept/${q}` : `http://elsewhere.invalid/x${q}`;
          res.writeHead(301, { location: to }).end();
          return;
        }
        if (req.path === '/api/redirect-relative') {
          res.writeHead(302, { location: '/api/rel/target' }).end();
          return;
        }
        if (req.path === '/api/hop') {
          res
            .writeHead(200, {
              connection: 'x-upstream-hop',
              'x-upstream-hop': '1',
              'keep-alive': 'timeout=5',
              'x-kept': 'yes',
              'content-type': 'text/plain',
            })
            .end('ok');
          return;
        }
        void echoHandler(req, res);
      },
    });
    env = await setup('proxy-inject', { upstream: { headersTimeoutMs: 1500 } });
    const gens = {
      header: seedGenerator('basic-rego-auth'),
      query: seedGenerator('apikey-rego-auth'),
      body: seedGenerator('body-rego-auth'),
    };
    for (const rego of [...Object.values(gens), PRIVATE_TOKEN_EXTRACTOR, PRIVATE_TOKEN_GENERATOR])
      await env.storePolicy(rego);
    await env.c.kubectl(['apply', '-f', '-'], {
      input: objects.yaml(
        objects.connectorClass(cls, {
          address: { name: 'address', type: 'string' },
          auth: {
            types: [
              objects.regoAuthType('basic-rego-auth', gens.header),
              objects.regoAuthType('apikey-rego-auth', gens.query),
              objects.regoAuthType('body-rego-auth', gens.body),
              { name: 'bearer', secretType: objects.SECRET_TYPES.bearerToken },
              { name: 'none', secretType: objects.SECRET_TYPES.basicAuth, optional: true },
            ],
          },
        }),
        privateTokenClass(`${cls}-pt`, PRIVATE_TOKEN_EXTRACTOR),
      ),
    });
    const closedPort = await freePort();
    const connector = (name: string, auth: string, secret?: string, className = cls, address = `${up.url}/api`) =>
      objects.connector(name, { className, address, auth: { name: auth, secret } });
    await env.apply(
      objects.yaml(
        objects.opaqueSecret('basic-opaque', { username: 'alice', password: secretValue }),
        objects.opaqueSecret('apikey', { apikey: secretValue }),
        objects.opaqueSecret('body', { username: 'bob', password: secretValue, client_id: 'cli-1' }),
        objects.bearerTokenSecret('bearer', secretValue),
        objects.opaqueSecret('pt', { token: secretValue }),
        connector('hdr', 'basic-rego-auth', 'basic-opaque'),
        connector('qry', 'apikey-rego-auth', 'apikey'),
        connector('bdy', 'body-rego-auth', 'body'),
        connector('brr', 'bearer', 'bearer'),
        connector('anon', 'none'),
        connector('pt', 'private-token', 'pt', `${cls}-pt`),
        connector('dead', 'bearer', 'bearer', cls, `http://127.0.0.1:${closedPort}/x`),
      ),
    );
    await env.serviceAccount('builder');
    token = await env.token('builder');
    await eventually(
      'the proxy to see the connectors, class and policies',
      async () => {
        const r = await raw(url('pt', '/ready'), { headers: { 'private-token': token } });
        return r.status === 200;
      },
      30_000,
      50,
    );
  });
  after(async () => {
    await env?.stop();
    await env?.c.kubectl(['delete', 'connectorclass', cls, `${cls}-pt`, '--ignore-not-found']);
    await up?.stop();
  });
  beforeEach(() => up.clear());

  function assertNoToken() {
    for (const r of up.requests) {
      expect(JSON.stringify(r.rawHeaders)).to.not.include(token);
      expect(r.url).to.not.include(token);
      expect(r.body.toString()).to.not.include(token);
    }
  }

  it('generator.rego, header position (seed basic-rego-auth): Basic from the Opaque Secret, path prefix kept', async () => {
    const r = await raw(url('hdr', '/v1/items?page=2'), { headers: bearer() });
    expect(r.status).to.equal(200);
    const got = up.last();
    expect(got.url).to.equal('/api/v1/items?page=2');
    expect(got.headers.authorization).to.equal('Basic ' + Buffer.from(`alice:${secretValue}`).toString('base64'));
    assertNoToken();
    // The client never sees the credentials (the echo would show them if they were in the response).
    expect(r.headers['www-authenticate']).to.equal(undefined);
  });

  it('generator.rego, query position (seed apikey-rego-auth): api_key added, other parameters kept', async () => {
    const r = await raw(url('qry', '/search?q=x%20y'), { headers: bearer() });
    expect(r.status).to.equal(200);
    const got = up.last();
    expect(got.path).to.equal('/api/search');
    expect(got.query.get('q')).to.equal('x y');
    expect(got.query.get('api_key')).to.equal(secretValue);
    expect(got.headers.authorization).to.equal(undefined);
    assertNoToken();
  });

  it('generator.rego, body position (seed body-rego-auth): fields merged into the JSON body', async () => {
    const r = await raw(url('bdy', '/login'), {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: '{"scope":"read"}',
    });
    expect(r.status).to.equal(200);
    const got = up.last();
    expect(JSON.parse(got.body.toString())).to.deep.equal({
      scope: 'read',
      username: 'bob',
      password: secretValue,
      client_id: 'cli-1',
    });
    expect(got.headers['content-length']).to.equal(String(got.body.length));
    assertNoToken();
  });

  it('connectors.cpaas.io/bearer-token Secret → Authorization: Bearer <token>, Basic client auth with any user', async () => {
    const r = await raw(url('brr', '/x'), {
      headers: { authorization: 'Basic ' + Buffer.from(`anything:${token}`).toString('base64') },
    });
    expect(r.status).to.equal(200);
    expect(up.last().headers.authorization).to.equal(`Bearer ${secretValue}`);
    assertNoToken();
  });

  it('authExtractor reads Private-Token; without the header the request is rejected', async () => {
    const r = await raw(url('pt', '/api/v4/projects'), { headers: { 'private-token': token } });
    expect(r.status).to.equal(200);
    expect(up.last().headers['private-token']).to.equal(secretValue);
    assertNoToken();
    up.clear();
    const none = await raw(url('pt', '/api/v4/projects'));
    expect(none.status).to.equal(401);
    expect(up.requests).to.have.length(0);
  });

  it('optional auth without a Secret forwards without credentials, but still needs a token', async () => {
    expect((await raw(url('anon', '/x'))).status).to.equal(401);
    const r = await raw(url('anon', '/x'), { headers: bearer() });
    expect(r.status).to.equal(200);
    expect(up.last().headers.authorization).to.equal(undefined);
  });

  it('passes redirects to the client without following them; Location on the Connector upstream is rewritten to the proxy', async () => {
    const away = await raw(url('brr', '/redirect-away'), { headers: bearer() });
    expect(away.status).to.equal(302);
    expect(away.headers.location).to.equal('http://elsewhere.invalid/landing?x=1');
    expect(up.requests).to.have.length(1);
    const self = await raw(url('brr', '/redirect-self'), { headers: bearer() });
    expect(self.status).to.equal(301);
    expect(self.headers.location).to.equal(`${url('brr', '/moved/here')}?y=2`);
    const rel = await raw(url('brr', '/redirect-relative'), { headers: bearer() });
    expect(rel.headers.location).to.equal(url('brr', '/rel/target'));
  });

  it('a redirect keeping the query never hands the client a credential injected there (generator.rego, position query)', async () => {
    const self = await raw(url('qry', '/redirect-keep-query?q=1'), { headers: bearer() });
    expect(up.last().query.get('api_key')).to.equal(secretValue);
    expect(self.status).to.equal(301);
    expect(self.headers.location).to.equal(`${url('qry', '/kept/')}?q=1`);
    const away = await raw(url('qry', '/redirect-away-keep-query?q=1'), { headers: bearer() });
    expect(away.headers.location).to.equal('http://elsewhere.invalid/x?q=1');
  });

  it('strips hop-by-hop headers both ways, and the client token from every header', async () => {
    const r = await raw(url('brr', '/hop'), {
      headers: {
        ...bearer(),
        connection: 'keep-alive, x-client-hop',
        'x-client-hop': '1',
        te: 'trailers',
        'proxy-authorization': 'Basic eDp5',
        'x-echo-token': `prefix ${token}`,
        'x-ok': 'kept',
      },
    });
    expect(r.status).to.equal(200);
    const got = up.last();
    for (const h of ['x-client-hop', 'te', 'proxy-authorization', 'x-echo-token'])
      expect(got.headers[h], h).to.equal(undefined);
    expect(got.headers['x-ok']).to.equal('kept');
    expect(r.headers['x-upstream-hop']).to.equal(undefined);
    expect(r.headers['x-kept']).to.equal('yes');
    assertNoToken();
  });

  it('answers 431 to request headers over 32 KiB', async () => {
    const r = await raw(url('brr', '/x'), { headers: { ...bearer(), 'x-big': 'a'.repeat(40 * 1024) } });
    expect(r.status).to.equal(431);
    expect(up.requests).to.have.length(0);
  });

  it('answers 504 when the upstream is too slow to answer, 502 with a short secret-free text when it is down', async () => {
    const slow = await raw(url('brr', '/slow'), { headers: bearer() });
    expect(slow.status).to.equal(504);
    expect(slow.body).to.match(/timed out/);
    const dead = await raw(url('dead', '/x'), { headers: bearer() });
    expect(dead.status).to.equal(502);
    expect(dead.body.length).to.be.lessThan(200);
    expect(dead.body).to.not.include(secretValue);
  });

  it('rejects paths that climb out of the address prefix', async () => {
    const r = await raw(url('brr', '/%2e%2e/admin'), { headers: bearer() });
    expect(r.status).to.equal(400);
    expect(up.requests).to.have.length(0);
  });

  it('counts requests, durations, bytes, auth cache hits and upstream errors in Prometheus metrics, and logs no secret', async () => {
    await raw(url('brr', '/x'), { headers: bearer() });
    const text = await registry.metrics();
    expect(text).to.match(/connectors_proxy_requests_total\{mode="reverse",connector="[^"]+\/brr",code="200"\} \d+/);
    expect(text).to.match(/connectors_proxy_request_duration_seconds_bucket/);
    expect(text).to.match(/connectors_proxy_bytes_total\{direction="out"\} \d+/);
    expect(text).to.match(/connectors_proxy_auth_cache_total\{kind="tokenreview",result="hit"\} \d+/);
    expect(text).to.match(/connectors_proxy_upstream_errors_total\{kind="headers timeout"\} \d+/);
    const logs = env.logs.join('\n');
    expect(logs).to.not.include(secretValue);
    expect(logs).to.not.include(token);
    expect(auditLines(env.logs).length).to.be.greaterThan(5);
  });
});
