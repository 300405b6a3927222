// A differential property test of the listener's front (proxy/http1/front.ts) against node's own HTTP parser
// (llhttp, configured as node:http's server configures it): for request heads generated from a grammar and
// then mutated byte by byte, the front either hands the bytes to node:http untouched or yields exactly the
// method, target, version, fields, keep-alive and head length that llhttp yields. The run is seeded
// (PROXY_DIFF_SEED=<n> repeats one; PROXY_DIFF_CASES=<n> changes the count) and prints the seed of a failure.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { frontStep, parseFields, type FrontStep } from '../../core/http1/front.ts';
import { rememberLast } from '../../core/util/remember-last.ts';

const MAX_HEADER_SIZE = 32 * 1024; // the proxy's default
const CASES = Number(process.env.PROXY_DIFF_CASES ?? 100_000);
const SEED = Number(process.env.PROXY_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 32));

/** sfc32: a small, fast, seedable generator (the run must repeat from its seed). */
function random(seed: number): () => number {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * Request heads: each head has an oddness (how often a part of it is off: a rare, a frequent or a common flaw),
 * so that many heads are the kind the front takes and the others are off in one or many ways.
 */
class HeadGenerator {
  private readonly r: () => number;
  private odd = 0.01;
  constructor(r: () => number) {
    this.r = r;
  }
  private int(n: number): number {
    return Math.floor(this.r() * n);
  }
  private chance(p: number): boolean {
    return this.r() < p;
  }
  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** `common`, or (as often as this head's oddness says) one of `odd`. */
  private mostly<T>(common: T, odd: readonly T[]): T {
    return this.chance(this.odd) ? this.pick(odd) : common;
  }
  private byte(): string {
    return String.fromCharCode(this.int(256));
  }
  private chars(pool: string, min: number, max: number): string {
    let s = '';
    const n = min + this.int(max - min + 1);
    for (let i = 0; i < n; i++) s += this.chance(this.odd / 4) ? this.byte() : pool[this.int(pool.length)];
    return s;
  }

  private method(): string {
    return this.mostly(this.chance(0.7) ? 'GET' : 'HEAD', [
      'POST',
      'PUT',
      'get',
      'Get',
      'GETX',
      'G',
      'GE T',
      'CONNECT',
      'OPTIONS',
      'TRACE',
      'PRI',
      'HEA',
      '',
    ]);
  }

  private target(): string {
    const path = '/' + this.chars("abcXYZ019-._~!$&'()*+,;=:@/?%#", 0, 24);
    return this.mostly(path, [
      path + this.pick(['"', '<', '>', '\\', '^', '`', '{', '|', '}', '\x7f', '\x80', '\xff', '\x00', '\x09', '\x0b']),
      'http://h' + path,
      '*',
      '//x' + path,
      '/../x',
      'x' + path,
      '',
      path + ' ' + path,
    ]);
  }

  private version(): string {
    return this.mostly(this.chance(0.75) ? 'HTTP/1.1' : 'HTTP/1.0', [
      'HTTP/1.2',
      'HTTP/2.0',
      'http/1.1',
      'HTTP/1.10',
      'HTTP/1',
      'HTTP/0.9',
      'HTTP/1.1 ',
      'HTTP/11',
      'HTTP/1.1\t',
      '',
    ]);
  }

  private eol(): string {
    return this.mostly('\r\n', ['\n', '\r', '\r\r\n', '\n\r', ' \r\n']);
  }

  private fieldName(): string {
    const common = [
      'Authorization',
      'User-Agent',
      'user-agent',
      'Accept',
      'Accept-Encoding',
      'Connection',
      'connection',
      'X-A',
      'x-b',
      'Cache-Control',
      'Git-Protocol',
      'Keep-Alive',
      'TE',
      'Via',
    ];
    const handedOver = [
      'Host',
      'Content-Length',
      'Transfer-Encoding',
      'Upgrade',
      'Expect',
      'Proxy-Connection',
      'HTTP2-Settings',
    ];
    if (!this.chance(this.odd)) return this.pick(common);
    return this.chance(0.4)
      ? this.pick(handedOver)
      : this.chance(0.5)
        ? this.chars("abcdXYZ0189!#$%&'*+-.^_`|~", 1, 12)
        : this.pick(common) +
          this.pick([
            ' ',
            '\t',
            '"',
            '(',
            ',',
            '/',
            ';',
            '@',
            '[',
            '{',
            '\x7f',
            '\x80',
            '\xe9',
            '\x00',
            '\x0b',
            '\x0c',
            '\x85',
            '\xa0',
          ]);
  }

  private fieldValue(name: string): string {
    const lower = name.toLowerCase();
    const typical =
      lower === 'host'
        ? this.pick(['h', 'example.com', 'c-git.ns.svc:8080', '127.0.0.1:8080', '[::1]:80', ''])
        : lower === 'connection' || lower === 'proxy-connection'
          ? this.pick([
              'keep-alive',
              'close',
              'Keep-Alive',
              'CLOSE',
              'TE, close',
              'te,\tclose',
              'Upgrade',
              'keep-alive, TE',
              'x',
              '',
            ])
          : lower === 'authorization'
            ? this.mostly(this.pick(TOKENS), [this.chars('Bearer eyJ-_.\t ', 1, 40)])
            : lower === 'content-length'
              ? this.pick(['0', '5', '+5', '05', '5, 5', ' 5', '', 'x'])
              : lower === 'transfer-encoding'
                ? this.pick(['chunked', 'Chunked', 'identity', 'chunked, identity', ',chunked', ''])
                : this.chars(' abcXYZ019-._~!"#$%&\'()*+,/:;<=>?@[\\]^`{|}\t\xe9\xff\x80', 0, 40);
    let v = this.mostly(' ', ['', '  ', '\t', ' \t ']) + typical;
    if (this.chance(this.odd)) v += this.pick([' ', '\t', '  \t']);
    if (this.chance(this.odd / 2)) v += this.pick(['\x00', '\x01', '\x7f', '\r', '\n', '\x0b', '\x1f']) + typical;
    return v;
  }

  private fields(): string {
    let out = '';
    const n = this.int(9);
    const seen: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = seen.length && this.chance(this.odd) ? this.pick(seen) : this.fieldName();
      seen.push(name);
      out += name + this.mostly(':', [' :', '\t:', '::', '']) + this.fieldValue(name) + this.eol();
      if (this.chance(this.odd / 2)) out += this.pick([' folded', '\tfolded', ' ']) + this.eol(); // obs-fold
    }
    return out;
  }

  /** One request head, with its blank line, and maybe bytes after it. */
  head(): string {
    this.odd = this.pick([0.002, 0.02, 0.15]);
    const m = this.method();
    const sp1 = this.mostly(' ', ['  ', '\t', '']);
    const sp2 = this.mostly(' ', ['  ', '\t', '']);
    let head = m + sp1 + this.target() + sp2 + this.version() + this.eol();
    if (this.chance(0.92)) head += 'Host: ' + this.pick(['h', 'c-git.ns.svc', '127.0.0.1:8080']) + this.eol();
    head += this.fields();
    head += this.mostly('\r\n', ['\n', '\r', '']);
    if (this.chance(0.2)) head += this.pick(['GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'x', '\r\n', '0\r\n\r\n']);
    return head;
  }

  /** `text` with one to three bytes flipped, inserted, deleted, or a span repeated. */
  mutate(text: string): string {
    let s = text;
    const interesting = ['\r', '\n', '\x00', ' ', '\t', ':', '\x7f', '\x80', '\xff', 'a', '%', '/', ',', '\x0b'];
    for (let k = 1 + this.int(3); k > 0; k--) {
      const at = this.int(s.length + 1);
      const b = this.chance(0.7) ? this.pick(interesting) : this.byte();
      switch (this.int(5)) {
        case 0:
          s = s.slice(0, at) + b + s.slice(at + 1);
          break;
        case 1:
          s = s.slice(0, at) + b + s.slice(at);
          break;
        case 2:
          s = s.slice(0, at) + s.slice(at + 1);
          break;
        case 3: {
          const len = this.int(12);
          s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
          break;
        }
        default: {
          const c = s[at] ?? '';
          s = s.slice(0, at) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + s.slice(at + 1);
        }
      }
    }
    return s;
  }
}

/** Authorization values as clients send them (a few, repeated: the front's memo of a connection's fields). */
const TOKENS = [
  'Bearer eyJ' + 'a'.repeat(900),
  'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
  'Basic Zm9vOmJhcg==',
  'Bearer x',
];

/** What node's HTTP parser makes of a buffer: the head it parsed (and how long it was), an error, or not enough. */
type NodeView =
  | {
      kind: 'head';
      method: string;
      url: string;
      major: number;
      minor: number;
      raw: string[];
      keepAlive: boolean;
      upgrade: boolean;
      headLength: number;
      /** The message ends with its head: no body follows (by Content-Length or Transfer-Encoding). */
      bodyless: boolean;
    }
  | { kind: 'error'; code: string }
  | { kind: 'incomplete' };

/** llhttp as node:http's server sets it up (request parser, the proxy's header limit, no leniency). */
function nodeParser(): (buf: Buffer) => NodeView {
  const require = createRequire(import.meta.url);
  // node:http's own parser binding (lib/_http_common.js), the one its server uses.
  const { HTTPParser, methods } = require('_http_common') as {
    HTTPParser: any;
    methods: string[];
  };
  const parser = new HTTPParser();
  let raw: string[] = [];
  let url = '';
  let got: NodeView | undefined;
  let probingBody = false;
  let complete = false;
  parser[HTTPParser.kOnHeaders] = (headers: string[], u: string) => {
    if (probingBody) return;
    raw.push(...headers);
    url += u;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number,
    u: string | undefined,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    if (probingBody) return 0;
    if (headers) raw.push(...headers);
    if (u) url += u;
    got = {
      kind: 'head',
      method: methods[method],
      url,
      major,
      minor,
      raw,
      keepAlive,
      upgrade,
      headLength: 0,
      bodyless: false,
    };
    return 2; // stop at the end of the head: execute() then returns the head's length
  };
  parser[HTTPParser.kOnBody] = () => {};
  parser[HTTPParser.kOnMessageComplete] = () => (complete = true);
  parser[HTTPParser.kOnExecute] = () => {};
  return (buf) => {
    raw = [];
    url = '';
    got = undefined;
    parser.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_SIZE, HTTPParser.kLenientNone);
    const r = parser.execute(buf);
    if (r instanceof Error) return { kind: 'error', code: (r as NodeJS.ErrnoException).code ?? 'error' };
    if (!got) return { kind: 'incomplete' };
    const head = got as Extract<NodeView, { kind: 'head' }>;
    head.headLength = r as number;
    // Again, the head alone and on past its end: does the message end there?
    probingBody = true;
    complete = false;
    parser.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_SIZE, HTTPParser.kLenientNone);
    parser.execute(buf.subarray(0, head.headLength));
    probingBody = false;
    head.bodyless = complete;
    return head;
  };
}

/** Why the front's step disagrees with node's view, or undefined when it does not. */
function disagreement(front: FrontStep, node: NodeView): string | undefined {
  if (front.kind !== 'take') return undefined; // handed over (or still waiting): node:http reads it itself
  if (node.kind !== 'head')
    return `the front takes a head node's parser ${node.kind === 'error' ? 'rejects (' + node.code + ')' : 'has not finished'}`;
  const p = front.request;
  const want: Record<string, string> = {};
  for (let i = 0; i < node.raw.length; i += 2) {
    const k = node.raw[i].toLowerCase();
    if (k in want) return `node sees the field ${k} twice`;
    want[k] = node.raw[i + 1];
  }
  const checks: [string, unknown, unknown][] = [
    ['method', p.method, node.method],
    ['target', p.url, node.url],
    ['version', p.http10 ? '1.0' : '1.1', `${node.major}.${node.minor}`],
    ['fields', JSON.stringify(p.headers), JSON.stringify(want)],
    ['keep-alive', p.keepAlive, node.keepAlive],
    ['upgrade', false, node.upgrade],
    ['a body', false, !node.bodyless],
    ['head length', front.headLength, node.headLength],
  ];
  for (const [what, a, b] of checks) if (a !== b) return `${what}: the front has ${String(a)}, node ${String(b)}`;
  return undefined;
}

describe('proxy/http1 front vs node:http (differential)', function () {
  this.timeout(120_000);

  it(`agrees with llhttp on ${CASES} generated and mutated request heads (seed ${SEED})`, () => {
    const r = random(SEED);
    const gen = new HeadGenerator(r);
    const node = nodeParser();
    // One memo across cases, as one kept-alive connection has: equal field texts take the memo's path.
    const fields = rememberLast(parseFields);
    const failures: string[] = [];
    const counts = { take: 0, handoff: 0, wait: 0 };
    let previous = '';
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      let head = gen.head();
      if (r() < 0.35) head = gen.mutate(r() < 0.2 && previous ? previous : head);
      previous = head;
      const buf = Buffer.from(head, 'latin1');
      const front = frontStep(buf, MAX_HEADER_SIZE, fields);
      counts[front.kind]++;
      const why = disagreement(front, node(buf));
      if (why)
        failures.push(
          `case ${i} of seed ${SEED} (PROXY_DIFF_SEED=${SEED}): ${why}\n    bytes: ${JSON.stringify(head)}`,
        );
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    // The generator must exercise both sides: heads the front takes and heads it hands over.
    expect(counts.take, JSON.stringify(counts)).to.be.greaterThan(CASES * 0.2);
    expect(counts.handoff, JSON.stringify(counts)).to.be.greaterThan(CASES * 0.2);
  });

  it("the harness reads heads as node:http's server does (a sample sent to a real server)", async () => {
    const seed = SEED ^ 0x5a5a5a5a;
    const gen = new HeadGenerator(random(seed));
    const node = nodeParser();
    const seen: Array<{ method?: string; url?: string; version: string; raw: string[] } | undefined> = [];
    const server: Server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, (req, res) => {
      seen.push({ method: req.method, url: req.url, version: req.httpVersion, raw: req.rawHeaders });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      let compared = 0;
      for (let i = 0; compared < 150 && i < 20_000; i++) {
        const head = gen.head();
        const buf = Buffer.from(head, 'latin1');
        const view = node(buf);
        if (view.kind !== 'head' || frontStep(buf, MAX_HEADER_SIZE).kind !== 'take') continue;
        compared++;
        seen.length = 0;
        // Only the head: the server answers it (a GET/HEAD without a body) and the client closes.
        await new Promise<void>((resolve) => {
          const s = connect(port, '127.0.0.1', () => s.end(buf.subarray(0, view.headLength)));
          s.on('data', () => {});
          s.on('error', () => resolve());
          s.on('close', () => resolve());
        });
        const got = seen[0];
        const ctx = `seed ${seed}, bytes ${JSON.stringify(head)}`;
        expect(got, ctx).to.not.equal(undefined);
        expect([got!.method, got!.url, got!.version, got!.raw], ctx).to.deep.equal([
          view.method,
          view.url,
          `${view.major}.${view.minor}`,
          view.raw,
        ]);
      }
      expect(compared).to.equal(150);
    } finally {
      server.close();
    }
  });
});
