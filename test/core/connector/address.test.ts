// Connector addresses: what is valid, and which targets an address covers.
import { expect } from 'chai';
import { matchTarget, originOf, parseAddress, underPrefix } from '../../../core/connector/index.ts';

describe('core/connector: addresses', () => {
  const valid = [
    'https://github.com',
    'http://10.0.0.1:8080/gitlab/',
    'https://[::1]:5000',
    'HTTPS://Harbor.Example.COM',
  ];
  for (const a of valid) it(`accepts ${a}`, () => expect(parseAddress(a).ok).to.equal(true));
  const invalid: Array<[string, string]> = [
    ['', 'must not be empty'],
    ['http://[x', '"http://[x" is not a valid URL'],
    ['http://', '"http://" is not a valid URL'],
    ['ftp://x', '"ftp://x" is not an http:// or https:// URL'],
    ['github.com', '"github.com" is not an http:// or https:// URL'],
    ['http:github.com', '"http:github.com" is not an http:// or https:// URL'],
    ['https://git hub.com', '"https://git hub.com" contains white space'],
    [' https://github.com', '" https://github.com" contains white space'],
    [
      'https://user:secret@github.com',
      '"https://xxxxx:xxxxx@github.com/" must not carry credentials: put them in the Secret of spec.auth.secretRef',
    ],
  ];
  for (const [a, error] of invalid)
    it(`rejects ${JSON.stringify(a)}`, () => expect(parseAddress(a)).to.deep.equal({ ok: false, error }));

  it('origins make default ports explicit and hosts lower-case', () => {
    expect(originOf(new URL('https://GitHub.com/x'))).to.equal('https://github.com:443');
    expect(originOf(new URL('http://h:8080'))).to.equal('http://h:8080');
  });

  const prefixes: Array<[string, string, boolean]> = [
    ['/a', '', true],
    ['/gitlab', '/gitlab', true],
    ['/gitlab/x', '/gitlab', true],
    ['/gitlabx', '/gitlab', false],
    ['/', '/gitlab', false],
  ];
  for (const [path, prefix, under] of prefixes)
    it(`${path} under ${JSON.stringify(prefix)}: ${under}`, () => expect(underPrefix(path, prefix)).to.equal(under));

  const c = (name: string, address: string, ext: string[] = []) => ({
    name,
    spec: { address, addressExtensions: ext.map((value) => ({ value })) },
  });
  const cs = [
    c('a', 'https://github.com'),
    c('b', 'https://tool.example.com/gitlab', ['https://api.tool.example.com']),
    c('c', 'https://tool.example.com/gitlab/deeper'),
    c('broken', 'http://[x'),
  ];
  const targets: Array<[string, string | undefined]> = [
    ['https://github.com/org/repo', 'a'],
    ['https://github.com:443/org/repo', 'a'],
    ['http://github.com/org/repo', undefined],
    ['https://github.com:8443/org', undefined],
    ['https://example.org/', undefined],
    ['https://tool.example.com/gitlab/x', 'b'],
    ['https://tool.example.com/gitlabx', undefined],
    ['https://tool.example.com/gitlab/deeper/y', 'c'],
    ['https://api.tool.example.com/v4', 'b'],
  ];
  for (const [t, want] of targets)
    it(`${t} → ${want ?? 'no Connector'}`, () => expect(matchTarget(new URL(t), cs)?.name).to.equal(want));
});
