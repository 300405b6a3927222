// The proxy's exchange pipeline, step by step, with the cluster and the tool replaced by in-process stand-ins:
// every protocol (reverse HTTP, forward HTTP, CONNECT, OCI) gets the same answer from the same step, the one
// error writer's formats, the request hooks, and a protocol written as one object in this file.
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Connector } from '../../core/api/index.ts';
import type { AccessCheck, Authentication } from '../../core/auth/review.ts';
import type { ProxyRequest, ProxyResponse } from '../../core/http1/exchange.ts';
import type { Forwarding, ForwardResult } from '../../core/http1/upstream.ts';
import { ConcurrencyLimit } from '../../core/util/limits.ts';
import type { AuditRecord } from '../../proxy/audit.ts';
import type { ProxyContext } from '../../proxy/context.ts';
import { ForwardProxy } from '../../proxy/forward.ts';
import { RegistryAuth } from '../../proxy/oci/auth.ts';
import { ociProtocol } from '../../proxy/oci/protocol.ts';
import { ociErrorCode, Pipeline, Refusal, writeError, type Protocol } from '../../proxy/pipeline.ts';
import { reverseProtocol } from '../../proxy/reverse.ts';
import { AddressGuard, HostAllowList } from '../../proxy/rules/target-policy.ts';

const basic = (user: string, token: string) => 'Basic ' + Buffer.from(`${user}:${token}`).toString('base64');

/** A response that records what the proxy wrote. */
class Recorded extends EventEmitter implements ProxyResponse {
  status = 0;
  headers: Record<string, string | string[] | number> = {};
  body = '';
  headersSent = false;
  writableFinished = false;
  writeHead(status: number, headers: Record<string, string | string[] | number> = {}) {
    this.status = status;
    this.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    this.headersSent = true;
    return this;
  }
  write(chunk: Buffer) {
    this.body += chunk.toString();
    return true;
  }
  end(data?: string | Buffer) {
    if (data !== undefined) this.body += data.toString();
    this.writableFinished = true;
    return this;
  }
  destroy() {
    return this;
  }
  cork() {}
  uncork() {}
}

/** A raw socket that records what a CONNECT answer wrote on it. */
class RecordedSocket extends EventEmitter {
  written = '';
  remoteAddress = '192.0.2.1';
  destroyed = false;
  end(data?: string) {
    if (data) this.written += data;
  }
  write(data: string) {
    this.written += data;
    return true;
  }
  destroy() {
    this.destroyed = true;
  }
}

function request(method: string, url: string, headers: IncomingHttpHeaders, socket: object = {}): ProxyRequest {
  return { method, url, headers, socket, async *[Symbol.asyncIterator]() {} };
}

const connector = (name: string, address: string, secret?: string): Connector =>
  ({
    metadata: { namespace: 'ns', name },
    spec: {
      connectorClassName: 'plain',
      address,
      ...(secret ? { auth: { name: 'basicAuth', secretRef: { name: secret } } } : {}),
    },
  }) as Connector;

/**
 * A proxy context: tokens `good` (ServiceAccount ns/sa) and `bad` (refused by the TokenReview); the
 * ServiceAccount may use every Connector but `denied`. Connectors: `git` (http://tool.test, Secret `creds`
 * which exists), `nosecret` (Secret `gone`, which does not), `denied`, `broken` (an address that is no URL).
 */
function context() {
  const audits: AuditRecord[] = [];
  const forwarded: Forwarding[] = [];
  const connectors = new Map<string, Connector>([
    ['git', connector('git', 'http://tool.test/base', 'creds')],
    ['nosecret', connector('nosecret', 'http://other.test', 'gone')],
    ['denied', connector('denied', 'http://tool.test')],
    ['broken', connector('broken', 'not a url')],
  ]);
  const secrets = new Map([
    [
      'creds',
      {
        metadata: { namespace: 'ns', name: 'creds' },
        type: 'kubernetes.io/basic-auth',
        data: { username: Buffer.from('u').toString('base64'), password: Buffer.from('p').toString('base64') },
      },
    ],
  ]);
  const authorizer = {
    cachedAuthentication: () => undefined,
    cachedAuthorization: () => undefined,
    authenticate: (token: string): Promise<Authentication> =>
      Promise.resolve(
        token === 'good'
          ? { authenticated: true, user: { username: 'system:serviceaccount:ns:sa' } }
          : { authenticated: false, reason: 'token rejected' },
      ),
    authorize: (_a: unknown, check: AccessCheck) =>
      Promise.resolve(
        check.name === 'denied'
          ? { allowed: false, reason: `ns/sa may not get connector ns/${check.name}` }
          : { allowed: true, reason: '' },
      ),
  };
  const ctx = {
    state: {
      connector: (ns: string, name: string) => (ns === 'ns' ? connectors.get(name) : undefined),
      connectorClass: () => undefined,
      secret: (ns: string, name: string) => (ns === 'ns' ? secrets.get(name) : undefined),
      flags: { enabled: () => false },
    },
    authorizer,
    policies: {},
    upstream: {
      forward: (f: Forwarding): Promise<ForwardResult> => {
        forwarded.push(f);
        f.res.writeHead(200, { 'content-type': 'text/plain' });
        f.res.end('from the tool');
        return Promise.resolve({ status: 200, bytesIn: 0, bytesOut: 13 });
      },
    },
    trust: { for: () => undefined },
    audit: { record: (r: AuditRecord) => audits.push({ ...r }) },
    log: { warn() {}, error() {}, info() {} },
    maxInjectBodyBytes: 1024,
    perServiceAccount: new ConcurrencyLimit(4),
  } as unknown as ProxyContext;
  return { ctx, audits, forwarded };
}

/** How a client of each protocol asks for Connector `name` of namespace ns with `token`; what it gets back. */
type Answer = { status: number; challenge?: string; message: string; retryAfter?: string };
type Asker = (name: string, token: string) => Promise<Answer>;

function askers(): Record<string, { ask: Asker; close(): void }> {
  const { ctx } = context();
  const pipeline = new Pipeline(ctx);
  const forward = new ForwardProxy(ctx, pipeline, {
    allow: new HostAllowList([]),
    guard: new AddressGuard(() => [], []),
  });
  const oci = ociProtocol(new RegistryAuth(ctx.upstream), () => true);
  const text = (res: Recorded): Answer => ({
    status: res.status,
    challenge: (res.headers['www-authenticate'] ?? res.headers['proxy-authenticate']) as string | undefined,
    message: res.body.trim(),
    retryAfter: res.headers['retry-after'] as string | undefined,
  });
  const address = (name: string) => ctx.state.connector('ns', name)?.spec.address ?? 'http://unknown.test';
  return {
    reverse: {
      async ask(name, token) {
        const res = new Recorded();
        await pipeline.run(
          reverseProtocol,
          request('GET', `/namespaces/ns/connectors/${name}/x`, { authorization: `Bearer ${token}` }),
          res,
        );
        return text(res);
      },
      close() {},
    },
    forward: {
      async ask(name, token) {
        const res = new Recorded();
        await forward.handle(
          request('GET', new URL('/x', address(name)).href, {
            'proxy-authorization': basic(`ns/${name}`, token),
          }) as never,
          res as never,
        );
        return text(res);
      },
      close: () => forward.close(),
    },
    connect: {
      async ask(name, token) {
        const socket = new RecordedSocket();
        const u = URL.parse(address(name));
        await forward.handleConnect(
          {
            ...request('CONNECT', `${u?.hostname ?? 'unknown.test'}:443`, {
              'proxy-authorization': basic(`ns/${name}`, token),
            }),
            socket,
          } as never,
          socket as never,
          Buffer.alloc(0),
        );
        const [head, body] = socket.written.split('\r\n\r\n');
        const field = (n: string) => new RegExp(`^${n}: (.*)$`, 'im').exec(head)?.[1];
        return {
          status: Number(head.split(' ')[1]),
          challenge: field('proxy-authenticate'),
          message: body.trim(),
          retryAfter: field('retry-after'),
        };
      },
      close() {},
    },
    oci: {
      async ask(name, token) {
        const res = new Recorded();
        await pipeline.run(
          oci,
          request('GET', `/v2/namespaces/ns/connectors/${name}/repo/manifests/v1`, {
            authorization: basic('any', token),
          }),
          res,
        );
        const doc = JSON.parse(res.body) as { errors: { code: string; message: string }[] };
        expect(doc.errors[0].code, 'OCI error code').to.equal(ociErrorCode(res.status));
        expect(res.headers['docker-distribution-api-version']).to.equal('registry/2.0');
        return { ...text(res), message: doc.errors[0].message };
      },
      close() {},
    },
  };
}

describe('proxy: the exchange pipeline', () => {
  const protocols = askers();
  after(() => Object.values(protocols).forEach((p) => p.close()));

  // [case, connector, token, status, message, protocols the step applies to]
  const cases: Array<[string, string, string, number, string, string[]]> = [
    [
      'token refused by the TokenReview',
      'git',
      'bad',
      401,
      'the token is invalid, expired or for another audience',
      ['reverse', 'forward', 'connect', 'oci'],
    ],
    [
      'ServiceAccount may not use the Connector',
      'denied',
      'good',
      403,
      'forbidden: ns/sa may not get connector ns/denied',
      ['reverse', 'forward', 'connect', 'oci'],
    ],
    // Forward mode lists Connectors and matches the target against the ones that exist: none is "not found".
    ['Connector does not exist', 'missing', 'good', 404, 'connector ns/missing not found', ['reverse', 'oci']],
    [
      "the Connector's Secret does not exist",
      'nosecret',
      'good',
      502,
      'Secret "gone" of namespace "ns" not found',
      ['reverse', 'forward', 'oci'],
    ],
    [
      'the Connector address is not a URL',
      'broken',
      'good',
      502,
      'connector ns/broken has an invalid address',
      ['reverse', 'oci'],
    ],
  ];
  for (const [what, name, token, status, message, applies] of cases) {
    for (const p of applies) {
      it(`${p}: ${what} → ${status}, the same message as every protocol`, async () => {
        const got = await protocols[p].ask(name, token);
        // A forward proxy asks for credentials with 407 and Proxy-Authenticate; a server with 401.
        const forwardProxy = p === 'forward' || p === 'connect';
        expect(got.status).to.equal(status === 401 && forwardProxy ? 407 : status);
        expect(got.message).to.equal(message);
        if (status === 401) expect(got.challenge).to.equal('Basic realm="connectors-proxy"');
        else expect(got.challenge).to.equal(undefined);
      });
    }
  }

  it('every step is audited once, with the reason for the proxy’s own answers', async () => {
    const { ctx, audits } = context();
    const pipeline = new Pipeline(ctx);
    for (const [url, token] of [
      ['/namespaces/ns/connectors/git/a?secret=1', 'bad'],
      ['/namespaces/ns/connectors/missing/a', 'good'],
      ['/namespaces/ns/connectors/git/a', 'good'],
    ])
      await pipeline.run(reverseProtocol, request('GET', url, { authorization: `Bearer ${token}` }), new Recorded());
    expect(audits.map((a) => [a.status, a.connector, a.serviceAccount, a.reason, a.injected])).to.deep.equal([
      [401, 'ns/git', '', 'token rejected', false],
      [404, 'ns/missing', 'ns/sa', 'connector not found', false],
      [200, 'ns/git', 'ns/sa', undefined, true],
    ]);
  });

  it('request hooks run before any protocol: TRACE is 405 in every protocol, with Allow', async () => {
    const { ctx, audits } = context();
    const pipeline = new Pipeline(ctx);
    const forward = new ForwardProxy(ctx, pipeline, {
      allow: new HostAllowList([]),
      guard: new AddressGuard(() => [], []),
    });
    const oci = ociProtocol(new RegistryAuth(ctx.upstream), () => true);
    const runs: Array<[string, (res: Recorded) => Promise<void>]> = [
      ['reverse', (res) => pipeline.run(reverseProtocol, request('TRACE', '/namespaces/ns/connectors/git/', {}), res)],
      ['forward', (res) => forward.handle(request('TRACE', 'http://tool.test/', {}) as never, res as never)],
      ['oci', (res) => pipeline.run(oci, request('TRACE', '/v2/', {}), res)],
    ];
    for (const [p, run] of runs) {
      const res = new Recorded();
      await run(res);
      expect(res.status, p).to.equal(405);
      expect(res.headers.allow, p).to.equal('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    }
    forward.close();
    expect(audits.map((a) => a.status)).to.deep.equal([405, 405, 405]);
    expect(ctx.perServiceAccount.acquire('ns/sa')?.n, 'no slot was taken').to.equal(1);
  });

  it('the error writer: the status decides the headers, the protocol the body', () => {
    // [status, format, header expected, body check]
    const table: Array<[number, 'text' | 'oci', string | undefined, (body: string) => void]> = [
      [401, 'text', 'www-authenticate', (b) => expect(b).to.equal('m\n')],
      [407, 'text', 'proxy-authenticate', (b) => expect(b).to.equal('m\n')],
      [429, 'text', 'retry-after', (b) => expect(b).to.equal('m\n')],
      [
        503,
        'oci',
        'retry-after',
        (b) => expect(JSON.parse(b).errors[0]).to.deep.equal({ code: 'UNAVAILABLE', message: 'm', detail: null }),
      ],
      [404, 'oci', undefined, (b) => expect(JSON.parse(b).errors[0].code).to.equal('NAME_UNKNOWN')],
      [403, 'oci', undefined, (b) => expect(JSON.parse(b).errors[0].code).to.equal('DENIED')],
    ];
    for (const [status, format, header, body] of table) {
      const res = new Recorded();
      writeError(res, format, new Refusal(status, 'm'));
      expect(res.status).to.equal(status);
      for (const h of ['www-authenticate', 'proxy-authenticate', 'retry-after'])
        expect(res.headers[h] !== undefined, `${status} ${h}`).to.equal(h === header);
      body(res.body);
    }
  });

  it('a protocol is one object: route, target, credentials; the pipeline does the rest', async () => {
    const { ctx, audits, forwarded } = context();
    // Names the Connector in an X-Connector field and the token in X-Token; always goes to /echo.
    const headerProtocol: Protocol<undefined, URL> = {
      mode: 'reverse',
      errors: 'text',
      challenge: 401,
      route(_c, req) {
        const name = String(req.headers['x-connector'] ?? '');
        const token = String(req.headers['x-token'] ?? '');
        if (!token) return new Refusal(401, 'X-Token, please', 'no token');
        return {
          token,
          connectors: [{ namespace: 'ns', name }],
          connector: { namespace: 'ns', name },
          state: undefined,
        };
      },
      target: (_c, ex) => new URL('/echo', ex.connector!.spec.address),
      credentials: (_c, ex, target) => ({
        req: ex.req,
        res: ex.res,
        target,
        headers: { 'x-credential': 'from the connector' },
        injected: true,
      }),
    };
    const pipeline = new Pipeline(ctx);
    const answers: number[] = [];
    for (const headers of [
      {},
      { 'x-connector': 'git', 'x-token': 'bad' },
      { 'x-connector': 'denied', 'x-token': 'good' },
      { 'x-connector': 'git', 'x-token': 'good' },
    ]) {
      const res = new Recorded();
      await pipeline.run(headerProtocol, request('GET', '/', headers), res);
      answers.push(res.status);
    }
    expect(answers).to.deep.equal([401, 401, 403, 200]);
    expect(forwarded.map((f) => [f.target.href, f.headers])).to.deep.equal([
      ['http://tool.test/echo', { 'x-credential': 'from the connector' }],
    ]);
    expect(audits.map((a) => [a.status, a.injected])).to.deep.equal([
      [401, false],
      [401, false],
      [403, false],
      [200, true],
    ]);
    // The slot of the request in flight was given back.
    expect(ctx.perServiceAccount.acquire('ns/sa')?.n).to.equal(1);
  });

  it('a ServiceAccount at its cap of requests in flight gets 429 before its credentials are looked at', async () => {
    const { ctx, forwarded } = context();
    const pipeline = new Pipeline(ctx);
    for (let i = 0; i < ctx.perServiceAccount.max; i++) ctx.perServiceAccount.acquire('ns/sa');
    const res = new Recorded();
    await pipeline.run(
      reverseProtocol,
      request('GET', '/namespaces/ns/connectors/git/', { authorization: 'Bearer good' }),
      res,
    );
    expect(res.status).to.equal(429);
    expect(res.headers['retry-after']).to.equal('1');
    expect(res.body).to.match(/ns\/sa has 4 requests in flight/);
    expect(forwarded).to.have.length(0);
  });
});
