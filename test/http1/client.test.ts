// The proxy's HTTP/1.1 upstream client against scripted TCP servers on loopback: connection reuse, the replay
// of a request whose reused connection was closed under it, framing both ways, timeouts, back-pressure, limits.
import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Http1Client, type UpstreamError, type UpstreamRequest } from '../../core/http1/client.ts';

interface Scripted {
  url: URL;
  /** Raw bytes received, per connection. */
  received: string[];
  connections: number;
  close(): Promise<void>;
}

/** A server that hands each request head (and what follows in the same read) to `respond`. */
async function scripted(
  respond: (request: string, socket: Socket, conn: number, nth: number) => void,
): Promise<Scripted> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const conn = received.length;
    received.push('');
    sockets.add(socket);
    let nth = 0;
    let buffered = '';
    socket.on('data', (d) => {
      received[conn] += d.toString('latin1');
      buffered += d.toString('latin1');
      if (buffered.includes('\r\n\r\n')) {
        const request = buffered;
        buffered = '';
        respond(request, socket, conn, nth++);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    received,
    get connections() {
      return received.length;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Result {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
  error?: UpstreamError;
}

function send(client: Http1Client, spec: Partial<UpstreamRequest> & { url: URL }): Promise<Result> {
  return new Promise((resolve) => {
    const out: Result = { status: 0, headers: {}, body: '' };
    client.request(
      { method: 'GET', headers: {}, ...spec },
      {
        onHead: (s, h) => {
          out.status = s;
          out.headers = h;
        },
        onData: (c) => (out.body += c.toString('latin1')),
        onEnd: () => resolve(out),
        onError: (e) => resolve({ ...out, error: e }),
      },
    );
  });
}

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

describe('core/http1 client', function () {
  this.timeout(20_000);
  let server: Scripted | undefined;
  let client: Http1Client;
  beforeEach(() => {
    client = new Http1Client({ headersTimeoutMs: 1000, idleTimeoutMs: 1000 });
  });
  afterEach(async () => {
    client.close();
    await server?.close();
    server = undefined;
  });

  it('reuses one keep-alive connection for sequential requests, with Host set from the URL', async () => {
    server = await scripted((_req, s) => s.write(ok('hi')));
    for (let i = 0; i < 3; i++)
      expect((await send(client, { url: new URL('/a?b=1', server.url) })).body).to.equal('hi');
    expect(server.connections).to.equal(1);
    expect(server.received[0]).to.match(
      new RegExp(`^GET /a\\?b=1 HTTP/1\\.1\r\nhost: 127\\.0\\.0\\.1:${server.url.port}\r\n\r\n`),
    );
  });

  it('sends a GET again on a new connection when the reused one was closed before answering', async () => {
    // The keep-alive race: the server drops a kept connection just as the next request arrives on it.
    server = await scripted((_req, s, _conn, nth) => (nth === 0 ? s.write(ok('first')) : s.destroy()));
    expect((await send(client, { url: server.url })).body).to.equal('first');
    const second = await send(client, { url: server.url });
    expect(second.error).to.equal(undefined);
    expect(second.body).to.equal('first');
    expect(server.connections).to.equal(2);
  });

  it('does not replay a POST (not idempotent): the failure is reported', async () => {
    server = await scripted((_req, s, _conn, nth) => (nth === 0 ? s.write(ok('first')) : s.destroy()));
    await send(client, { url: server.url });
    const r = await send(client, { url: server.url, method: 'POST', body: Buffer.from('x') });
    expect(r.error?.kind).to.equal('connection reset');
    expect(server.connections).to.equal(1);
  });

  it('decodes a chunked response and a close-delimited one', async () => {
    server = await scripted((req, s) => {
      if (req.startsWith('GET /chunked'))
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
      else s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
    });
    const chunked = await send(client, { url: new URL('/chunked', server.url) });
    expect(chunked.body).to.equal('abcde');
    expect(chunked.headers['transfer-encoding']).to.equal('chunked');
    expect((await send(client, { url: new URL('/close', server.url) })).body).to.equal('until the end');
  });

  it("frames request bodies: Content-Length for a whole body, the client's length for a stream that has one, chunked otherwise", async () => {
    server = await scripted((req, s) =>
      req.includes('0\r\n\r\n') || /content-length: [1-9]/.test(req) ? s.write(ok('ok')) : undefined,
    );
    await send(client, {
      url: server.url,
      method: 'PUT',
      body: Buffer.from('whole'),
      headers: { 'content-length': '999' },
    });
    expect(server.received[0]).to.include('content-length: 5\r\n\r\nwhole').and.not.include('999');

    const known = new PassThrough();
    const p1 = send(client, { url: server.url, method: 'PUT', body: known, headers: { 'content-length': '6' } });
    known.end('stream');
    await p1;
    expect(server.received[0]).to.include('content-length: 6\r\n\r\nstream');

    const unknown = new PassThrough();
    const p2 = send(client, { url: server.url, method: 'POST', body: unknown });
    unknown.write('ab');
    await sleep(20);
    unknown.end('cde');
    await p2;
    expect(server.received[0]).to.include('transfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n');

    await send(client, { url: server.url, method: 'POST' });
    expect(server.received[0]).to.match(/POST \/ HTTP\/1\.1\r\nhost: [^\r]+\r\ncontent-length: 0\r\n\r\n$/);
  });

  it('refuses a header value with a line break, a bad header name or method, and sends nothing', async () => {
    server = await scripted((_req, s) => s.write(ok('x')));
    const cases: Partial<UpstreamRequest>[] = [
      { headers: { 'x-injected': 'a\r\nx-evil: 1' } },
      { headers: { 'x-list': ['ok', 'a\nb'] } },
      { headers: { 'bad name': 'v' } },
      { method: 'GET /x HTTP/1.1\r\n' },
    ];
    for (const c of cases)
      expect((await send(client, { url: server.url, ...c })).error?.kind).to.equal('invalid request');
    expect(server.connections).to.equal(0);
  });

  const failures: [string, (req: string, s: Socket) => void, string][] = [
    ['headers timeout when no response comes', () => {}, 'headers timeout'],
    [
      'idle timeout when the body stops arriving',
      (_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'),
      'idle timeout',
    ],
    [
      'invalid response for a malformed one',
      (_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx'),
      'invalid response',
    ],
    [
      'connection reset when the body is cut',
      (_r, s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'),
      'connection reset',
    ],
  ];
  for (const [name, respond, kind] of failures) {
    it(`reports ${name}`, async () => {
      server = await scripted(respond);
      const r = await send(client, { url: server.url });
      expect(r.error?.kind).to.equal(kind);
    });
  }

  it('reports a refused connection by its code', async () => {
    const gone = await scripted(() => {});
    const url = gone.url;
    await gone.close();
    expect((await send(client, { url })).error?.kind).to.equal('ECONNREFUSED');
  });

  it('queues requests beyond the per-origin connection limit', async () => {
    const limited = new Http1Client({ maxConnectionsPerOrigin: 2 });
    server = await scripted((_req, s) => setTimeout(() => s.write(ok('q')), 20));
    const all = await Promise.all(Array.from({ length: 6 }, () => send(limited, { url: server!.url })));
    limited.close();
    expect(all.map((r) => r.body)).to.deep.equal(Array(6).fill('q'));
    expect(server.connections).to.equal(2);
  });

  it('closes a connection answered before the request body was sent, and uses a new one next', async () => {
    server = await scripted((_req, s) => s.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'));
    const body = new PassThrough();
    const r = await send(client, { url: server.url, method: 'POST', body });
    expect(r.status).to.equal(401);
    body.end('late');
    expect((await send(client, { url: server.url })).status).to.equal(401);
    expect(server.connections).to.equal(2);
  });

  it("follows the server's Keep-Alive timeout hint: a 1 s hint means no reuse", async () => {
    server = await scripted((_req, s) => s.write(ok('k', 'Keep-Alive: timeout=1\r\n')));
    await send(client, { url: server.url });
    await send(client, { url: server.url });
    expect(server.connections).to.equal(2);
  });

  it('a response paused by a slow client longer than the idle timeout is not timed out', async () => {
    server = await scripted((_req, s) => s.write(ok('y'.repeat(4 * 1024 * 1024))));
    let received = 0;
    const error = await new Promise<UpstreamError | undefined>((resolve) => {
      let paused = false;
      const ex = client.request(
        { url: server!.url, method: 'GET', headers: {} },
        {
          onHead: () => {},
          onData: (c) => {
            received += c.length;
            if (!paused) {
              paused = true;
              ex.pause();
              setTimeout(() => ex.resume(), 1600); // idleTimeoutMs is 1000
            }
          },
          onEnd: () => resolve(undefined),
          onError: resolve,
        },
      );
    });
    expect(error).to.equal(undefined);
    expect(received).to.equal(4 * 1024 * 1024);
  });

  it('pause() stops the response and resume() lets it finish', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024);
    server = await scripted((_req, s) => s.write(ok(big)));
    let received = 0;
    let atPause = 0;
    const done = new Promise<void>((resolve, reject) => {
      const ex = client.request(
        { url: server!.url, method: 'GET', headers: {} },
        {
          onHead: () => {},
          onData: (c) => {
            received += c.length;
            if (atPause === 0) {
              atPause = received;
              ex.pause();
              setTimeout(() => {
                // Paused: at most the rest of the read in progress arrived meanwhile.
                expect(received - atPause).to.be.lessThan(1024 * 1024);
                ex.resume();
              }, 200);
            }
          },
          onEnd: () => resolve(),
          onError: reject,
        },
      );
    });
    await done;
    expect(received).to.equal(big.length);
  });

  it('a connection whose response ended while its reader had paused it serves the next request at once', async () => {
    // A slow client pauses the last chunk of a body and is never resumed (its 'drain' comes after the end, or
    // never): the kept connection must not stay paused, or the next request on it waits for its head timeout.
    server = await scripted((_req, s) => s.write(ok('z'.repeat(64 * 1024))));
    await new Promise<void>((resolve, reject) => {
      const ex = client.request(
        { url: server!.url, method: 'GET', headers: {} },
        { onHead: () => {}, onData: (_c, last) => last && ex.pause(), onEnd: resolve, onError: reject },
      );
    });
    await sleep(10); // released to the pool
    const started = Date.now();
    const second = await send(client, { url: server.url });
    expect(second.error?.kind).to.equal(undefined);
    expect(second.body.length).to.equal(64 * 1024);
    expect(server.connections, 'the kept connection was reused').to.equal(1);
    expect(Date.now() - started).to.be.lessThan(500); // headersTimeoutMs is 1000
  });

  it('recycled reads: a chunk keeps its bytes until released, with two large responses read at once', async () => {
    // Each chunk is copied only later (as a socket write completes later) and released after: a buffer used again
    // before its release would show other bytes in the copy.
    const bodies = [randomBytes(3 * 1024 * 1024), randomBytes(3 * 1024 * 1024)];
    server = await scripted((req, s) => {
      const body = bodies[req.includes('/one') ? 0 : 1];
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.write(body);
    });
    const fetchDelayed = (path: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const copies: Promise<Buffer>[] = [];
        let released = 0;
        let pieces = 0;
        client.request(
          { url: new URL(path, server!.url), method: 'GET', headers: {}, recycle: true },
          {
            onHead: () => {},
            onData: (chunk, _last, release) => {
              pieces++;
              copies.push(
                sleep(5).then(() => {
                  const copy = Buffer.from(chunk);
                  if (release) {
                    release();
                    released++;
                  }
                  return copy;
                }),
              );
            },
            onEnd: () =>
              void Promise.all(copies).then((c) => {
                // The first read of a new connection is not a recycled one; the rest are.
                expect(released).to.be.greaterThan(pieces / 2);
                resolve(Buffer.concat(c));
              }, reject),
            onError: reject,
          },
        );
      });
    const [one, two] = await Promise.all([fetchDelayed('/one'), fetchDelayed('/two')]);
    expect(one.equals(bodies[0])).to.equal(true);
    expect(two.equals(bodies[1])).to.equal(true);
  });
});
