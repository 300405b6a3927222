// Request smuggling, as a table of the published variants, through the real proxy to a recording upstream. The
// variants are those of PortSwigger's HTTP Request Smuggler (its desync techniques: header name and value
// permutations, dual and obfuscated Transfer-Encoding, Content-Length forms), of defparam/smuggler (its
// mutations, including every control and high byte before, inside and after `Transfer-Encoding`) and of the
// HTTP Garden's findings (chunk-size and Content-Length parsing, line endings, empty names, pipelining), written
// here for this proxy. Each sends an ambiguous request whose body, read one of the ways, is a second request,
// then a plain request on the same connection. Whatever the proxy answers, it and the upstream must agree on
// the request boundaries: every request the upstream receives is one the proxy audited as forwarded (same
// method, path and body length), and no other.
import { expect } from 'chai';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, objects, startRecordingUpstream, type RecordingUpstream } from '@connectors/test-support';
import { auditLines, setup, type Env } from './fixture.ts';

/** Where a variant sends its requests: `prefix` is the proxy path of its own folder on the Connector. */
interface Slot {
  /** `/namespaces/<ns>/connectors/rec/v<i>` */
  prefix: string;
  /** The Host and Authorization lines every request carries. */
  h: string;
  /** A complete request smuggled inside a body (what the upstream must never see as a request of its own). */
  s: string;
}

type Variant = [name: string, source: string, build: (x: Slot) => string];

const hex = (n: number) => n.toString(16);

/** CL.TE shape: honoured, `te` ends the body at the empty chunk and the smuggled request follows; by CL it is body. */
const clte =
  (te: string, method = 'POST') =>
  (x: Slot) => {
    const body = `0\r\n\r\n${x.s}`;
    return `${method} ${x.prefix}/a HTTP/1.1\r\n${x.h}${te}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  };

/** TE.CL shape: by `te` the smuggled request is chunk data; by a short CL it follows the request. */
const tecl =
  (te: string, method = 'POST') =>
  (x: Slot) => {
    const size = hex(x.s.length);
    return `${method} ${x.prefix}/a HTTP/1.1\r\n${x.h}${te}\r\nContent-Length: ${size.length + 2}\r\n\r\n${size}\r\n${x.s}\r\n0\r\n\r\n`;
  };

/** Content-Length forms: the body is the smuggled request, announced by `cl` (one or more field lines). */
const clBody =
  (cl: (n: number) => string, method = 'POST') =>
  (x: Slot) =>
    `${method} ${x.prefix}/a HTTP/1.1\r\n${x.h}${cl(x.s.length)}\r\n\r\n${x.s}`;

/** A chunked body with a framing oddity: `chunks` is the body after the head. */
const chunked = (chunks: (x: Slot) => string) => (x: Slot) =>
  `POST ${x.prefix}/a HTTP/1.1\r\n${x.h}Transfer-Encoding: chunked\r\n\r\n${chunks(x)}`;

/** A head with `line` among its fields, then the smuggled request (as a pipelined one). */
const withField =
  (line: string, method = 'GET') =>
  (x: Slot) =>
    `${method} ${x.prefix}/a HTTP/1.1\r\n${x.h}${line}\r\n\r\n${x.s}`;

const TE_OBFUSCATIONS: Array<[string, string, string]> = [
  ['vanilla', 'PortSwigger vanilla', 'Transfer-Encoding: chunked'],
  ['xchunked', 'PortSwigger', 'Transfer-Encoding: xchunked'],
  ['nameprefix1', 'PortSwigger, smuggler', 'Foo: bar\r\n Transfer-Encoding: chunked'],
  ['nameprefix2', 'PortSwigger', 'Foo: bar\r\n\tTransfer-Encoding: chunked'],
  ['space1', 'PortSwigger, smuggler', 'Transfer-Encoding : chunked'],
  ['tabprefix1', 'smuggler', 'Transfer-Encoding:\tchunked'],
  ['tabprefix2', 'smuggler', 'Transfer-Encoding\t:\tchunked'],
  ['spacejoin1', 'PortSwigger, smuggler', 'Transfer Encoding: chunked'],
  ['underjoin1', 'PortSwigger, smuggler', 'Transfer_Encoding: chunked'],
  ['smashed', 'smuggler', 'Transfer Encoding:chunked'],
  ['valueprefix1', 'PortSwigger, smuggler', 'Transfer-Encoding:  chunked'],
  ['nospace1', 'PortSwigger', 'Transfer-Encoding:chunked'],
  ['vertprefix1', 'smuggler', 'Transfer-Encoding:\x0bchunked'],
  ['vertwrap', 'PortSwigger', 'Transfer-Encoding: \n\x0bchunked'],
  ['commaCow', 'PortSwigger, smuggler', 'Transfer-Encoding: chunked, identity'],
  ['cowComma', 'PortSwigger, smuggler', 'Transfer-Encoding: identity, chunked'],
  ['nested', 'PortSwigger, smuggler', 'Transfer-Encoding: identity, chunked, identity'],
  ['contentEnc', 'PortSwigger, smuggler', 'Content-Encoding: chunked'],
  ['linewrapped1', 'PortSwigger, smuggler', 'Transfer-Encoding:\n chunked'],
  ['doublewrapped', 'PortSwigger', 'Transfer-Encoding:\r\n \r\n chunked'],
  ['tabwrap', 'PortSwigger', 'Transfer-Encoding:\r\n\tchunked'],
  ['gareth1', 'PortSwigger', 'Transfer-Encoding\n : chunked'],
  ['quoted', 'PortSwigger, smuggler', 'Transfer-Encoding: "chunked"'],
  ['aposed', 'PortSwigger, smuggler', "Transfer-Encoding: 'chunked'"],
  ['lazygrep', 'PortSwigger, smuggler', 'Transfer-Encoding: chunk'],
  ['sarcasm', 'smuggler', 'TrAnSFer-EnCODinG: cHuNkeD'],
  ['yelling', 'smuggler', 'TRANSFER-ENCODING: CHUNKED'],
  ['0dsuffix', 'PortSwigger, smuggler', 'Transfer-Encoding: chunked\r'],
  ['tabsuffix', 'PortSwigger, smuggler', 'Transfer-Encoding: chunked\t'],
  ['dualchunk', 'PortSwigger', 'Transfer-Encoding: chunked\r\nTransfer-encoding: identity'],
  ['revdualchunk', 'PortSwigger, smuggler', 'Transfer-Encoding: identity\r\nTransfer-Encoding: chunked'],
  ['twice chunked', 'HTTP Garden', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked'],
  ['0dspam', 'PortSwigger, smuggler', 'Tra\rnsfer-Encoding: chunked'],
  ['0dwrap', 'PortSwigger', 'Foo: bar\r\n\rTransfer-Encoding: chunked'],
  ['badsetupCR', 'PortSwigger', 'Foo: bar\rTransfer-Encoding: chunked'],
  ['badsetupLF', 'PortSwigger', 'Foo: bar\nTransfer-Encoding: chunked'],
  ['badwrap', 'PortSwigger', 'X-Blah-Ignore: x\r\n Transfer-Encoding: chunked'],
  ['spaceFF', 'PortSwigger, smuggler', 'Transfer-Encoding:\xffchunked'],
  ['unispace', 'PortSwigger', 'Transfer-Encoding:\xa0chunked'],
  ['accentCH', 'PortSwigger, smuggler', 'Transfer-Encoding: ch\x96nked'],
  ['accentTE', 'PortSwigger, smuggler', 'Transf\x82r-Encoding: chunked'],
  ['nel', 'PortSwigger', 'Transfer-Encoding\x85: chunked'],
  ['nbsp', 'PortSwigger', 'Transfer-Encoding\xa0: chunked'],
  ['shy', 'PortSwigger', 'Transfer\xadEncoding: chunked'],
  ['spjunk', 'PortSwigger', 'Transfer-Encoding x: chunked'],
  ['backslash', 'PortSwigger', 'Transfer\\Encoding: chunked'],
  ['encode', 'PortSwigger', 'Transfer-%45ncoding: chunked'],
  ['qencode', 'PortSwigger', 'Transfer-Encoding: =?UTF-8?B?Y2h1bmtlZA==?='],
  ['connection', 'PortSwigger', 'Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked'],
  ['x-rout', 'smuggler', 'X: X\rTransfer-Encoding: chunked'],
  ['x-nout', 'smuggler', 'X: X\nTransfer-Encoding: chunked'],
  ['leading comma', 'HTTP Garden', 'Transfer-Encoding: ,chunked'],
  ['name across lines', 'HTTP Garden', 'Transfer-\r\nEncoding: chunked'],
  ['NUL before the value', 'HTTP Garden', 'Transfer-Encoding: \x00chunked'],
  ['NBSP around the value', 'HTTP Garden', 'Transfer-Encoding: \xa0chunked\xa0'],
  ['0xFF around the value', 'HTTP Garden', 'Transfer-Encoding: \xffchunked\xff'],
  ['unknown coding', 'HTTP Garden', 'Transfer-Encoding: blegh'],
];

/** smuggler's default mutations: these bytes before, inside and after the field name and value. */
const SPECIAL_BYTES = [0x01, 0x04, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1f, 0x20, 0x7f, 0xa0, 0xff];

const VARIANTS: Variant[] = [
  ...TE_OBFUSCATIONS.flatMap(([name, source, te]): Variant[] => [
    [`CL.TE ${name}`, source, clte(te)],
    [`TE.CL ${name}`, source, tecl(te)],
  ]),
  ...SPECIAL_BYTES.flatMap((b): Variant[] => {
    const c = String.fromCharCode(b);
    const x = b.toString(16).padStart(2, '0');
    return [
      [`midspace-${x}`, 'smuggler', clte(`Transfer-Encoding:${c}chunked`)],
      [`postspace-${x}`, 'smuggler', clte(`Transfer-Encoding${c}: chunked`)],
      [`prespace-${x}`, 'smuggler', clte(`${c}Transfer-Encoding: chunked`)],
      [`endspace-${x}`, 'smuggler', clte(`Transfer-Encoding: chunked${c}`)],
      [`xprespace-${x}`, 'smuggler', clte(`X: X${c}Transfer-Encoding: chunked`)],
      [`endspacex-${x}`, 'smuggler', clte(`Transfer-Encoding: chunked${c}X: X`)],
    ];
  }),
  ['CL.TE with GET', 'PortSwigger get', clte('Transfer-Encoding: chunked', 'GET')],
  ['CL.TE with OPTIONS', 'PortSwigger options', clte('Transfer-Encoding: chunked', 'OPTIONS')],
  ['CL.TE with HEAD', 'PortSwigger head', clte('Transfer-Encoding: chunked', 'HEAD')],
  [
    'TE in HTTP/1.0',
    'PortSwigger http1.0',
    (x) => clte('Transfer-Encoding: chunked')(x).replace('HTTP/1.1', 'HTTP/1.0'),
  ],
  ['two different Content-Lengths', 'HTTP Garden', clBody((n) => `Content-Length: 0\r\nContent-Length: ${n}`)],
  [
    'two different Content-Lengths, reversed',
    'HTTP Garden',
    clBody((n) => `Content-Length: ${n}\r\nContent-Length: 0`),
  ],
  ['equal Content-Lengths twice', 'RFC 9112 6.3', clBody((n) => `Content-Length: ${n}\r\nContent-Length: ${n}`)],
  ['a Content-Length list', 'RFC 9112 6.3', clBody((n) => `Content-Length: ${n}, ${n}`)],
  ['CL-plus', 'PortSwigger, HTTP Garden', clBody((n) => `Content-Length: +${n}`)],
  ['CL-minus', 'PortSwigger, HTTP Garden', clBody((n) => `Content-Length: -${n}`)],
  ['CL-pad', 'PortSwigger, HTTP Garden', clBody((n) => `Content-Length: 0${n}`)],
  ['CL-bigpad', 'PortSwigger', clBody((n) => `Content-Length: 00000000000${n}`)],
  ['CL-spacepad', 'PortSwigger', clBody((n) => `Content-Length: 0 ${n}`)],
  ['CL-e', 'PortSwigger', clBody((n) => `Content-Length: ${n}e0`)],
  ['CL-dec', 'PortSwigger', clBody((n) => `Content-Length: ${n}.0`)],
  ['CL-commaprefix', 'PortSwigger', clBody((n) => `Content-Length: 0, ${n}`)],
  ['CL-commasuffix', 'PortSwigger', clBody((n) => `Content-Length: ${n}, 0`)],
  ['CL-expect', 'PortSwigger', clBody((n) => `Content-Length: ${n}\r\nExpect: 100-continue`)],
  ['CL-expect-obfs', 'PortSwigger', clBody((n) => `Content-Length: ${n}\r\nExpect: x 100-continue`)],
  ['CL-error', 'PortSwigger', clBody((n) => `X-Invalid Y: \r\nContent-Length: ${n}`)],
  ['CL hex', 'HTTP Garden', clBody((n) => `Content-Length: 0x${hex(n)}`)],
  ['CL with a suffix', 'HTTP Garden', clBody((n) => `Content-Length: ${n}Z`)],
  ['CL with an underscore', 'HTTP Garden', clBody((n) => `Content-Length: ${n}_0`)],
  ['an empty Content-Length first', 'HTTP Garden', clBody((n) => `Content-Length: \r\nContent-Length: ${n}`)],
  ['an empty Content-Length', 'HTTP Garden', clBody(() => 'Content-Length: ')],
  ['a space before the colon of Content-Length', 'HTTP Garden', clBody((n) => `Content-Length : ${n}`)],
  ['NEL before the colon of Content-Length', 'HTTP Garden', clBody((n) => `Content-Length\x85: ${n}`)],
  ['Content-Length without a colon', 'HTTP Garden', clBody((n) => `Content-Length ${n}`)],
  ['a tab before the first field name', 'HTTP Garden', clBody((n) => `\tContent-Length: ${n}`)],
  ['GET with a Content-Length body', 'HTTP Garden', clBody((n) => `Content-Length: ${n}`, 'GET')],
  ['HEAD with a Content-Length body', 'PortSwigger head', clBody((n) => `Content-Length: ${n}`, 'HEAD')],
  ['CL and TE both', 'HTTP Garden', clte('Transfer-Encoding: chunked')],
  ['chunk size 0_2e', 'HTTP Garden', chunked((x) => `0_2e\r\n\r\n${x.s}`)],
  ['chunk size 0x0', 'HTTP Garden', chunked((x) => `0x0\r\n\r\n${x.s}`)],
  ['chunk size -0', 'HTTP Garden', chunked((x) => `-0\r\n\r\n${x.s}`)],
  ['chunk size with leading spaces', 'HTTP Garden', chunked((x) => `   0\r\n\r\n${x.s}`)],
  ['chunk size with trailing junk', 'HTTP Garden', chunked((x) => `1these-bytes\r\nZ\r\n0\r\n\r\n${x.s}`)],
  ['an empty chunk size', 'HTTP Garden', chunked((x) => `\r\n\r\n${x.s}`)],
  ['an invalid chunk', 'HTTP Garden', chunked((x) => `INVALID!!!\r\n${x.s}`)],
  ['a chunk line ended by a bare LF', 'HTTP Garden', chunked((x) => `a\r\n0123456789\n0\r\n\r\n${x.s}`)],
  [
    'a chunk line ended by CR and another byte',
    'HTTP Garden',
    chunked((x) => `5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n${x.s}`),
  ],
  ['a CR in a chunk extension', 'HTTP Garden', chunked((x) => `2;a=b\r\rXX\r\n0\r\n\r\n${x.s}`)],
  ['chunk data longer than its size', 'HTTP Garden', chunked((x) => `2\r\nabcd\r\n0\r\n\r\n${x.s}`)],
  ['chunk data not followed by CRLF', 'HTTP Garden', chunked((x) => `5\r\nhelloXX0\r\n\r\n${x.s}`)],
  ['an extra CRLF before the last chunk', 'HTTP Garden', chunked((x) => `2\r\nab\r\n\r\n0\r\n\r\n${x.s}`)],
  ['a last chunk followed by junk', 'HTTP Garden', chunked((x) => `0\r\nX:${x.s}`)],
  ['a smuggled request in a trailer', 'HTTP Garden', chunked((x) => `0\r\nX-Trailer: a\r\n\r\n${x.s}`)],
  ['bare LF line ends', 'HTTP Garden', (x) => `GET ${x.prefix}/a HTTP/1.1\n${x.h.replace(/\r\n/g, '\n')}\n${x.s}`],
  ['a bare CR in a field', 'HTTP Garden', withField('Visible: :/\rSmuggled: :)')],
  ['a CR in a value', 'HTTP Garden', withField('Header: va\rlue')],
  ['a NUL in a value', 'HTTP Garden', withField('Header: v\x00alue')],
  ['a NUL at the end of a value', 'HTTP Garden', withField('Evil: evil\x00')],
  ['a line without a colon', 'HTTP Garden', withField('Te\nst: test')],
  ['a field named by nothing', 'HTTP Garden', withField(': ignored')],
  ['control bytes in a name', 'HTTP Garden', withField('\x01\x02: whatever')],
  ['a high byte in a name', 'HTTP Garden', withField('Header\x85: value')],
  ['obs-fold', 'RFC 9112 5.2', withField('X-Long: a\r\n b')],
  ['a head ended by CR and another byte', 'HTTP Garden', (x) => `GET ${x.prefix}/a HTTP/1.1\r\n${x.h}\rZ${x.s}`],
  ['a bare LF in the request line', 'HTTP Garden', (x) => `GET ${x.prefix}/a\nHTTP/1.1\r\n${x.h}\r\n${x.s}`],
  ['HTTP/0.9', 'HTTP Garden', (x) => `GET ${x.prefix}/a\r\n${x.s}`],
  ['version 1.32', 'HTTP Garden', (x) => `GET ${x.prefix}/a HTTP/1.32\r\n${x.h}\r\n${x.s}`],
  ['a huge version', 'HTTP Garden', (x) => `GET ${x.prefix}/a HTTP/4294967295.255\r\n${x.h}\r\n${x.s}`],
  ['a method full of separators', 'HTTP Garden', (x) => `G=":<>(e),[T];?" ${x.prefix}/a HTTP/1.1\r\n${x.h}\r\n${x.s}`],
  ['an HTTP/2 preface', 'HTTP Garden', (x) => `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n${x.s}`],
  [
    'h2c upgrade',
    'h2c smuggling',
    withField('Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings'),
  ],
  [
    'websocket upgrade',
    'PortSwigger',
    withField(
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ),
  ],
  ['Connection: close, then more requests', 'HTTP Garden', withField('Connection: close')],
  [
    'a pipelined POST after Content-Length: 0',
    'HTTP Garden',
    (x) =>
      `POST ${x.prefix}/a HTTP/1.1\r\n${x.h}Content-Length: 0\r\nConnection: keep-alive\r\n\r\n` +
      `POST ${x.prefix}/b HTTP/1.1\r\n${x.h}Content-Length: ${x.s.length}\r\n\r\n${x.s}`,
  ],
  [
    'plain pipelining',
    'RFC 9112 9.3.2',
    (x) => `GET ${x.prefix}/a HTTP/1.1\r\n${x.h}\r\nGET ${x.prefix}/b HTTP/1.1\r\n${x.h}\r\n`,
  ],
  ['a head over the size limit', 'oversized heads', withField('X-Big: ' + 'a'.repeat(40 * 1024))],
];

describe('proxy: request smuggling variants (the proxy and the upstream agree on request boundaries)', function () {
  this.timeout(300_000);
  let env: Env;
  let up: RecordingUpstream;
  let token: string;
  const prefix = () => `/namespaces/${env.ns}/connectors/rec`;

  /** Plays one variant on its own connection, then a plain request, and returns what each side saw. */
  async function play(i: number, build: Variant[2]) {
    const slot: Slot = {
      prefix: `${prefix()}/v${i}`,
      h: `Host: proxy\r\nAuthorization: Bearer ${token}\r\n`,
      s: '',
    };
    slot.s = `GET ${slot.prefix}/smuggled HTTP/1.1\r\n${slot.h}\r\n`;
    const bytes = build(slot) + `GET ${slot.prefix}/probe HTTP/1.1\r\n${slot.h}\r\n`;
    const client = await new Promise<string>((resolve) => {
      const s = connect(env.proxy.port, '127.0.0.1', () => s.write(bytes, 'latin1'));
      let got = '';
      let idle = setTimeout(() => s.destroy(), 1500);
      s.on('data', (d) => {
        got += d.toString('latin1');
        clearTimeout(idle);
        idle = setTimeout(() => s.destroy(), 700);
      });
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(idle);
        resolve(got);
      });
    });
    return { client, bytes, slot };
  }

  before(async () => {
    up = await startRecordingUpstream();
    env = await setup('proxy-smuggling');
    await env.apply(objects.yaml(objects.connector('rec', { className: 'git', address: up.url })));
    await env.serviceAccount('client');
    token = await env.token('client');
    await eventually(
      'the proxy to serve the connector',
      async () => {
        const r = await fetch(`${env.proxy.url}${prefix()}/ready`, { headers: { authorization: `Bearer ${token}` } });
        await r.arrayBuffer();
        return r.status === 200;
      },
      30_000,
      50,
    );
  });
  after(async () => {
    await env?.stop();
    await up?.stop();
  });

  const played = new Map<number, Promise<Awaited<ReturnType<typeof play>>>>();
  // The variants run 32 at a time (each waits for its connection to fall idle); each test awaits its own.
  const BATCH = 32;
  function result(i: number) {
    const batch = Math.floor(i / BATCH) * BATCH;
    if (!played.has(i))
      for (let j = batch; j < Math.min(batch + BATCH, VARIANTS.length); j++) played.set(j, play(j, VARIANTS[j][2]));
    return played.get(i)!;
  }

  VARIANTS.forEach(([name, source], i) =>
    it(`${name} (${source})`, async () => {
      const { client, bytes, slot } = await result(i);
      await sleep(200); // audit lines of exchanges that ended as the connection closed
      const own = (p: string) => p === slot.prefix || p.startsWith(slot.prefix + '/');
      const audited = auditLines(env.logs).filter((a) => own(String(a.path)));
      // Every request the proxy read, as the upstream would see it (path without the Connector's prefix, body
      // length); those answered 200 are the ones the upstream answered (it answers every request 200).
      const key = (a: Record<string, unknown>) =>
        `${String(a.method)} ${String(a.path).slice(prefix().length)} ${String(a.bytesIn)}`;
      const read = audited.map(key);
      const answered = audited.filter((a) => a.status === 200).map(key);
      const received = up.requests
        .filter((r) => r.url.includes(`/v${i}/`))
        .map((r) => `${r.method} ${r.url} ${r.body.length}`);
      const short = (t: string) => JSON.stringify(t.split(token).join('<token>').slice(0, 1500));
      const context = `sent ${short(bytes)}\ngot ${short(client)}\nthe proxy read ${JSON.stringify(audited.map((a) => [key(a), a.status]))}`;
      // The upstream received exactly the requests the proxy read and sent on: none it did not read as such
      // (a request smuggled in a body), none cut or joined differently (other body lengths).
      expect(
        received.filter((r) => !read.includes(r)),
        context,
      ).to.deep.equal([]);
      expect(
        answered.filter((a) => !received.includes(a)),
        context,
      ).to.deep.equal([]);
      expect(received.length, context).to.be.at.most(read.length);
    }),
  );
});
