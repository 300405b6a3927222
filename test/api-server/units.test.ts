// The Connectors API's pure decisions, table-driven: routes, OpenAPI operation matching and address selection,
// the verb mapping and the connectors/apis levels, Status objects, the plugin headers (the reference's own
// encoded examples), lists and pagination, and a tool's Location without a credential injected into the query.
import { expect } from 'chai';
import { parseApiRoute } from '../../api/route.ts';
import { matchOperation, OpenApiError, operationMethod, selectAddress } from '../../api/openapi.ts';
import { apisSubresources, methodVerb, policyVerb } from '../../api/permissions.ts';
import { bearerToken } from '../../api/handler.ts';
import { accessJson } from '../../api/access-log.ts';
import { connectorApiPath } from '../../core/connector/api-path.ts';
import { withoutQueryValues } from '../../core/connector/upstream-url.ts';
import { failure, statusReason } from '../../core/plugin/status.ts';
import { pluginHeaders, readPluginHeaders, PluginHeaderError } from '../../core/plugin/contract.ts';
import { paginate, parsePagination, PaginationError } from '../../core/plugin/list.ts';

describe('api: routes', () => {
  const cases: Array<[string, ReturnType<typeof parseApiRoute>]> = [
    [
      '/connectors/v1alpha1/namespaces/ns1/connectors/git/path/git/gitrefs?repositoryUrl=x',
      {
        namespace: 'ns1',
        name: 'git',
        prefix: '/connectors/v1alpha1/namespaces/ns1/connectors/git/path',
        apiPath: '/git/gitrefs',
        query: '?repositoryUrl=x',
      },
    ],
    [
      '/connectors/v1alpha1/ns1/git/path/api/v4/projects/a%2Fb/repository/branches',
      {
        namespace: 'ns1',
        name: 'git',
        prefix: '/connectors/v1alpha1/ns1/git/path',
        apiPath: '/api/v4/projects/a%2Fb/repository/branches',
        query: '',
      },
    ],
    [
      '/connectors/v1alpha1/ns1/git/path',
      { namespace: 'ns1', name: 'git', prefix: '/connectors/v1alpha1/ns1/git/path', apiPath: '/', query: '' },
    ],
    [
      '/connectors/v1alpha1/ns1/git/path?x=1',
      { namespace: 'ns1', name: 'git', prefix: '/connectors/v1alpha1/ns1/git/path', apiPath: '/', query: '?x=1' },
    ],
    // A namespace called `namespaces` in the short form is still the short form.
    [
      '/connectors/v1alpha1/namespaces/a.b/path/x',
      {
        namespace: 'namespaces',
        name: 'a.b',
        prefix: '/connectors/v1alpha1/namespaces/a.b/path',
        apiPath: '/x',
        query: '',
      },
    ],
    ['/connectors/v1alpha1/ns1/git/pathx/y', undefined],
    ['/connectors/v1alpha1/ns1/git', undefined],
    ['/connectors/v1alpha1/NS/git/path/x', undefined],
    ['/connectors/v1alpha1/ns%31/git/path/x', undefined],
    ['/connectors/v1alpha1/namespaces/ns1/connectors/git/x', undefined],
    ['/namespaces/ns1/connectors/git/path/x', undefined],
    ['/connectors/v1alpha1/-ns/git/path/x', undefined],
  ];
  for (const [url, want] of cases) it(`parseApiRoute(${url})`, () => expect(parseApiRoute(url)).to.deep.equal(want));

  it('status.api.path is the short form, which the API serves', () => {
    const path = connectorApiPath('ns1', 'git');
    expect(path).to.equal('/connectors/v1alpha1/ns1/git/path');
    expect(parseApiRoute(path + '/git/gitrefs')).to.include({ namespace: 'ns1', name: 'git', apiPath: '/git/gitrefs' });
  });

  const bearers: Array<[string | string[] | undefined, string]> = [
    ['Bearer abc.def', 'abc.def'],
    ['bearer  abc ', 'abc'],
    ['Basic OmFiYw==', ''],
    ['Bearer', ''],
    ['Bearer a b', ''],
    [undefined, ''],
    [['Bearer a', 'Bearer b'], ''],
  ];
  for (const [v, want] of bearers)
    it(`bearerToken(${JSON.stringify(v)}) is ${JSON.stringify(want)}`, () => expect(bearerToken(v)).to.equal(want));
});

describe('api: OpenAPI operations', () => {
  const openapi = {
    openapi: '3.0.3',
    paths: {
      '/git/gitrefs': { get: { 'x-provider-type': 'api', operationId: 'listGitRefs' } },
      '/projects/{id}/branches': { get: { 'x-provider-type': 'proxy', 'x-openapi-address': 'api' }, post: {} },
      '/projects/mine/branches': { get: { 'x-provider-type': 'api' } },
      '/files/{name}.json': { get: { 'x-openapi-address': 'https://files.example.com' } },
      '/bad': { get: { 'x-provider-type': 'API' } },
      'not-a-path': { get: { 'x-provider-type': 'api' } },
      '/broken': 'not an object',
    },
  };
  const cases: Array<[string, string, Partial<ReturnType<typeof matchOperation>>]> = [
    ['GET', '/git/gitrefs', { template: '/git/gitrefs', providerType: 'api', operationId: 'listGitRefs', address: '' }],
    ['HEAD', '/git/gitrefs', { template: '/git/gitrefs', providerType: 'api' }],
    ['OPTIONS', '/git/gitrefs', { template: '/git/gitrefs', providerType: 'api' }],
    // The path matches but POST has no operation there: proxy, the template still named (for RBAC).
    ['POST', '/git/gitrefs', { template: '/git/gitrefs', providerType: 'proxy', address: '' }],
    ['GET', '/git/gitrefs/', { template: undefined, providerType: 'proxy' }],
    ['GET', '/projects/42/branches', { template: '/projects/{id}/branches', providerType: 'proxy', address: 'api' }],
    ['GET', '/projects/a%2Fb/branches', { template: '/projects/{id}/branches', providerType: 'proxy' }],
    ['GET', '/projects/a/b/branches', { template: undefined, providerType: 'proxy' }],
    // Concrete before templated.
    ['GET', '/projects/mine/branches', { template: '/projects/mine/branches', providerType: 'api' }],
    ['POST', '/projects/42/branches', { template: '/projects/{id}/branches', providerType: 'proxy', address: '' }],
    ['GET', '/files/readme.json', { template: '/files/{name}.json', address: 'https://files.example.com' }],
    ['GET', '/files/.json', { template: undefined }],
    ['GET', '/unknown', { template: undefined, providerType: 'proxy', address: '' }],
    ['GET', '/broken', { template: undefined }],
  ];
  for (const [method, path, want] of cases)
    it(`${method} ${path}`, () => {
      const got = matchOperation(openapi, method, path);
      // An absent key and an undefined one are the same answer here.
      for (const [k, v] of Object.entries(want)) expect(got[k as keyof typeof got], k).to.equal(v);
    });

  it('an x-provider-type other than api or proxy is an error naming it', () => {
    expect(() => matchOperation(openapi, 'GET', '/bad')).to.throw(OpenApiError, /x-provider-type "API" of GET \/bad/);
  });
  it('no openapi, or one without paths, is the proxy for everything', () => {
    for (const doc of [undefined, null, {}, { paths: [] }, 'x'])
      expect(matchOperation(doc, 'GET', '/x')).to.deep.equal({ providerType: 'proxy', address: '' });
  });
  it('HEAD and OPTIONS read the get operation', () => {
    expect(['GET', 'HEAD', 'OPTIONS', 'POST'].map(operationMethod)).to.deep.equal(['get', 'get', 'get', 'post']);
  });

  const connector = {
    spec: {
      address: 'https://gitlab.example.com',
      addressExtensions: [{ name: 'api', value: 'https://api.example.com/v4' }],
    },
  };
  const addresses: Array<[string, string | RegExp]> = [
    ['', 'https://gitlab.example.com'],
    ['api', 'https://api.example.com/v4'],
    ['https://api.github.com', 'https://api.github.com'],
    ['http://10.0.0.1:8080/x', 'http://10.0.0.1:8080/x'],
    ['missing', /x-openapi-address "missing" names no address extension/],
    ['ftp://files.example.com', /x-openapi-address "ftp:\/\/files.example.com" is not a valid http\(s\) URL/],
    ['https://', /is not a valid http\(s\) URL/],
    ['host:8080', /is not a valid http\(s\) URL/],
  ];
  for (const [selector, want] of addresses)
    it(`x-openapi-address ${JSON.stringify(selector)}`, () => {
      if (typeof want === 'string') expect(selectAddress(selector, connector)).to.equal(want);
      else expect(() => selectAddress(selector, connector)).to.throw(OpenApiError, want);
    });
});

describe('api: verbs and connectors/apis levels', () => {
  const methods: Array<[string, string | undefined]> = [
    ['GET', 'get'],
    ['HEAD', 'get'],
    ['OPTIONS', 'get'],
    ['POST', 'create'],
    ['PUT', 'update'],
    ['DELETE', 'delete'],
    ['PATCH', 'patch'],
    ['TRACE', undefined],
    ['CONNECT', undefined],
  ];
  for (const [m, v] of methods) it(`${m} → ${v}`, () => expect(methodVerb(m)).to.equal(v));

  const policies: Array<['read' | 'write' | 'delete' | '', string, string | undefined]> = [
    ['read', 'POST', 'get'],
    ['read', 'DELETE', 'get'],
    ['write', 'POST', 'create'],
    ['write', 'PUT', 'update'],
    ['write', 'PATCH', 'patch'],
    ['write', 'GET', 'update'],
    ['write', 'DELETE', 'update'],
    ['delete', 'POST', 'delete'],
    ['', 'POST', 'create'],
    ['', 'GET', 'get'],
  ];
  for (const [verb, method, want] of policies)
    it(`permissions.rego verb ${JSON.stringify(verb)} on ${method} → ${want}`, () =>
      expect(policyVerb(verb, method)).to.equal(want));

  it('connectors/apis, then the class, then the class and the path template', () => {
    expect(apisSubresources('gitlab', '/api/v4/projects/{project_id}/repository/branches')).to.deep.equal([
      'apis',
      'apis/gitlab',
      'apis/gitlab/api/v4/projects/{project_id}/repository/branches',
    ]);
    expect(apisSubresources('git', undefined)).to.deep.equal(['apis', 'apis/git']);
  });
});

describe('api: Status, plugin headers, lists', () => {
  it('the reference example Status', () => {
    expect(failure(400, "api address of connectorclass 'git-noapi' is not resolved")).to.deep.equal({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: "api address of connectorclass 'git-noapi' is not resolved",
      reason: 'BadRequest',
      code: 400,
    });
    const reasons = [401, 403, 404, 405, 413, 500, 502, 503, 504, 418, 599].map(statusReason);
    expect(reasons).to.deep.equal([
      'Unauthorized',
      'Forbidden',
      'NotFound',
      'MethodNotAllowed',
      'RequestEntityTooLarge',
      'InternalError',
      'BadGateway',
      'ServiceUnavailable',
      'Timeout',
      'BadRequest',
      'InternalError',
    ]);
  });

  it('the plugin headers encode as the reference documents (its own examples)', () => {
    const h = pluginHeaders('http://github.com', {
      type: 'kubernetes.io/basic-auth',
      data: { username: 'YWRtaW4=', password: 'c2VjcmV0' },
    });
    expect(h).to.deep.equal({
      'x-plugin-meta': 'eyJiYXNlVVJMIjoiaHR0cDovL2dpdGh1Yi5jb20ifQ==',
      'x-plugin-auth': 'a3ViZXJuZXRlcy5pby9iYXNpYy1hdXRo',
      'x-plugin-secret': 'eyJ1c2VybmFtZSI6IllXUnRhVzQ9IiwicGFzc3dvcmQiOiJjMlZqY21WMCJ9',
    });
    expect(readPluginHeaders(h)).to.deep.equal({
      baseURL: 'http://github.com',
      secretType: 'kubernetes.io/basic-auth',
      data: { username: 'admin', password: 'secret' },
    });
    expect(pluginHeaders('https://h', undefined)).to.have.keys('x-plugin-meta');
  });

  const badHeaders: Array<[Record<string, string>, RegExp]> = [
    [{}, /x-plugin-meta is required/],
    [{ 'x-plugin-meta': 'bm90IGpzb24=' }, /x-plugin-meta is not base64 of JSON/],
    [{ 'x-plugin-meta': Buffer.from('{"baseURL":1}').toString('base64') }, /must hold \{"baseURL"/],
    [
      {
        'x-plugin-meta': Buffer.from('{"baseURL":"https://h"}').toString('base64'),
        'x-plugin-secret': Buffer.from('[1]').toString('base64'),
      },
      /JSON object of base64 values/,
    ],
    [
      {
        'x-plugin-meta': Buffer.from('{"baseURL":"https://h"}').toString('base64'),
        'x-plugin-secret': Buffer.from('{"a":1}').toString('base64'),
      },
      /value of "a" is not a string/,
    ],
  ];
  for (const [headers, want] of badHeaders)
    it(`readPluginHeaders refuses ${want}`, () =>
      expect(() => readPluginHeaders(headers)).to.throw(PluginHeaderError, want));

  const items = ['a', 'b', 'c', 'd', 'e'];
  const pages: Array<[string, string[] | RegExp, number?]> = [
    ['', items],
    ['itemsPerPage=2', ['a', 'b']],
    ['page=2&itemsPerPage=2', ['c', 'd']],
    ['page=3&itemsPerPage=2', ['e']],
    ['page=4&itemsPerPage=2', []],
    ['page=2', []],
    ['page=0', /page must be a whole number from 1, got "0"/],
    ['itemsPerPage=-1', /itemsPerPage must be a whole number from 1/],
    ['itemsPerPage=1.5', /itemsPerPage must be a whole number/],
    ['page=1&page=2', /page is given 2 times/],
  ];
  for (const [q, want] of pages)
    it(`pagination ${JSON.stringify(q)}`, () => {
      const query = new URLSearchParams(q);
      if (want instanceof RegExp) expect(() => parsePagination(query)).to.throw(PaginationError, want);
      else expect(paginate(items, parsePagination(query))).to.deep.equal({ listMeta: { totalItems: 5 }, items: want });
    });

  it('the access line holds no query and escapes what JSON must', () => {
    const line = accessJson({
      connector: 'ns/c',
      user: 'system:serviceaccount:ns:sa',
      method: 'GET',
      path: '/connectors/v1alpha1/ns/c/path/x?private_token=secret',
      status: 200,
      provider: 'proxy',
      template: '/x',
      durationMs: 1.23456,
      reason: 'a "quoted" reason',
    });
    const parsed = JSON.parse(`{${line}}`);
    expect(parsed).to.deep.equal({
      connector: 'ns/c',
      user: 'system:serviceaccount:ns:sa',
      method: 'GET',
      path: '/connectors/v1alpha1/ns/c/path/x',
      status: 200,
      provider: 'proxy',
      durationMs: 1.23,
      template: '/x',
      reason: 'a "quoted" reason',
    });
  });

  const locations: Array<[string, string[] | undefined, string]> = [
    ['http://api/x/?q=1&api_key=K', ['K'], 'http://api/x/?q=1'],
    ['/x?api_key=K', ['K'], '/x'],
    ['/x?api_key=K#frag', ['K'], '/x#frag'],
    ['https://elsewhere/x?a=%4B&b=2', ['K'], 'https://elsewhere/x?b=2'],
    ['/x?token=a+b&c=a%20b&d=ab', ['a b'], '/x?d=ab'],
    ['/x?q=%zz&k=K', ['K'], '/x?q=%zz'],
    ['/x?q=1&flag&=&k=K', ['K'], '/x?q=1&flag&='],
    ['/x?q=K', undefined, '/x?q=K'],
    ['/x?q=', [''], '/x?q='],
    ['/x#a?k=K', ['K'], '/x#a?k=K'],
  ];
  for (const [location, values, want] of locations)
    it(`Location ${location} without ${JSON.stringify(values)} → ${want}`, () =>
      expect(withoutQueryValues(location, values)).to.equal(want));
});
