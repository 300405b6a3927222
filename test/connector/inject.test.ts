// What the proxy and the Connectors API share about reaching a tool with a Connector's credentials, table-driven
// (pure): the upstream URL (never above the address's path prefix), Location rewriting, forward-mode target
// matching and what to inject for a Secret.
import { expect } from 'chai';
import type { V1Secret } from '@kubernetes/client-node';
import type { Connector } from '../../core/api/index.ts';
import { matchTarget, planInjection } from '../../core/connector/inject.ts';
import { rewriteLocation, upstreamUrl } from '../../core/connector/upstream-url.ts';

const connector = (ns: string, name: string, address: string, ext: string[] = [], secret?: string): Connector => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name, namespace: ns },
  spec: {
    connectorClassName: 'git',
    address,
    addressExtensions: ext.map((value, i) => ({ name: `e${i}`, value })),
    ...(secret ? { auth: { name: 'basicAuth', secretRef: { name: secret } } } : {}),
  },
});

describe('core/connector: reaching a tool (pure)', () => {
  const urls: Array<[string, string, string]> = [
    [
      'https://h.example.com',
      '/org/repo.git/info/refs?service=git-upload-pack',
      'https://h.example.com/org/repo.git/info/refs?service=git-upload-pack',
    ],
    ['https://h.example.com/gitlab', '/org/repo.git', 'https://h.example.com/gitlab/org/repo.git'],
    ['https://h.example.com/gitlab/', '/a?b=c&d', 'https://h.example.com/gitlab/a?b=c&d'],
    ['http://127.0.0.1:8080', '/', 'http://127.0.0.1:8080/'],
  ];
  for (const [address, rest, want] of urls)
    it(`upstreamUrl(${address}, ${rest})`, () => expect(upstreamUrl(address, rest).href).to.equal(want));
  // upstreamUrl parses origin+prefix+rest as one string when that is equivalent; the general way (the origin,
  // then the pathname and search setters) is the oracle, also for the inputs that must take it.
  const bySetters = (address: string, rest: string): string => {
    const base = new URL(address);
    const prefix = base.pathname.replace(/\/+$/, '');
    const r = rest.startsWith('/') ? rest : '/' + rest;
    const q = r.indexOf('?');
    const out = new URL(base.origin);
    out.pathname = prefix + (q === -1 ? r : r.slice(0, q));
    out.search = q === -1 ? '' : r.slice(q);
    return out.href;
  };
  const tricky: Array<[string, string]> = [
    ['https://h.example.com/gitlab', '/a#frag'],
    ['https://h.example.com/gitlab', '/a?x=1#frag'],
    ['https://h.example.com/gitlab', '/a?'],
    ['https://h.example.com/gitlab', '?'],
    ['https://h.example.com/gitlab', '/a '],
    ['https://h.example.com/gitlab', '/a?b= '],
    ['https://h.example.com/gitlab', '/a\t'],
    ['https://h.example.com', '//evil.example.com/x'],
    ['https://h.example.com/p', '/a\\b'],
    ['https://h.example.com/p', '/sp ace/quo"te/\'/<>/é/%41?q=é&r=\'"<>&s=%zz'],
    ['https://h.example.com/p', '/a/./b/../c?d=../e'],
    ['https://h.example.com/p', '/%2e/x'],
    ['http://[::1]:8080/p/', '/x?y'],
    ['https://h.example.com:443/p', 'no-slash?x=1'],
  ];
  for (const [address, rest] of tricky) {
    it(`upstreamUrl(${address}, ${JSON.stringify(rest)}) is the URL the setters give`, () =>
      expect(upstreamUrl(address, rest).href).to.equal(bySetters(address, rest)));
  }
  it('upstreamUrl refuses dot segments that leave the prefix', () => {
    expect(() => upstreamUrl('https://h/gitlab', '/../admin')).to.throw(/escapes/);
    expect(() => upstreamUrl('https://h/gitlab', '/%2e%2e/admin')).to.throw(/escapes/);
  });

  const base = 'http://proxy/namespaces/ns/connectors/c';
  const locations: Array<[string, string, string]> = [
    ['https://h.example.com/gitlab', 'https://h.example.com/gitlab/org/repo?x=1', `${base}/org/repo?x=1`],
    ['https://h.example.com/gitlab', '/gitlab/users/sign_in', `${base}/users/sign_in`],
    ['https://h.example.com/gitlab', '/other/place', 'https://h.example.com/other/place'],
    ['https://h.example.com/gitlab', 'https://cdn.example.com/blob?sig=abc', 'https://cdn.example.com/blob?sig=abc'],
    ['https://h.example.com', 'relative/path', 'relative/path'],
    ['https://h.example.com', 'HTTPS://H.EXAMPLE.COM:443/x', `${base}/x`],
    ['https://h.example.com', 'http://h.example.com/x', 'http://h.example.com/x'],
  ];
  for (const [address, loc, want] of locations)
    it(`rewriteLocation(${loc})`, () => expect(rewriteLocation(loc, address, base)).to.equal(want));

  it('matchTarget: scheme, host, port and path prefix; the longest prefix wins; extensions count', () => {
    const cs = [
      connector('ns1', 'a', 'https://github.com'),
      connector('ns2', 'b', 'https://tool.example.com/gitlab', ['https://api.tool.example.com']),
      connector('ns3', 'c', 'https://tool.example.com/gitlab/deeper'),
    ];
    const m = (u: string) => matchTarget(new URL(u), cs)?.metadata.name;
    expect(m('https://github.com/org/repo')).to.equal('a');
    expect(m('https://github.com:443/org/repo')).to.equal('a');
    expect(m('http://github.com/org/repo')).to.equal(undefined);
    expect(m('https://github.com:8443/org')).to.equal(undefined);
    expect(m('https://example.org/')).to.equal(undefined);
    expect(m('https://tool.example.com/gitlab/x')).to.equal('b');
    expect(m('https://tool.example.com/gitlabx')).to.equal(undefined);
    expect(m('https://tool.example.com/gitlab/deeper/y')).to.equal('c');
    expect(m('https://api.tool.example.com/v4')).to.equal('b');
  });

  it('planInjection by Secret type', () => {
    const sec = (type: string, data: Record<string, string>): V1Secret => ({
      type,
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
    const c = connector('ns', 'c', 'https://h', [], 's');
    expect(
      planInjection(c, undefined, sec('kubernetes.io/basic-auth', { username: 'u', password: 'p' })),
    ).to.deep.equal({ kind: 'headers', headers: { authorization: 'Basic dTpw' } });
    expect(planInjection(c, undefined, sec('connectors.cpaas.io/bearer-token', { token: 't' }))).to.deep.equal({
      kind: 'headers',
      headers: { authorization: 'Bearer t' },
    });
    expect(planInjection(connector('ns', 'c', 'https://h'), undefined, undefined)).to.deep.equal({ kind: 'none' });
    expect(planInjection(c, undefined, undefined)).to.include({ kind: 'error' });
    expect(planInjection(c, undefined, sec('Opaque', { k: 'v' }))).to.include({ kind: 'error' });
    const klass = {
      apiVersion: 'connectors.alauda.io/v1alpha1',
      kind: 'ConnectorClass',
      metadata: { name: 'git' },
      spec: { auth: { types: [{ name: 'basicAuth', secretType: 'Opaque', generator: { rego: 'package proxy' } }] } },
    } as any;
    expect(planInjection(c, klass, sec('Opaque', { k: 'v' }))).to.deep.equal({
      kind: 'generator',
      rego: 'package proxy',
      authType: 'basicAuth',
      data: { k: 'v' },
    });
    const cross = connector('ns', 'c', 'https://h');
    cross.spec.auth = { name: 'basicAuth', secretRef: { name: 's', namespace: 'other' } };
    expect(
      planInjection(cross, undefined, sec('kubernetes.io/basic-auth', { username: 'u', password: 'p' })),
    ).to.include({ kind: 'error' });
  });
});
