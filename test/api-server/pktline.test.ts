// The git plugin's ref-advertisement parser against what a git server sends and against hostile input: a
// corpus of malformed bodies (each must be refused with a PktLineError naming the problem) and seeded random
// mutations of a valid body (the parser returns or throws a PktLineError, nothing else, and never hangs). The
// differential test against `git ls-remote` on a real server is in gitrefs.test.ts.
import { expect } from 'chai';
import {
  MAX_PKT_LEN,
  parseDumbRefs,
  parseRefAdvertisement,
  PktLineError,
  splitPktLines,
} from '../../plugins/git/pktline.ts';
import {
  gitAuthorization,
  gitRefItems,
  GitRefsRequestError,
  infoRefsUrl,
  repositoryUnder,
} from '../../plugins/git/gitrefs.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const Z = '0'.repeat(40);

/** One pkt-line of `text` (its 4-hex length included). */
const pkt = (text: string | Buffer) => {
  const data = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0'), 'latin1'), data]);
};
const FLUSH = Buffer.from('0000');
const advertisement = (...lines: Array<string | Buffer>) =>
  Buffer.concat([
    pkt('# service=git-upload-pack\n'),
    FLUSH,
    ...lines.map((l) => (Buffer.isBuffer(l) ? l : pkt(l))),
    FLUSH,
  ]);

const VALID = advertisement(
  `${A} HEAD\0multi_ack thin-pack side-band symref=HEAD:refs/heads/main agent=git/2.47\n`,
  `${A} refs/heads/main\n`,
  `${B} refs/heads/feature/x\n`,
  `${C} refs/tags/v1\n`,
  `${A} refs/tags/v1^{}\n`,
  `${B} refs/tags/light\n`,
  `${C} refs/pull/1/head\n`,
);

describe('git plugin: ref advertisement (pkt-line)', () => {
  it('reads refs, capabilities and peeled tags', () => {
    const ad = parseRefAdvertisement(VALID);
    expect(ad.version).to.equal(0);
    expect(ad.capabilities).to.include('symref=HEAD:refs/heads/main');
    expect(ad.refs).to.deep.equal([
      { name: 'HEAD', oid: A },
      { name: 'refs/heads/main', oid: A },
      { name: 'refs/heads/feature/x', oid: B },
      { name: 'refs/tags/v1', oid: C, peeled: A },
      { name: 'refs/tags/light', oid: B },
      { name: 'refs/pull/1/head', oid: C },
    ]);
    expect(gitRefItems(ad.refs, undefined)).to.deep.equal([
      { name: 'refs/heads/main', commitID: A },
      { name: 'refs/heads/feature/x', commitID: B },
      { name: 'refs/tags/v1', commitID: A },
      { name: 'refs/tags/light', commitID: B },
    ]);
    expect(gitRefItems(ad.refs, 'FEAT').map((r) => r.name)).to.deep.equal(['refs/heads/feature/x']);
  });

  it('reads protocol v1, an empty repository, SHA-256 ids and lines without LF', () => {
    const v1 = parseRefAdvertisement(advertisement('version 1\n', `${A} refs/heads/main\0agent=x\n`));
    expect(v1).to.deep.include({ version: 1, capabilities: ['agent=x'] });
    expect(v1.refs).to.deep.equal([{ name: 'refs/heads/main', oid: A }]);
    const empty = parseRefAdvertisement(advertisement(`${Z} capabilities^{}\0agent=x\n`));
    expect(empty.refs).to.deep.equal([]);
    const sha256 = 'd'.repeat(64);
    expect(parseRefAdvertisement(advertisement(`${sha256} refs/heads/main\0object-format=sha256`)).refs).to.deep.equal([
      { name: 'refs/heads/main', oid: sha256 },
    ]);
    expect(parseRefAdvertisement(advertisement()).refs).to.deep.equal([]);
  });

  it('reads a dumb-HTTP info/refs list', () => {
    expect(parseDumbRefs(`${A}\trefs/heads/main\n${C}\trefs/tags/v1\n${A}\trefs/tags/v1^{}\n`)).to.deep.equal([
      { name: 'refs/heads/main', oid: A },
      { name: 'refs/tags/v1', oid: C, peeled: A },
    ]);
    expect(() => parseDumbRefs('<html>login</html>')).to.throw(PktLineError, /invalid dumb info\/refs line/);
  });

  const service = Buffer.concat([pkt('# service=git-upload-pack\n'), FLUSH]);
  const corpus: Array<[string, Buffer, RegExp]> = [
    ['an empty body', Buffer.alloc(0), /does not start with "# service=git-upload-pack"/],
    ['a truncated length', Buffer.from('00'), /truncated pkt-line length/],
    ['a length that is not hex', Buffer.from('zzzz'), /invalid pkt-line length "zzzz"/],
    ['a length under 4', Buffer.from('0003'), /invalid pkt-line length 3/],
    ['a length past the body', Buffer.from('00ffabc'), /truncated pkt-line at byte 0: 255 bytes announced/],
    [
      'a pkt-line over the maximum',
      Buffer.concat([Buffer.from((MAX_PKT_LEN + 1).toString(16)), Buffer.alloc(MAX_PKT_LEN - 3)]),
      /exceeds 65520/,
    ],
    ['an HTML login page', Buffer.from('<html><body>Sign in</body></html>'), /invalid pkt-line length "<htm"/],
    [
      'another service',
      Buffer.concat([pkt('# service=git-receive-pack\n'), FLUSH, FLUSH]),
      /starts with "# service=git-receive-pack"/,
    ],
    [
      'no flush after the service line',
      Buffer.concat([pkt('# service=git-upload-pack\n'), pkt(`${A} x\n`)]),
      /no flush/,
    ],
    [
      'no final flush (truncated)',
      Buffer.concat([service, pkt(`${A} refs/heads/main\0caps\n`)]),
      /ends without a flush/,
    ],
    [
      'data after the end',
      Buffer.concat([advertisement(`${A} refs/heads/main\n`), pkt('more\n')]),
      /data after the end/,
    ],
    ['an ERR line', advertisement('ERR access denied\n'), /the server reports an error: access denied/],
    ['protocol v2', advertisement('version 2\n', 'ls-refs\n'), /protocol v2/],
    ['a v2 delimiter', Buffer.concat([service, Buffer.from('0001'), FLUSH]), /protocol v2 delimiter/],
    ['a short object id', advertisement(`${'a'.repeat(39)} refs/heads/main\n`), /invalid object id/],
    ['an upper-case object id', advertisement(`${'A'.repeat(40)} refs/heads/main\n`), /invalid object id/],
    ['a line without a space', advertisement(`${A}\n`), /without a space/],
    ['a NUL after the first line', advertisement(`${A} refs/heads/a\0caps\n`, `${B} refs/heads/b\0x\n`), /NUL byte/],
    ['a peeled ref with no base', advertisement(`${A} refs/heads/a\0c\n`, `${B} refs/tags/v1^{}\n`), /does not follow/],
    [
      'a ref peeled twice',
      advertisement(`${A} refs/tags/v\0c\n`, `${B} refs/tags/v^{}\n`, `${C} refs/tags/v^{}\n`),
      /does not follow/,
    ],
    ['a space in a ref name', advertisement(`${A} refs/heads/a b\n`), /invalid ref name/],
    ['a control character in a ref name', advertisement(`${A} refs/heads/a\x1b[31m\n`), /invalid ref name/],
    ['a dot-dot ref name', advertisement(`${A} refs/heads/../../x\n`), /invalid ref name/],
    ['an empty ref name', advertisement(`${A} \n`), /invalid ref name/],
    ['capabilities^{} with an object id', advertisement(`${A} capabilities^{}\0c\n`), /non-zero object id/],
  ];
  for (const [what, body, want] of corpus)
    it(`refuses ${what}`, () => expect(() => parseRefAdvertisement(body)).to.throw(PktLineError, want));

  it('splits flush, delimiter and response-end packets', () => {
    expect(splitPktLines(Buffer.from('000000010002')).map((p) => p.kind)).to.deep.equal(['flush', 'delim', 'end']);
  });

  it('seeded random mutations of a valid body: a result or a PktLineError, nothing else', function () {
    this.timeout(60_000);
    // mulberry32: the same cases on every run; a failing seed is printed.
    let seed = 0x5eed1234;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let parsed = 0;
    let refused = 0;
    for (let n = 0; n < 20_000; n++) {
      const caseSeed = seed;
      const buf = Buffer.from(VALID);
      let body: Buffer = buf;
      const kind = Math.floor(rand() * 5);
      if (kind === 0)
        for (let k = 0; k < 1 + rand() * 4; k++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      else if (kind === 1) body = buf.subarray(0, Math.floor(rand() * buf.length));
      else if (kind === 2) {
        const at = Math.floor(rand() * buf.length);
        body = Buffer.concat([buf.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), buf.subarray(at)]);
      } else if (kind === 3) {
        // A length field rewritten to a random value.
        const at = Math.floor(rand() * (buf.length - 4));
        buf.write(
          Math.floor(rand() * 0x10000)
            .toString(16)
            .padStart(4, '0'),
          at,
          'latin1',
        );
      } else body = Buffer.concat([buf, buf.subarray(Math.floor(rand() * buf.length))]);
      try {
        parseRefAdvertisement(body);
        parsed++;
      } catch (err) {
        if (!(err instanceof PktLineError))
          throw new Error(`seed ${caseSeed}: ${(err as Error).stack}`, { cause: err });
        refused++;
      }
    }
    expect(refused).to.be.greaterThan(10_000);
    expect(parsed + refused).to.equal(20_000);
  });
});

describe('git plugin: which repository, and how', () => {
  const base = 'https://git.example.com/gitlab';
  const ok: Array<[string, string]> = [
    [
      'https://git.example.com/gitlab/org/repo.git',
      'https://git.example.com/gitlab/org/repo.git/info/refs?service=git-upload-pack',
    ],
    [
      'https://GIT.example.com:443/gitlab/org/repo/',
      'https://git.example.com/gitlab/org/repo/info/refs?service=git-upload-pack',
    ],
  ];
  for (const [repo, want] of ok)
    it(`${repo} is under ${base}`, () => expect(infoRefsUrl(repositoryUnder(base, repo)).href).to.equal(want));
  const refused: Array<[string | undefined, RegExp]> = [
    [undefined, /repositoryUrl is required/],
    ['', /repositoryUrl is required/],
    ['not a url', /is not a URL/],
    ['https://evil.example.com/gitlab/org/repo.git', /is not a repository under the connector address/],
    ['http://git.example.com/gitlab/org/repo.git', /is not a repository under/],
    ['https://git.example.com:8443/gitlab/org/repo.git', /is not a repository under/],
    ['https://git.example.com/gitlabx/org/repo.git', /is not a repository under/],
    ['https://git.example.com/gitlab', /is not a repository under/],
    ['https://git.example.com/gitlab/../admin/repo.git', /is not a repository under/],
    ['https://git.example.com/gitlab/..%2Fadmin/repo.git', /encoded slashes/],
    ['https://user:pw@git.example.com/gitlab/org/repo.git', /must not carry credentials/],
    ['https://git.example.com/gitlab/org/repo.git?x=1', /must not have a query/],
    ['file:///etc/passwd', /must be an http\(s\) URL/],
  ];
  for (const [repo, want] of refused)
    it(`refuses repositoryUrl ${JSON.stringify(repo)}`, () =>
      expect(() => repositoryUnder(base, repo)).to.throw(GitRefsRequestError, want));

  it('authenticates with the Secret by its type', () => {
    expect(gitAuthorization('kubernetes.io/basic-auth', { username: 'u', password: 'p' })).to.equal('Basic dTpw');
    expect(gitAuthorization('connectors.cpaas.io/bearer-token', { token: 't' })).to.equal('Bearer t');
    expect(gitAuthorization(undefined, {})).to.equal(undefined);
    expect(gitAuthorization('Opaque', { k: 'v' })).to.equal(undefined);
  });
});
