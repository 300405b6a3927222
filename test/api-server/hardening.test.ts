// The Connectors API reuses the proxy's HTTP/1 code (front, upstream client), and holds against hostile clients
// and tools as the proxy does: a tool's header value with a control byte is a 502 on both of its paths (the
// front and express) and the API keeps serving; Expect: 100-continue is answered only after authentication; a
// request body that does not arrive in time gets 408; one user's requests in flight are capped (429); client
// connections are capped; an address sending bad tokens gets 429 without more TokenReviews.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, objects } from '@connectors/test-support';
import { setupApi, type ApiEnv } from './fixture.ts';

/**
 * A tool that answers by path: `/bad` with a control byte in a value, `/hold` not until released, else 200 once
 * the request's body (Content-Length) has arrived.
 */
interface RawTool {
  url: string;
  held: Socket[];
  releaseHeld(): void;
  stop(): Promise<void>;
}

async function rawTool(): Promise<RawTool> {
  const held: Socket[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return; // the rest of the body first
        buffered = buffered.slice(end + 4 + length);
        const [method, path = ''] = head.split(' ');
        const body = method === 'HEAD' ? '' : 'ok';
        if (path.endsWith('/hold')) held.push(socket);
        else if (path.endsWith('/bad'))
          socket.write(`HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\n${body}`, 'latin1');
        else socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    held,
    releaseHeld() {
      for (const s of held.splice(0)) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    },
    stop() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Writes `text` on a new connection to `port`; resolves with what came back once `done(received)` or after `ms`. */
function exchange(
  port: number,
  text: string,
  opts: { ms?: number; done?: (got: string) => boolean; then?: (s: Socket, got: string) => void } = {},
): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = connect(port, '127.0.0.1', () => s.write(text, 'latin1'));
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(finish, opts.ms ?? 10_000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      opts.then?.(s, got);
      if (opts.done?.(got)) finish();
    });
    s.on('error', () => {});
    s.on('close', finish);
  });
}

describe('api: hostile clients and tools (the hardening of core/http1 on the API)', function () {
  this.timeout(120_000);
  const CLASS = `hard-${randomBytes(3).toString('hex')}`;
  const PER_USER = 2;
  const MAX_CONNECTIONS = 12;
  let env: ApiEnv;
  let tool: RawTool;
  let port: number;
  const tokens: Record<string, string> = {};
  const path = (p: string) => env.path('tool', p);

  before(async () => {
    tool = await rawTool();
    env = await setupApi('api-hard', {
      maxRequestsPerUser: PER_USER,
      requestTimeoutMs: 1_500,
      maxConnections: MAX_CONNECTIONS,
      reviewLimits: { failureBurst: 3, failuresPerSecond: 0.001 },
    });
    port = env.api.port;
    await env.apply(objects.yaml(objects.connectorClass(CLASS, { address: { type: 'string' } })), 'default');
    await env.apply(objects.yaml(objects.connector('tool', { className: CLASS, address: tool.url })));
    const get = { resources: ['connectors'], verbs: ['get'] };
    tokens.reader = await env.serviceAccount('reader', [get]);
    tokens.other = await env.serviceAccount('other', [get]);
    await eventually('the API to see the Connector', async () => {
      return (await env.curl(path('/ok'), { token: tokens.reader })).status === 200;
    });
  });

  after(async () => {
    tool?.releaseHeld();
    await env?.stop();
    await env?.c.kubectl(['delete', 'connectorclass', CLASS, '--ignore-not-found']);
    await tool?.stop();
  });

  it("answers 502 for a tool's header value with a control byte, through the front (GET) and express (OPTIONS), and keeps serving", async () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const r = await env.curl(path('/bad'), { method, token: tokens.reader });
      expect(r.status, method).to.equal(502);
      expect(JSON.stringify(r.headers), method).to.not.include('\x01');
      const ok = await env.curl(path('/ok'), { method, token: tokens.reader });
      expect(ok.status, `${method} after the bad response`).to.equal(200);
    }
  });

  it('answers Expect: 100-continue only once the client is authenticated', async () => {
    const head = (auth: string) =>
      `OPTIONS ${path('/ok')} HTTP/1.1\r\nHost: api\r\n${auth}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`;
    const refused = await exchange(port, head(''), { done: (g) => g.includes('\r\n\r\n') });
    expect(refused).to.match(/^HTTP\/1\.1 401 /);
    let sent = false;
    const allowed = await exchange(port, head(`Authorization: Bearer ${tokens.reader}\r\n`), {
      then: (s, got) => {
        if (!sent && got.includes('\r\n\r\n')) {
          sent = true;
          s.write('hello');
        }
      },
      done: (g) => /\r\n\r\nok$/.test(g),
    });
    expect(allowed).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('answers 408 to a request whose body does not arrive within the request timeout', async () => {
    const started = Date.now();
    // The tool waits for the whole body, which never comes: only the request timeout (1.5 s) ends this.
    const got = await exchange(
      port,
      `OPTIONS ${path('/ok')} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ${tokens.reader}\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nab`,
      { ms: 15_000, done: (g) => g.includes('\r\n\r\n') },
    );
    expect(got).to.match(/^HTTP\/1\.1 408 /);
    expect(got).to.include('"reason":"Timeout"');
    expect(Date.now() - started).to.be.at.least(1_400);
  });

  it('caps one user at its requests in flight (429, Retry-After), while another user is served', async () => {
    const pending = Array.from({ length: PER_USER }, () => env.curl(path('/hold'), { token: tokens.reader }));
    await eventually('the held requests to reach the tool', () => tool.held.length === PER_USER);
    const refused = await env.curl(path('/ok'), { token: tokens.reader });
    expect(refused.status).to.equal(429);
    expect(refused.headers['retry-after']).to.equal('1');
    expect(refused.json()).to.include({ kind: 'Status', code: 429 });
    expect((await env.curl(path('/ok'), { token: tokens.other })).status).to.equal(200);
    tool.releaseHeld();
    expect((await Promise.all(pending)).map((r) => r.status)).to.deep.equal(Array(PER_USER).fill(200));
    expect((await env.curl(path('/ok'), { token: tokens.reader })).status).to.equal(200);
  });

  it('closes client connections beyond the cap as they come, and takes new ones once others close', async () => {
    const open: Socket[] = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise<void>((r) => s.once('connect', () => r()));
        open.push(s);
      }
      await sleep(200);
      const beyond = await exchange(
        port,
        `GET ${path('/ok')} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ${tokens.reader}\r\n\r\n`,
        {
          ms: 5_000,
        },
      );
      expect(beyond).to.equal('');
    } finally {
      for (const s of open) s.destroy();
    }
    await eventually(
      'a new connection to be served',
      async () => (await env.curl(path('/ok'), { token: tokens.reader })).status === 200,
    );
  });

  // Last: it spends the failure budget of 127.0.0.1, which every request of this file comes from.
  it('answers 429 without a TokenReview once an address has spent its failed authentications', async () => {
    const random = () => randomBytes(24).toString('base64url');
    expect((await env.curl(path('/ok'), { token: tokens.reader })).status).to.equal(200); // reviewed, now cached
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await env.curl(path('/ok'), { token: random() })).status);
    expect(statuses.slice(0, 3)).to.deep.equal([401, 401, 401]);
    expect(statuses.slice(3)).to.deep.equal([429, 429]);
    // A token already reviewed (cached) keeps working from that address.
    expect((await env.curl(path('/ok'), { token: tokens.reader })).status).to.equal(200);
  });
});
