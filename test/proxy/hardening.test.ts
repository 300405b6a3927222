// What a hostile client tries against the proxy, through the real proxy to a recording upstream: TRACE/TRACK
// (which would echo the injected credentials) get 405; encoded slashes and backslashes cannot climb out of a
// Connector's path prefix; `Expect: 100-continue` is answered only once the client is authorised; a token an
// authExtractor reads from the query does not reach the tool; and random tokens cost the apiserver at most a
// budget of reviews per client address.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy } from '../../proxy/index.ts';
import { eventually, objects, startRecordingUpstream, type RecordingUpstream } from '@connectors/test-support';
import { basic, PRIVATE_TOKEN_GENERATOR, privateTokenClass, setup, type Env } from './fixture.ts';

const QUERY_TOKEN_EXTRACTOR = `package proxy
auth = {"token": input.request.query.private_token[0]}
`;

/**
 * Sends `pieces` on one connection (the next one once `ready(got)` says so) and returns all the proxy answers
 * until it closes, `done(got)` says so, or 5 s pass.
 */
function talk(
  port: number,
  pieces: string[],
  o: { ready?: (got: string, i: number) => boolean; done?: (got: string) => boolean } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    let sent = 0;
    const finish = () => {
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(finish, 5000);
    const sendReady = () => {
      while (sent < pieces.length && (sent === 0 || (o.ready?.(got, sent) ?? true))) s.write(pieces[sent++], 'latin1');
    };
    s.on('connect', sendReady);
    s.on('data', (d) => {
      got += d.toString('latin1');
      sendReady();
      if (o.done?.(got)) {
        clearTimeout(timer);
        finish();
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

describe('proxy: hostile clients', function () {
  this.timeout(300_000);
  let env: Env;
  let up: RecordingUpstream;
  let token: string;
  const cls = `hardening-${randomBytes(3).toString('hex')}`;
  const secret = 'S-' + randomBytes(6).toString('hex');
  const path = (connector: string, rest: string) => `/namespaces/${env.ns}/connectors/${connector}${rest}`;
  const complete = (g: string) => /\r\n\r\n/.test(g) && /content-length: 0\r\n\r\n$|\r\n\r\n[\s\S]+$/i.test(g);

  before(async () => {
    up = await startRecordingUpstream();
    env = await setup('proxy-hardening');
    for (const rego of [QUERY_TOKEN_EXTRACTOR, PRIVATE_TOKEN_GENERATOR]) await env.storePolicy(rego);
    await env.c.kubectl(['apply', '-f', '-'], { input: objects.yaml(privateTokenClass(cls, QUERY_TOKEN_EXTRACTOR)) });
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('rec', 'u', secret),
        objects.opaqueSecret('gl', { token: secret }),
        objects.connector('rec', {
          className: 'git',
          address: `${up.url}/rec`,
          auth: { name: 'basicAuth', secret: 'rec' },
        }),
        objects.connector('gl', {
          className: cls,
          address: `${up.url}/api/v4`,
          auth: { name: 'private-token', secret: 'gl' },
        }),
      ),
    );
    await env.serviceAccount('builder');
    token = await env.token('builder');
    await eventually(
      'the proxy to see the connectors, the class and its policies',
      async () => {
        const got = await talk(env.proxy.port, [
          `GET ${path('gl', '/ready')}?private_token=${token} HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n`,
        ]);
        return got.startsWith('HTTP/1.1 200');
      },
      30_000,
      100,
    );
  });
  after(async () => {
    await env?.stop();
    await env?.c.kubectl(['delete', 'connectorclass', cls, '--ignore-not-found']);
    await up?.stop();
  });
  beforeEach(() => up.clear());

  // TRACK is not a method node's parser knows: it refuses it (400) before any handler; TRACE is the proxy's 405.
  for (const [method, status] of [
    ['TRACE', 405],
    ['TRACK', 400],
  ] as const)
    it(`${method} gets ${status} in reverse and forward mode, and never reaches the tool`, async () => {
      const reverse = await talk(env.proxy.port, [
        `${method} ${path('rec', '/x')} HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(reverse.slice(0, 13)).to.equal(`HTTP/1.1 ${status} `);
      if (status === 405) expect(reverse).to.match(/\r\nallow: GET, HEAD, POST/i);
      const auth = Buffer.from(`${env.ns}/rec:${token}`).toString('base64');
      const forward = await talk(env.proxy.port, [
        `${method} ${up.url}/rec/x HTTP/1.1\r\nHost: ${new URL(up.url).host}\r\nProxy-Authorization: Basic ${auth}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(forward.slice(0, 13)).to.equal(`HTTP/1.1 ${status} `);
      expect(up.requests).to.have.length(0);
      expect(reverse + forward).to.not.include(secret);
    });

  const escapes = [
    '/..%2F..%2Fsecret',
    '/a/..%2f..%2f..%2fsecret',
    '/..%5Csecret',
    '/..%252F..%252Fsecret',
    '/..;/secret',
  ];
  for (const escape of escapes)
    it(`refuses ${escape}, which a tool decoding it would read as outside the Connector's prefix`, async () => {
      const got = await talk(env.proxy.port, [
        `GET ${path('rec', escape)} HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(got)
        .to.match(/^HTTP\/1\.1 400 /)
        .and.match(/the path leaves the connector address/);
      expect(up.requests).to.have.length(0);
    });

  it('forwards an encoded slash that stays inside the prefix as it came (GitLab project paths)', async () => {
    const got = await talk(env.proxy.port, [
      `GET ${path('rec', '/projects/group%2Fname/x')} HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(got).to.match(/^HTTP\/1\.1 200 /);
    expect(up.last().url).to.equal('/rec/projects/group%2Fname/x');
    expect(up.last().headers.authorization).to.equal(basic('u', secret));
  });

  it('in forward mode, a path escaping the prefix that way gets no credentials', async () => {
    const auth = Buffer.from(`${env.ns}/rec:${token}`).toString('base64');
    const got = await talk(env.proxy.port, [
      `GET ${up.url}/rec/..%2F..%2Fsecret HTTP/1.1\r\nHost: ${new URL(up.url).host}\r\nProxy-Authorization: Basic ${auth}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(got).to.match(/^HTTP\/1\.1 200 /);
    expect(up.last().url).to.equal('/rec/..%2F..%2Fsecret');
    expect(up.last().headers.authorization).to.equal(undefined);
  });

  it('answers Expect: 100-continue only after authorisation: a client without a token gets 401, not 100', async () => {
    const head = (auth: string) =>
      `PUT ${path('rec', '/upload')} HTTP/1.1\r\nHost: p\r\n${auth}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    const anonymous = await talk(env.proxy.port, [head('')], { done: complete });
    expect(anonymous).to.match(/^HTTP\/1\.1 401 /);
    expect(anonymous).to.not.include('100 Continue');
    // Authorised: 100 first, then the body is sent and forwarded.
    const authorised = await talk(env.proxy.port, [head(`Authorization: Bearer ${token}\r\n`), 'hello'], {
      ready: (got) => got.startsWith('HTTP/1.1 100 Continue\r\n\r\n'),
      done: (got) => /HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{/.test(got) && got.endsWith('}'),
    });
    expect(authorised).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(up.last().body.toString()).to.equal('hello');
  });

  it('removes a token the authExtractor read from the query before forwarding', async () => {
    const got = await talk(env.proxy.port, [
      `GET ${path('gl', '/projects?private_token=' + token + '&per_page=2')} HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n`,
    ]);
    expect(got).to.match(/^HTTP\/1\.1 200 /);
    expect(up.last().url).to.equal('/api/v4/projects?per_page=2');
    expect(up.last().headers['private-token']).to.equal(secret);
    expect(JSON.stringify(up.last())).to.not.include(token);
  });

  it('refuses malformed tokens without a review and answers 429 once a client address has spent its failures', async () => {
    const proxy = await startProxy(env.c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      systemNamespace: env.systemNs,
      reviewLimits: { failureBurst: 5, failuresPerSecond: 0.5 },
    });
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 12; i++) {
        const junk =
          i % 2
            ? randomBytes(24).toString('hex')
            : `eyJhbGciOiJSUzI1NiJ9.${randomBytes(30).toString('base64url')}.c2ln`;
        const got = await talk(proxy.port, [
          `GET ${path('rec', '/x')} HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer ${junk}\r\nConnection: close\r\n\r\n`,
        ]);
        statuses.push(got.slice(9, 12) + (/retry-after: 1/i.test(got) ? '+retry' : ''));
      }
      expect(statuses).to.deep.equal([...Array(5).fill('401'), ...Array(7).fill('429+retry')]);
      // The budget refills (one failure per 2 s): a valid token gets through again.
      await sleep(2200);
      const ok = await talk(proxy.port, [
        `GET ${path('rec', '/x')} HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(ok).to.match(/^HTTP\/1\.1 200 /);
    } finally {
      await proxy.stop();
    }
  });
});
