// The upstream response parser, table-driven: every response is also fed split at every byte boundary, so a
// result never depends on how the bytes arrived.
import { expect } from 'chai';
import { ResponseParser, type ResponseHead } from '../../core/http1/response-parser.ts';
import { lowerName } from '../../core/http1/fields.ts';

interface Parsed {
  heads: ResponseHead[];
  body: string;
  ended: boolean;
  error?: string;
  extraneous: boolean;
}

function parse(method: string, pieces: Buffer[], eof = false, p = new ResponseParser()): Parsed {
  const out: Parsed = { heads: [], body: '', ended: false, extraneous: false };
  p.start(method, {
    onHead: (h) => out.heads.push(h),
    onData: (c) => (out.body += c.toString('latin1')),
    onEnd: () => (out.ended = true),
  });
  try {
    for (const piece of pieces) p.execute(piece);
    if (eof) p.finish();
  } catch (err) {
    out.error = (err as Error).message;
  }
  out.extraneous = p.extraneous;
  return out;
}

/** The response whole, in two pieces at every split point, and byte by byte: all must agree. */
function parseEveryWay(method: string, text: string, eof = false): Parsed {
  const whole = Buffer.from(text, 'latin1');
  const ref = parse(method, [whole], eof);
  const ways: Buffer[][] = [[...whole].map((b) => Buffer.from([b]))];
  for (let i = 1; i < whole.length; i++) ways.push([whole.subarray(0, i), whole.subarray(i)]);
  for (const pieces of ways) {
    const got = parse(method, pieces, eof);
    expect(
      { ...got, heads: got.heads.map((h) => h.status) },
      `split ${pieces.map((p) => p.length).join('+')}`,
    ).to.deep.equal({ ...ref, heads: ref.heads.map((h) => h.status) });
  }
  return ref;
}

describe('core/http1 response parser', () => {
  const ok: [
    string,
    string,
    string,
    { body: string; keepAlive?: boolean; headers?: Record<string, unknown>; eof?: boolean },
  ][] = [
    [
      'Content-Length body',
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello',
      { body: 'hello', keepAlive: true, headers: { 'content-length': '5', 'x-a': '1' } },
    ],
    [
      'chunked body with extensions and trailers',
      'GET',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n',
      { body: 'hello, world', keepAlive: true },
    ],
    [
      'Transfer-Encoding wins over Content-Length, which is removed, and the connection is not reused',
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n',
      { body: 'ab', keepAlive: false, headers: { 'transfer-encoding': 'chunked' } },
    ],
    [
      'Transfer-Encoding in an HTTP/1.0 response: read, and the connection is not reused',
      'GET',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n',
      { body: 'ab', keepAlive: false },
    ],
    [
      'a HEAD response has no body whatever its Content-Length',
      'HEAD',
      'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n',
      { body: '', keepAlive: true },
    ],
    ['204 has no body', 'GET', 'HTTP/1.1 204 No Content\r\n\r\n', { body: '', keepAlive: true }],
    ['304 has no body', 'GET', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', { body: '' }],
    [
      'interim 100 and 103 responses are skipped',
      'GET',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      { body: 'ok' },
    ],
    [
      'a body without length ends with the connection, which is not reused',
      'GET',
      'HTTP/1.1 200 OK\r\n\r\nuntil close',
      { body: 'until close', keepAlive: false, eof: true },
    ],
    [
      'Connection: close',
      'GET',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx',
      { body: 'x', keepAlive: false },
    ],
    [
      'HTTP/1.0 without keep-alive is not reused',
      'GET',
      'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx',
      { body: 'x', keepAlive: false },
    ],
    [
      'HTTP/1.0 with keep-alive is reused',
      'GET',
      'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx',
      { body: 'x', keepAlive: true },
    ],
    ['a status line without reason phrase', 'GET', 'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n', { body: '' }],
    [
      'repeated fields are joined, Set-Cookie kept as a list, obs-fold replaced by a space',
      'GET',
      'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nVary: A\r\nVary: B\r\nX-Long: one\r\n two\r\nContent-Length: 0\r\n\r\n',
      { body: '', headers: { 'set-cookie': ['a=1', 'b=2'], vary: 'A, B', 'x-long': 'one two', 'content-length': '0' } },
    ],
    [
      'only spaces and tabs around a value are taken off (0xA0 is obs-text, kept)',
      'GET',
      'HTTP/1.1 200 OK\r\nX-A: \t v\xa0\t\r\nContent-Length: 0\r\n\r\n',
      { body: '', headers: { 'x-a': 'v\xa0', 'content-length': '0' } },
    ],
    [
      'equal repeated Content-Length values are one length',
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc',
      { body: 'abc', headers: { 'content-length': '3' } },
    ],
  ];
  for (const [name, method, text, want] of ok) {
    it(name, () => {
      const got = parseEveryWay(method, text, want.eof);
      expect(got.error).to.equal(undefined);
      expect(got.ended).to.equal(true);
      expect(got.body).to.equal(want.body);
      expect(got.heads).to.have.length(1);
      if (want.keepAlive !== undefined) expect(got.heads[0].keepAlive).to.equal(want.keepAlive);
      if (want.headers) expect(got.heads[0].headers).to.deep.equal(want.headers);
    });
    if (want.eof) continue;
    it(`${name}: the same response again on the connection (its head remembered) reads the same, into a head of its own`, () => {
      const p = new ResponseParser();
      const first = parse(method, [Buffer.from(text, 'latin1')], false, p);
      const expected = structuredClone(first);
      // What a consumer may do to the head it was given must not reach the next one.
      const h = first.heads[0].headers;
      for (const k of Object.keys(h)) delete h[k];
      first.heads[0].keepAlive = !first.heads[0].keepAlive;
      const again = parse(method, [Buffer.from(text, 'latin1')], false, p);
      expect(again).to.deep.equal(expected);
    });
  }

  const lastFlags: Array<[string, string[], boolean[]]> = [
    [
      'a Content-Length body in pieces: only the piece that completes it',
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe', 'l', 'lo'],
      [false, false, true],
    ],
    ['a Content-Length body with its head', ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'], [true]],
    [
      'a chunked body: never (its end is known only at the last chunk)',
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
      [false],
    ],
  ];
  for (const [what, pieces, want] of lastFlags) {
    it(`onData's last flag: ${what}`, () => {
      const p = new ResponseParser();
      const flags: boolean[] = [];
      p.start('GET', { onHead: () => {}, onData: (_c, last) => flags.push(last), onEnd: () => {} });
      for (const piece of pieces) p.execute(Buffer.from(piece));
      expect(flags).to.deep.equal(want);
    });
  }

  it('a remembered head gives a Set-Cookie list of its own', () => {
    const p = new ResponseParser();
    const text = 'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: 0\r\n\r\n';
    const first = parse('GET', [Buffer.from(text)], false, p).heads[0];
    (first.headers['set-cookie'] as string[]).push('b=2');
    expect(parse('GET', [Buffer.from(text)], false, p).heads[0].headers['set-cookie']).to.deep.equal(['a=1']);
  });

  const bad: [string, string, RegExp, boolean?][] = [
    [
      'conflicting Content-Length values',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc',
      /conflicting Content-Length/,
    ],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc', /Content-Length/],
    ['a bare LF inside a header line', 'HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\r\n', /control character/],
    ['a bare CR inside a header line', 'HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\n\r\n', /control character/],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n', /control character/],
    ['a control byte in a value', 'HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n', /control character/],
    ['DEL in a value', 'HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 0\r\n\r\n', /control character/],
    ['ESC in a folded line', 'HTTP/1.1 200 OK\r\nX-A: a\r\n \x1b[2J\r\n\r\n', /control character/],
    ['a control byte in a name', 'HTTP/1.1 200 OK\r\nX\x01A: a\r\n\r\n', /control character/],
    ['a control byte in the reason phrase', 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n', /status line/],
    ['a header name with a space', 'HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n', /header name/],
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', /status line/],
    ['HTTP/2 status line', 'HTTP/2 200\r\n\r\n', /status line/],
    ['an invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size/],
    [
      'chunk data longer than its size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n',
      /longer than its size/,
    ],
    [
      'a chunk size of more than 13 hex digits',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n',
      /chunk size/,
    ],
    ['101 Switching Protocols (the proxy never asks for it)', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', /101/],
    ['a body cut short by the upstream', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', /cut short/, true],
    ['no response at all', '', /without a response/, true],
  ];
  for (const [name, text, error, eof] of bad) {
    it(`rejects ${name}`, () => {
      const got = parse('GET', [Buffer.from(text, 'latin1')], eof);
      expect(got.error).to.match(error);
      expect(got.ended).to.equal(false);
    });
  }

  it('rejects a head larger than 64 KiB without waiting for its end', () => {
    const got = parse('GET', [Buffer.from('HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(70 * 1024))]);
    expect(got.error).to.match(/larger than 65536/);
  });

  it('flags bytes after the end of the response (the connection is then not reused)', () => {
    const got = parse('GET', [Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n')]);
    expect(got.body).to.equal('x');
    expect(got.extraneous).to.equal(true);
  });

  it('reads the Keep-Alive timeout hint', () => {
    const got = parse('GET', [
      Buffer.from('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n'),
    ]);
    expect(got.heads[0].keepAliveTimeoutS).to.equal(5);
  });

  it('passes a large Content-Length body through in the pieces it arrived in, without copying it whole', () => {
    const body = Buffer.alloc(1024 * 1024, 7);
    const pieces: Buffer[] = [Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)];
    for (let i = 0; i < body.length; i += 65536) pieces.push(body.subarray(i, i + 65536));
    const p = new ResponseParser();
    const seen: number[] = [];
    let ended = false;
    p.start('GET', { onHead: () => {}, onData: (c) => seen.push(c.length), onEnd: () => (ended = true) });
    for (const piece of pieces) p.execute(piece);
    expect(ended).to.equal(true);
    expect(seen).to.have.length(16);
    expect(seen.every((n) => n === 65536)).to.equal(true);
  });
});

describe('core/http1 field names', () => {
  const cases: Array<[string, string]> = [
    ['host', 'host'],
    ['Host', 'host'],
    ['HOST', 'host'],
    ['User-Agent', 'user-agent'],
    ['user-agent', 'user-agent'],
    ['USER-AGENT', 'user-agent'],
    ['Content-Length', 'content-length'],
    ['WWW-Authenticate', 'www-authenticate'],
    ['Www-Authenticate', 'www-authenticate'],
    ['X-Custom-Thing', 'x-custom-thing'],
    ['x-custom-thing', 'x-custom-thing'],
    ['Docker-Content-Digest', 'docker-content-digest'],
  ];
  for (const [name, want] of cases) it(`lowerName(${name}) is ${want}`, () => expect(lowerName(name)).to.equal(want));
});
