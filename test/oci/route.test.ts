// Pure decisions of the OCI handling: routing, scopes, name mapping, URL rewriting, challenge parsing.
import { expect } from 'chai';
import {
  mapUpstreamQuery,
  ociRoute,
  parseChallenge,
  prefixNames,
  requiredScopes,
  rewriteLink,
  rewriteRegistryUrl,
} from '../../proxy/oci/route.ts';

describe('proxy/oci: routing and rewriting (pure)', () => {
  const oci = (ns: string, name: string) => ns === 'ns' && name === 'reg';

  const routes: Array<[string | undefined, string, unknown]> = [
    [undefined, '/v2/', { kind: 'base' }],
    [undefined, '/v2', { kind: 'base' }],
    [undefined, '/v2/library/busybox/manifests/latest', { kind: 'base' }],
    [
      undefined,
      '/v2/namespaces/ns/connectors/reg/team/app/manifests/v1',
      {
        kind: 'connector',
        namespace: 'ns',
        name: 'reg',
        clientBase: '/v2/namespaces/ns/connectors/reg/',
        namePrefix: 'namespaces/ns/connectors/reg/',
        upstream: '/v2/team/app/manifests/v1',
      },
    ],
    [
      undefined,
      '/v2/namespaces/ns/connectors/reg/_catalog?n=1',
      {
        kind: 'connector',
        namespace: 'ns',
        name: 'reg',
        clientBase: '/v2/namespaces/ns/connectors/reg/',
        namePrefix: 'namespaces/ns/connectors/reg/',
        upstream: '/v2/_catalog?n=1',
      },
    ],
    [
      undefined,
      '/v2/namespaces/ns/connectors/reg/',
      {
        kind: 'connector',
        namespace: 'ns',
        name: 'reg',
        clientBase: '/v2/namespaces/ns/connectors/reg/',
        namePrefix: 'namespaces/ns/connectors/reg/',
        upstream: '/v2/',
      },
    ],
    [
      undefined,
      '/namespaces/ns/connectors/reg/v2/team/app/tags/list',
      {
        kind: 'connector',
        namespace: 'ns',
        name: 'reg',
        clientBase: '/namespaces/ns/connectors/reg/v2/',
        namePrefix: '',
        upstream: '/v2/team/app/tags/list',
      },
    ],
    [undefined, '/namespaces/ns/connectors/git/v2/x', undefined],
    [undefined, '/namespaces/ns/connectors/reg/info/refs', undefined],
    [
      'c-reg.ns.svc:8080',
      '/v2/team/app/blobs/sha256:ab',
      {
        kind: 'connector',
        namespace: 'ns',
        name: 'reg',
        clientBase: '/v2/',
        namePrefix: '',
        upstream: '/v2/team/app/blobs/sha256:ab',
      },
    ],
  ];
  for (const [host, url, want] of routes) {
    it(`routes ${host ?? ''}${url}`, () => expect(ociRoute(host, url, oci)).to.deep.equal(want));
  }

  const scopes: Array<[string, string, string[]]> = [
    ['GET', '/v2/', []],
    ['GET', '/v2/_catalog?n=10', ['registry:catalog:*']],
    ['HEAD', '/v2/a/b/manifests/v1', ['repository:a/b:pull']],
    ['PUT', '/v2/a/manifests/blobs/manifests/v1', ['repository:a/manifests/blobs:pull,push']],
    ['PATCH', '/v2/a/blobs/uploads/uuid?_state=x', ['repository:a:pull,push']],
    ['DELETE', '/v2/a/manifests/sha256:1', ['repository:a:delete']],
    ['POST', '/v2/a/blobs/uploads/?mount=sha256:1&from=b/c', ['repository:a:pull,push', 'repository:b/c:pull']],
    ['GET', '/v2/a/referrers/sha256:1', ['repository:a:pull']],
  ];
  for (const [method, path, want] of scopes) {
    it(`needs ${JSON.stringify(want)} for ${method} ${path}`, () =>
      expect(requiredScopes(method, path)).to.deep.equal(want));
  }

  it('maps from= and last= to upstream names, leaving other Connectors alone', () => {
    expect(
      mapUpstreamQuery(
        '/v2/a/blobs/uploads/?mount=sha256:1&from=namespaces%2Fns%2Fconnectors%2Freg%2Fb',
        'namespaces/ns/connectors/reg/',
      ),
    ).to.equal('/v2/a/blobs/uploads/?mount=sha256%3A1&from=b');
    expect(
      mapUpstreamQuery(
        '/v2/a/blobs/uploads/?mount=x&from=namespaces/other/connectors/r/b',
        'namespaces/ns/connectors/reg/',
      ),
    ).to.equal('/v2/a/blobs/uploads/?mount=x&from=namespaces/other/connectors/r/b');
    expect(
      mapUpstreamQuery('/v2/_catalog?n=1&last=namespaces/ns/connectors/reg/x', 'namespaces/ns/connectors/reg/'),
    ).to.equal('/v2/_catalog?n=1&last=x');
  });

  const base = new URL('http://registry:5000');
  const locations: Array<[string, string]> = [
    [
      'http://registry:5000/v2/a/blobs/uploads/u?_state=s%3D',
      'http://proxy:8080/v2/namespaces/ns/connectors/reg/a/blobs/uploads/u?_state=s%3D',
    ],
    ['/v2/a/blobs/uploads/u?_state=s', '/v2/namespaces/ns/connectors/reg/a/blobs/uploads/u?_state=s'],
    ['https://s3.example.com/bucket/blob?sig=1', 'https://s3.example.com/bucket/blob?sig=1'],
    ['http://registry:5000/other/path', 'http://registry:5000/other/path'],
    ['relative', 'relative'],
  ];
  for (const [loc, want] of locations) {
    it(`rewrites Location ${loc}`, () =>
      expect(rewriteRegistryUrl(loc, base, '/v2/namespaces/ns/connectors/reg/', 'http://proxy:8080')).to.equal(want));
  }

  it('rewrites Link URLs', () => {
    expect(
      rewriteLink('</v2/a/tags/list?n=1&last=b>; rel="next"', (u) =>
        rewriteRegistryUrl(u, base, '/v2/p/', 'http://proxy'),
      ),
    ).to.equal('</v2/p/a/tags/list?n=1&last=b>; rel="next"');
  });

  it('parses registry challenges', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
      ),
    ).to.deep.equal({
      scheme: 'bearer',
      realm: 'https://auth.example.com/token',
      service: 'registry.example.com',
      scope: 'repository:a/b:pull,push',
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).to.deep.equal({ scheme: 'basic' });
    expect(parseChallenge(['Basic realm="x"', 'Bearer realm="https://t/token"'])?.scheme).to.equal('bearer');
    expect(parseChallenge(undefined)).to.equal(undefined);
  });

  it('prefixes repository names in catalog and tag list bodies', () => {
    expect(
      JSON.parse(prefixNames(Buffer.from('{"repositories":["a","b/c"]}'), 'catalog', 'p/')!.toString()),
    ).to.deep.equal({ repositories: ['p/a', 'p/b/c'] });
    expect(JSON.parse(prefixNames(Buffer.from('{"name":"a","tags":["v1"]}'), 'tags', 'p/')!.toString())).to.deep.equal({
      name: 'p/a',
      tags: ['v1'],
    });
    expect(prefixNames(Buffer.from('{"name":"a"}'), 'tags', '')).to.equal(undefined);
  });
});
