// A malformed-response corpus for the proxy's upstream client, played by a scripted TCP upstream against the
// proxy running as its own process (`connectors proxy`): for every case, through the front (reverse mode) and
// through node:http (forward mode), the process keeps running, the client gets a 502, a truncated body or the
// response as it should be, and the upstream connection is closed, never reused, after an ambiguous response.
// Also the two crash reproductions of the hardening issue: a header value with a control byte, and an OCI
// registry redirecting to `http://[::1`.
import { expect } from 'chai';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { cluster, type Cluster, eventually, objects } from '@connectors/test-support';
import { startProxyProcess, type ProxyProcess } from './proxy-process.ts';

interface Script {
  /** The raw response. */
  response: string;
  /** The upstream closes the connection after writing it. */
  close?: boolean;
}

/** The scripted upstream: each request head is answered by the script its path names (`/case/<name>`). */
interface ScriptedUpstream {
  port: number;
  /** Requests seen: which connection, method and path. */
  seen: Array<{ conn: number; method: string; path: string }>;
  /** When each connection closed (ms), by connection number. */
  closed: Map<number, number>;
  stop(): Promise<void>;
}

async function scriptedUpstream(scripts: Map<string, Script>): Promise<ScriptedUpstream> {
  const seen: ScriptedUpstream['seen'] = [];
  const closed = new Map<number, number>();
  const sockets = new Set<Socket>();
  let n = 0;
  const server: Server = createServer((socket) => {
    const conn = n++;
    sockets.add(socket);
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const [method, path] = head.split(' ');
        seen.push({ conn, method, path });
        const name = path.startsWith('/case/') ? path.slice(6) : path.startsWith('/v2/') ? 'oci:' + path : path;
        const script = scripts.get(name) ?? scripts.get(name.replace(/^oci:\/v2\/.+$/, 'oci:other'));
        if (!script) {
          socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        socket.write(script.response, 'latin1');
        if (script.close) socket.end();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed.set(conn, Date.now());
      sockets.delete(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    closed,
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Sends `text` to the proxy on a new connection and returns all it answers until it closes (or 10 s). */
function ask(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(text, 'latin1'));
    let got = '';
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body stopped short of its framing (Content-Length not reached, or no last chunk). */
  truncated: boolean;
}

function answer(raw: string, head: boolean): Answer {
  const end = raw.indexOf('\r\n\r\n');
  const lines = (end === -1 ? raw : raw.slice(0, end)).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  let body = end === -1 ? '' : raw.slice(end + 4);
  let truncated = end === -1;
  if (!head && end !== -1 && status !== 204 && status !== 304) {
    if (headers['content-length'] !== undefined) truncated = body.length < Number(headers['content-length']);
    else if (headers['transfer-encoding'] === 'chunked') {
      truncated = !body.endsWith('0\r\n\r\n');
      let decoded = '';
      let rest = body;
      for (;;) {
        const nl = rest.indexOf('\r\n');
        if (nl === -1) break;
        const size = parseInt(rest.slice(0, nl), 16);
        if (!(size > 0)) break;
        decoded += rest.slice(nl + 2, nl + 2 + size);
        rest = rest.slice(nl + 4 + size);
      }
      body = decoded;
    }
  }
  return { status, headers, body, truncated };
}

type Want =
  /** A whole response with this status (and body, header). */
  | { status: number; body?: string; header?: [string, string] }
  /** The response was cut: no complete framing reached the client. */
  | { truncated: true };

// [case, the upstream's response, what the client gets, the upstream connection must be closed afterwards, HEAD]
const CORPUS: Array<[string, Script, Want, boolean, boolean?]> = [
  [
    'a control byte in a value',
    { response: 'HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'DEL in a value',
    { response: 'HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'NUL in a value',
    { response: 'HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'an escape sequence in a Set-Cookie',
    { response: 'HTTP/1.1 200 OK\r\nSet-Cookie: a=\x1b[2J\r\nContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'a control byte in a name',
    { response: 'HTTP/1.1 200 OK\r\nX\x01Bad: a\r\nContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'a bare LF in the head',
    { response: 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'a bare CR in the head',
    { response: 'HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 2\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  ['a space before the colon', { response: 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok' }, { status: 502 }, true],
  [
    'an unparsable Location (passed on as it is)',
    { response: 'HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n' },
    { status: 302, header: ['location', 'http://[::1'] },
    false,
  ],
  [
    'a Location with a control byte',
    { response: 'HTTP/1.1 302 Found\r\nLocation: /a\x0bb\r\nContent-Length: 0\r\n\r\n' },
    { status: 502 },
    true,
  ],
  [
    'Content-Length and Transfer-Encoding (read chunked, not reused)',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n' },
    { status: 200, body: 'ab' },
    true,
  ],
  [
    'Transfer-Encoding in an HTTP/1.0 response',
    { response: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n' },
    { status: 200, body: 'ab' },
    true,
  ],
  [
    'two different Content-Lengths',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk' },
    { status: 502 },
    true,
  ],
  [
    'a Content-Length list that disagrees',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nokk' },
    { status: 502 },
    true,
  ],
  ['a signed Content-Length', { response: 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok' }, { status: 502 }, true],
  ['a negative Content-Length', { response: 'HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok' }, { status: 502 }, true],
  [
    'a 20-digit Content-Length',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nok' },
    { status: 502 },
    true,
  ],
  [
    'a final Transfer-Encoding that is not chunked (read to the close)',
    { response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nuntil close', close: true },
    { status: 200, body: 'until close' },
    true,
  ],
  [
    '100 Continue before the response',
    { response: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
    { status: 200, body: 'ok' },
    false,
  ],
  [
    'several 1xx before the response',
    {
      response:
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    },
    { status: 200, body: 'ok' },
    false,
  ],
  [
    '101 Switching Protocols (never asked for)',
    { response: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n\x00\x00\x12' },
    { status: 502 },
    true,
  ],
  [
    'a body after a HEAD response',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' },
    { status: 200, body: '' },
    true,
    true,
  ],
  ['a body after 204', { response: 'HTTP/1.1 204 No Content\r\n\r\nsmuggled' }, { status: 204, body: '' }, true],
  [
    'a body after 304',
    { response: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello' },
    { status: 304, body: '' },
    true,
  ],
  [
    'bytes after the response',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforge' },
    { status: 200, body: 'ok' },
    true,
  ],
  ['a head cut short', { response: 'HTTP/1.1 200 OK\r\nContent-Le', close: true }, { status: 502 }, true],
  ['no response at all', { response: '', close: true }, { status: 502 }, true],
  [
    'a Content-Length body cut short',
    { response: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this', close: true },
    { truncated: true },
    true,
  ],
  [
    'a chunked body cut short',
    { response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', close: true },
    { truncated: true },
    true,
  ],
  [
    'an invalid chunk size',
    { response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n' },
    { truncated: true },
    true,
  ],
  [
    'a chunk size that overflows',
    { response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx' },
    { truncated: true },
    true,
  ],
  [
    'chunk data longer than its size',
    { response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokk\r\n0\r\n\r\n' },
    { truncated: true },
    true,
  ],
  [
    'a status code of four digits',
    { response: 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n' },
    { status: 502 },
    true,
  ],
  ['an HTTP/2 status line', { response: 'HTTP/2 200\r\ncontent-length: 0\r\n\r\n' }, { status: 502 }, true],
  ['not HTTP', { response: 'SSH-2.0-OpenSSH_9.6\r\n\r\n' }, { status: 502 }, true],
  [
    'LF-only line ends (never a complete head)',
    { response: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok', close: true },
    { status: 502 },
    true,
  ],
  [
    'a head over 64 KiB',
    { response: 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(70 * 1024) + '\r\nContent-Length: 0\r\n\r\n' },
    { status: 502 },
    true,
  ],
  [
    'obs-fold (joined with a space)',
    { response: 'HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\nContent-Length: 2\r\n\r\nok' },
    { status: 200, body: 'ok', header: ['x-long', 'one two'] },
    false,
  ],
  [
    'a close-delimited body',
    { response: 'HTTP/1.1 200 OK\r\n\r\nto the end', close: true },
    { status: 200, body: 'to the end' },
    true,
  ],
];

describe('proxy: hostile upstream responses (the proxy as its own process)', function () {
  this.timeout(300_000);
  let c: Cluster;
  let ns: string;
  let sys: string;
  let up: ScriptedUpstream;
  let proxy: ProxyProcess;
  let token: string;
  const scripts = new Map<string, Script>([
    ['ok', { response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }],
    // The OCI registry of the second crash: its API base needs no auth, a manifest redirects to `http://[::1`.
    ['oci:/v2/', { response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}' }],
    ['oci:other', { response: 'HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n' }],
  ]);
  for (const [name, script] of CORPUS) scripts.set(slug(name), script);

  const reverse = (name: string, method = 'GET') =>
    `${method} /namespaces/${ns}/connectors/hostile/case/${name} HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`;
  const forward = (name: string, method = 'GET') =>
    `${method} http://127.0.0.1:${up.port}/case/${name} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nProxy-Authorization: Basic ${Buffer.from(`${ns}/hostile:${token}`).toString('base64')}\r\nConnection: close\r\n\r\n`;

  /** The process is up and answers a normal request through the same Connector. */
  async function stillServes(): Promise<void> {
    expect(proxy.alive(), `the proxy process ended: ${proxy.stderr()}`).to.equal(true);
    const a = answer(await ask(proxy.port, reverse('ok')), false);
    expect(a.status, proxy.stderr()).to.equal(200);
    expect(a.body).to.equal('ok');
  }

  before(async () => {
    c = await cluster();
    ns = await c.createNamespace('proxy-hostile');
    sys = await c.createNamespace('proxy-hostile-sys');
    up = await scriptedUpstream(scripts);
    await c.createServiceAccount(ns, 'client');
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.basicAuthSecret('creds', 'u', 'p'),
        objects.connector('hostile', {
          className: 'git',
          address: `http://127.0.0.1:${up.port}`,
          auth: { name: 'basicAuth', secret: 'creds' },
        }),
        objects.connector('reg', { className: 'oci', address: `http://127.0.0.1:${up.port}` }),
        objects.connectorReader({ name: 'client', serviceAccount: 'client', saNamespace: ns }),
      ),
    });
    token = await c.createToken(ns, 'client', { audience: 'connectors-proxy' });
    proxy = await startProxyProcess({ kubeconfigPath: c.kubeconfigPath, systemNamespace: sys });
    await eventually(
      'the proxy to serve the connector',
      async () => answer(await ask(proxy.port, reverse('ok')), false).status === 200,
      30_000,
      100,
    );
  });
  after(async () => {
    await proxy?.stop();
    await up?.stop();
    if (ns) await c.deleteNamespace(ns);
    if (sys) await c.deleteNamespace(sys);
  });

  it('crash reproduction: a header value with a control byte, in forward mode, is a 502 and the process runs on', async () => {
    const a = answer(await ask(proxy.port, forward(slug('a control byte in a value'))), false);
    expect(a.status).to.equal(502);
    expect(a.body).to.match(/invalid response/);
    await stillServes();
  });

  it('crash reproduction: an OCI registry redirecting to `http://[::1` is a 502 and the process runs on', async () => {
    const basic = Buffer.from(`u:${token}`).toString('base64');
    const raw = await ask(
      proxy.port,
      `GET /v2/namespaces/${ns}/connectors/reg/library/app/manifests/v1 HTTP/1.1\r\nHost: proxy\r\nAuthorization: Basic ${basic}\r\nConnection: close\r\n\r\n`,
    );
    const a = answer(raw, false);
    expect(a.status, raw).to.equal(502);
    expect(a.body).to.match(/invalid Location/);
    await stillServes();
  });

  for (const [mode, request] of [
    ['through the front (reverse mode)', reverse],
    ['through node:http (forward mode)', forward],
  ] as const)
    describe(mode, () => {
      for (const [name, , want, closes, head] of CORPUS)
        it(`${name}: ${'truncated' in want ? 'a cut response' : want.status}${closes ? ', connection not reused' : ''}`, async () => {
          const before = up.seen.length;
          const raw = await ask(proxy.port, request(slug(name), head ? 'HEAD' : 'GET'));
          const a = answer(raw, Boolean(head));
          if ('truncated' in want) {
            // Cut: the head and part of the body, or nothing if the cut came before the first write left.
            expect(a.status === 0 || (a.status === 200 && a.truncated), raw).to.equal(true);
          } else {
            expect(a.status, raw).to.equal(want.status);
            expect(a.truncated, raw).to.equal(false);
            if (want.body !== undefined) expect(a.body).to.equal(want.body);
            if (want.header) expect(a.headers[want.header[0]]).to.equal(want.header[1]);
          }
          const mine = up.seen.slice(before).find((s) => s.path === `/case/${slug(name)}`);
          expect(mine, 'the upstream saw the request').to.not.equal(undefined);
          if (closes) {
            for (let i = 0; i < 100 && !up.closed.has(mine!.conn); i++) await sleep(20);
            expect(up.closed.has(mine!.conn), 'the proxy closed the upstream connection').to.equal(true);
          }
          await stillServes();
        });
    });
});

function slug(name: string): string {
  return name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
}
