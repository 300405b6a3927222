// The listener's front (core/http1/front.ts): which requests it answers itself, and that every other request,
// also later on the same connection or pipelined behind one of its own, reaches node:http byte for byte.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxyRequest, ProxyResponse } from '../../core/http1/exchange.ts';
import { installFront, mayStartRequest, parseFields, parseRequestHead } from '../../core/http1/front.ts';
import { rememberLast } from '../../core/util/remember-last.ts';

describe('core/http1 front', () => {
  describe('parseRequestHead', () => {
    const token = 'eyJ' + 'a'.repeat(900);
    const taken: [string, string, { keepAlive: boolean; url?: string }][] = [
      [
        'GET with Host',
        'GET /a?b=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ' + token,
        { keepAlive: true, url: '/a?b=1' },
      ],
      ['HEAD', 'HEAD / HTTP/1.1\r\nHost: h', { keepAlive: true }],
      ['Connection: close', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close', { keepAlive: false }],
      ['HTTP/1.0 without keep-alive', 'GET / HTTP/1.0', { keepAlive: false }],
      ['HTTP/1.0 with keep-alive (ab -k)', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h', { keepAlive: true }],
      ['Connection: CLOSE', 'GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE', { keepAlive: false }],
      [
        'Connection listing close among others',
        'GET / HTTP/1.1\r\nHost: h\r\nConnection: TE,\tclose',
        { keepAlive: false },
      ],
      [
        'Connection listing another token (HTTP/1.1)',
        'GET / HTTP/1.1\r\nHost: h\r\nConnection: TE',
        { keepAlive: true },
      ],
      ['HTTP/1.0, Connection listing another token', 'GET / HTTP/1.0\r\nConnection: TE', { keepAlive: false }],
      [
        'HTTP/1.0, Connection listing keep-alive among others',
        'GET / HTTP/1.0\r\nConnection: TE , Keep-Alive',
        { keepAlive: true },
      ],
      ['tabs and obs-text in a value', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\tb \xe9', { keepAlive: true }],
    ];
    for (const [name, head, want] of taken) {
      it(`takes ${name}`, () => {
        const p = parseRequestHead(head);
        expect(p, name).to.not.equal(undefined);
        expect(p!.keepAlive).to.equal(want.keepAlive);
        if (want.url) expect(p!.url).to.equal(want.url);
      });
    }
    it('lower-cases names and trims values (spaces and tabs only) as node:http does', () => {
      expect(parseRequestHead('GET / HTTP/1.1\r\nHost:  h \r\nX-Y:z\r\nX-Z:\t\xa0z\xa0 ')!.headers).to.deep.equal({
        host: 'h',
        'x-y': 'z',
        'x-z': '\xa0z\xa0',
      });
    });

    const handedOver: [string, string][] = [
      ['a POST', 'POST / HTTP/1.1\r\nHost: h'],
      ['a body by Content-Length, even 0', 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0'],
      ['a body by Transfer-Encoding', 'GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked'],
      ['Upgrade', 'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade'],
      ['Expect', 'GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue'],
      ['an absolute-form target (forward mode)', 'GET http://x/ HTTP/1.1\r\nHost: x'],
      ['CONNECT', 'CONNECT x:443 HTTP/1.1\r\nHost: x:443'],
      ['HTTP/1.1 without Host', 'GET / HTTP/1.1'],
      ['a repeated field', 'GET / HTTP/1.1\r\nHost: h\r\nHost: i'],
      ['obs-fold', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b'],
      ['a bare LF in a line', 'GET / HTTP/1.1\r\nHost: h\nX-Smuggle: 1'],
      ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b'],
      ['a space before the colon', 'GET / HTTP/1.1\r\nHost : h'],
      ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: h'],
      ['HTTP/2', 'GET / HTTP/2.0\r\nHost: h'],
      ['a lower-case method', 'get / HTTP/1.1\r\nHost: h'],
    ];
    for (const [name, head] of handedOver) {
      it(`hands over ${name}, also after a request the front took on the same connection`, () => {
        expect(parseRequestHead(head)).to.equal(undefined);
        const fields = rememberLast(parseFields);
        expect(parseRequestHead('GET / HTTP/1.1\r\nHost: h\r\nX-A: a', fields)).to.not.equal(undefined);
        expect(parseRequestHead(head, fields)).to.equal(undefined);
      });
    }

    it('parses fields equal to the last ones on the connection once, into an equal, separate object each time', () => {
      let parses = 0;
      const fields = rememberLast((text: string) => (parses++, parseFields(text)));
      const same = '\r\nHost: h\r\nAuthorization: Bearer ' + token + '\r\nConnection: close';
      const first = parseRequestHead('GET /a HTTP/1.1' + same, fields)!;
      first.headers['x-added-by-handler'] = '1';
      delete first.headers.host;
      const second = parseRequestHead('HEAD /b?c HTTP/1.1' + same, fields)!;
      expect(second).to.deep.equal({
        method: 'HEAD',
        url: '/b?c',
        http10: false,
        keepAlive: false,
        headers: { host: 'h', authorization: 'Bearer ' + token, connection: 'close' },
      });
      second.headers.host = 'changed';
      expect(parseRequestHead('GET / HTTP/1.1' + same, fields)!.headers.host).to.equal('h');
      expect(parses).to.equal(1);
      // Other fields are parsed afresh, and become the ones remembered.
      expect(parseRequestHead('GET / HTTP/1.1\r\nHost: i', fields)!.headers).to.deep.equal({ host: 'i' });
      expect(parses).to.equal(2);
      // The request line is read each time: HTTP/1.0 and no Connection field → not kept alive.
      expect(parseRequestHead('GET / HTTP/1.0\r\nHost: i', fields)!.keepAlive).to.equal(false);
      expect(parses).to.equal(2);
    });

    const starts: [string, boolean][] = [
      ['G', true],
      ['GET', true],
      ['GET /', true],
      ['GET /x HTT', true],
      ['HEAD', true],
      ['HEAD /', true],
      ['GET /x HTTP/1.1\r\nHo', true],
      ['P', false],
      ['POST /', false],
      ['GET http://x/', false],
      ['GETX', false],
      ['\x16\x03\x01\x02\x00', false],
      ['GET /x HTTP/2.0\r\n', false],
      ['GET /x HTTP/1.1\n', false],
    ];
    for (const [start, want] of starts)
      it(`mayStartRequest(${JSON.stringify(start)}) is ${want}`, () =>
        expect(mayStartRequest(Buffer.from(start, 'latin1'))).to.equal(want));
  });

  describe('on a listener', function () {
    this.timeout(20_000);
    let server: Server;
    let port: number;
    let closeFront: () => void;
    const seen: string[] = [];
    let frontHandler: (req: ProxyRequest, res: ProxyResponse) => void;

    before(async () => {
      server = createServer({ maxHeaderSize: 2048 }, (req, res) => {
        // node:http's requests: echo method, path and body.
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          seen.push(`node ${req.method} ${req.url}`);
          const body = `node saw ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`;
          res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
        });
      });
      const front = installFront({
        server,
        maxHeaderSize: 2048,
        headersTimeoutMs: 400,
        keepAliveTimeoutMs: 60_000,
        sendTimeoutMs: 1000,
        accepts: (r) => !r.url.startsWith('/node'),
        handle: (req, res) => {
          seen.push(`front ${req.method} ${req.url}`);
          frontHandler(req, res);
        },
      });
      closeFront = () => front.close();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    after(() => {
      closeFront();
      server.close();
    });
    beforeEach(() => {
      seen.length = 0;
      frontHandler = (req, res) => {
        const body = `front saw ${req.method} ${req.url}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
        res.end(body);
      };
    });

    /** Sends `text` on one connection (pieces sent `gapMs` apart) and returns all it receives until `done` says so or the connection closes. */
    async function talk(
      pieces: string[],
      done: (got: string) => boolean,
      gapMs = 30,
    ): Promise<{ got: string; closed: boolean; closedAt: number }> {
      const s = connect(port, '127.0.0.1');
      let got = '';
      let closed = false;
      let closedAt = 0;
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => {
        closed = true;
        closedAt = Date.now();
      });
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      for (const p of pieces) {
        s.write(p, 'latin1');
        await sleep(gapMs);
      }
      const deadline = Date.now() + 5000;
      while (!closed && !done(got) && Date.now() < deadline) await sleep(10);
      s.destroy();
      return { got, closed, closedAt };
    }
    const responses = (got: string) => got.split(/(?=HTTP\/1\.1 )/).filter(Boolean);

    it('answers GET itself and keeps the connection for the next one', async () => {
      const { got, closed } = await talk(
        ['GET /a HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /b HTTP/1.1\r\nHost: h\r\n\r\n'],
        (g) => responses(g).length === 2,
      );
      expect(seen).to.deep.equal(['front GET /a', 'front GET /b']);
      expect(responses(got)).to.have.length(2);
      expect(got)
        .to.match(/^HTTP\/1\.1 200 OK\r\n/)
        .and.include('front saw GET /a')
        .and.include('front saw GET /b')
        .and.match(/\r\ndate: /);
      expect(closed).to.equal(false);
    });

    it('hands a later POST on the same connection to node:http with its body', async () => {
      const { got } = await talk(
        ['GET /a HTTP/1.1\r\nHost: h\r\n\r\n', 'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello'],
        (g) => g.includes('node saw'),
      );
      expect(seen).to.deep.equal(['front GET /a', 'node POST /p']);
      expect(got).to.include('node saw POST /p hello');
    });

    it("keeps the order of pipelined requests, the front's and node's, sent in one write", async () => {
      const { got } = await talk(
        [
          'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok',
        ],
        (g) => g.includes('node saw'),
      );
      expect(seen).to.deep.equal(['front GET /1', 'front GET /2', 'node POST /3']);
      const bodies = responses(got).map((r) => r.split('\r\n\r\n')[1]);
      expect(bodies).to.deep.equal(['front saw GET /1', 'front saw GET /2', 'node saw POST /3 ok']);
    });

    it('hands over a request the handler does not accept, and a head split over several packets', async () => {
      const { got } = await talk(['GET /node', '/x HTTP/1.1\r\nHo', 'st: h\r\n\r\n'], (g) => g.includes('node saw'));
      expect(seen).to.deep.equal(['node GET /node/x']);
      expect(got).to.include('node saw GET /node/x');
    });

    it('hands what cannot become its request to node:http at once (a TLS hello gets 400 without waiting)', async () => {
      const t0 = Date.now();
      const { got } = await talk(['\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03'], (g) => g.length > 0, 0);
      expect(got).to.match(/^HTTP\/1\.1 400 /);
      expect(Date.now() - t0).to.be.lessThan(300); // the head timeout is 400 ms
    });

    it('leaves an oversized head (431) and a malformed one (400) to node:http', async () => {
      const big = await talk(['GET / HTTP/1.1\r\nHost: h\r\nX-Big: ' + 'a'.repeat(4000) + '\r\n\r\n'], (g) =>
        g.includes('\r\n\r\n'),
      );
      expect(big.got).to.match(/^HTTP\/1\.1 431 /);
      const bad = await talk(['GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n'], (g) => g.includes('\r\n\r\n'));
      expect(bad.got).to.match(/^HTTP\/1\.1 400 /);
      expect(seen).to.deep.equal([]);
    });

    it('HTTP/1.0 keep-alive: kept with a length, closed after a body without one; HTTP/1.1 gets that body chunked', async () => {
      frontHandler = (req, res) => {
        res.writeHead(200, req.url === '/len' ? { 'content-length': '2' } : {});
        res.write(Buffer.from('ab'));
        res.end();
      };
      const kept = await talk(['GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], (g) => g.endsWith('ab'));
      expect(kept.got)
        .to.include('connection: keep-alive\r\n')
        .and.match(/\r\n\r\nab$/);
      expect(kept.closed).to.equal(false);
      const closed = await talk(['GET /nolen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], () => false);
      expect(closed.got)
        .to.include('connection: close\r\n')
        .and.match(/\r\n\r\nab$/);
      expect(closed.closed).to.equal(true);
      const chunked = await talk(['GET /nolen HTTP/1.1\r\nHost: h\r\n\r\n'], (g) => g.endsWith('0\r\n\r\n'));
      expect(chunked.got)
        .to.include('transfer-encoding: chunked\r\n')
        .and.match(/\r\n\r\n2\r\nab\r\n0\r\n\r\n$/);
    });

    it('sends no body for HEAD and closes on Connection: close', async () => {
      frontHandler = (_req, res) => {
        res.writeHead(200, { 'content-length': '5' });
        res.end(Buffer.from('hello'));
      };
      const { got, closed } = await talk(['HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'], () => false);
      expect(got)
        .to.match(/content-length: 5\r\n/)
        .and.match(/connection: close\r\n\r\n$/);
      expect(closed).to.equal(true);
    });

    it('closes a connection whose head does not arrive in time, also when it drips in', async () => {
      const { closed } = await talk(['GET / HTTP/1.1\r\nHost: h\r\n'], () => false, 10);
      expect(closed).to.equal(true);
      const t0 = Date.now();
      const drip = await talk(
        ['GET / HTTP/1.1\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n', 'X-E: 5\r\n', 'X-F: 6\r\n'],
        () => false,
        150,
      );
      expect(drip.closed).to.equal(true);
      expect(drip.got).to.equal('');
      // Closed by the 400 ms head timeout (+ a 100 ms sweep) while the pieces, 150 ms apart, still came in.
      expect(drip.closedAt - t0).to.be.lessThan(900);
      expect(seen).to.deep.equal([]);
    });

    it('tells the handler when the client goes away before the response ends', async () => {
      let heard = false;
      frontHandler = (_req, res) => {
        res.writeHead(200, {});
        res.write(Buffer.from('partial'));
        res.once('close', () => (heard = true));
      };
      await talk(['GET / HTTP/1.1\r\nHost: h\r\n\r\n'], (g) => g.includes('partial'));
      for (let i = 0; i < 50 && !heard; i++) await sleep(10);
      expect(heard).to.equal(true);
    });

    it('tells a writer that filled the socket when it drains; a close listener taken off is not called', async () => {
      const total = 8 * 1024 * 1024;
      let drains = 0;
      let closeHeard = false;
      frontHandler = (_req, res) => {
        res.writeHead(200, { 'content-length': String(total) });
        const chunk = Buffer.alloc(1024 * 1024, 'd');
        const onClose = () => (closeHeard = true);
        res.once('close', onClose);
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', () => {
                drains++;
                pump();
              });
              return;
            }
          }
          res.off('close', onClose);
          res.end();
        };
        pump();
      };
      const { got } = await talk(
        ['GET / HTTP/1.1\r\nHost: h\r\n\r\n'],
        (g) => g.length - g.indexOf('\r\n\r\n') - 4 >= total,
      );
      expect(got.length - got.indexOf('\r\n\r\n') - 4).to.equal(total);
      expect(drains).to.be.greaterThan(0);
      expect(closeHeard).to.equal(false);
    });

    // node:http's writeHead refuses the same values (ERR_INVALID_CHAR): controls other than tab, and DEL.
    for (const [what, value] of [
      ['a line break', 'a\r\nx-evil: 1'],
      ['a control byte', 'a\x01b'],
      ['DEL', 'a\x7fb'],
      ['NUL', 'a\x00b'],
      ['an escape sequence', '\x1b[2J'],
    ])
      it(`refuses a response header value with ${what}`, async () => {
        let error = '';
        frontHandler = (_req, res) => {
          try {
            res.writeHead(200, { 'x-a': value });
          } catch (err) {
            error = (err as Error).message;
          }
          res.destroy();
        };
        const { got } = await talk(['GET / HTTP/1.1\r\nHost: h\r\n\r\n'], () => false);
        expect(error).to.match(/invalid response header x-a/);
        expect(got).to.equal('');
      });

    it('takes tabs and obs-text in a response header value, as node:http does', async () => {
      frontHandler = (_req, res) => {
        res.writeHead(200, { 'x-a': 'a\tb \xe9', 'content-length': '0' });
        res.end();
      };
      const { got } = await talk(['GET / HTTP/1.1\r\nHost: h\r\n\r\n'], (g) => g.includes('\r\n\r\n'));
      expect(got).to.include('x-a: a\tb \xe9\r\n');
    });

    it('takes no further pipelined request while the client does not read, and closes it after the send timeout', async () => {
      let serverSide: Socket | undefined;
      let closedAt = 0;
      frontHandler = (_req, res) => {
        if (!serverSide) {
          serverSide = (res as unknown as { socket: Socket }).socket;
          serverSide.once('close', () => (closedAt = Date.now()));
        }
        const body = Buffer.alloc(1024 * 1024, 'x');
        res.writeHead(200, { 'content-length': String(body.length) });
        res.end(body);
      };
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.pause(); // never reads
      await new Promise((r) => s.once('connect', r));
      s.write('GET /p HTTP/1.1\r\nHost: h\r\n\r\n'.repeat(100));
      // Each response waits until the last one has left: a few fill the kernel's socket buffers, then the
      // client, which reads nothing, is closed 1 s (the send timeout) after the last one that left.
      for (let i = 0; i < 200 && !closedAt; i++) await sleep(50);
      s.destroy();
      expect(closedAt, 'closed after the send timeout').to.be.greaterThan(0);
      expect(seen.length).to.be.greaterThan(0).and.lessThan(20);
    });

    it('holds a small body for the end of the turn, but not a body past its first 64 KiB', async () => {
      const corked: number[] = [];
      frontHandler = (_req, res) => {
        const socket = (res as unknown as { socket: Socket }).socket;
        res.writeHead(200, { 'content-length': String(1024 + 128 * 1024) });
        res.write(Buffer.alloc(1024, 'a'));
        corked.push(socket.writableCorked);
        setImmediate(() => {
          // A later turn, as the next read of an upstream body would be.
          res.write(Buffer.alloc(128 * 1024, 'b'));
          corked.push(socket.writableCorked);
          res.end();
        });
      };
      const { got } = await talk(['GET / HTTP/1.1\r\nHost: h\r\n\r\n'], (g) => g.endsWith('b'.repeat(100)));
      expect(corked).to.deep.equal([1, 0]);
      expect(got.length - got.indexOf('\r\n\r\n') - 4).to.equal(1024 + 128 * 1024);
    });
  });
});
