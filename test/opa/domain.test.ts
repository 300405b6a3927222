// The domain wrappers: generator result validation and injection, authExtractor, permissions,
// and the `input.request` shape.
import assert from 'node:assert/strict';
import { ensureBinary } from '../../core/peers/index.ts';
import {
  AuthExtractorError,
  AuthInjectionError,
  PermissionsPolicyError,
  RegoCompileError,
  applyAuthInjection,
  authExtractorPolicy,
  canonicalHeaderKey,
  generatorInput,
  generatorPolicy,
  permissionsPolicy,
  regoRequest,
  toAuthInjection,
  type AuthInjection,
  type InjectableRequest,
} from '../../core/opa/index.ts';

describe('opa: generator results', function () {
  this.timeout(600_000);
  before(async () => {
    await ensureBinary('opa');
  });

  const invalid: { name: string; result: unknown; message: RegExp }[] = [
    { name: 'undefined auth', result: undefined, message: /^generator\.rego produced no "auth" object/ },
    {
      name: 'a string',
      result: 'x',
      message: /"auth" must be an object \{position, contentType\?, auth\}, got a string/,
    },
    {
      name: 'an unknown position',
      result: { position: 'x', auth: {} },
      message: /^generator\.rego: position "x" is not one of header, query, body$/,
    },
    {
      name: 'no position',
      result: { auth: {} },
      message: /^generator\.rego: the result has no "position" \(one of header, query, body\)$/,
    },
    { name: 'no auth map', result: { position: 'header' }, message: /the result has no "auth" map/ },
    {
      name: 'a list as auth',
      result: { position: 'header', auth: ['a'] },
      message: /"auth" must be a map of strings, got an array/,
    },
    {
      name: 'an object value',
      result: { position: 'header', auth: { X: { a: 1 } } },
      message: /auth\["X"\] must be a string, number or boolean, got an object/,
    },
    {
      name: 'a null value',
      result: { position: 'header', auth: { X: null } },
      message: /auth\["X"\] must be a string, number or boolean, got null/,
    },
    {
      name: 'a numeric contentType',
      result: { position: 'body', contentType: 1, auth: {} },
      message: /contentType must be a string/,
    },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () =>
      assert.throws(
        () => toAuthInjection(c.result),
        (e: Error) => e instanceof AuthInjectionError && c.message.test(e.message),
      ));
  }

  it('stringifies numbers and booleans as their JSON text', () => {
    assert.deepEqual(toAuthInjection({ position: 'query', auth: { n: 42, f: 1.5, b: true, s: 'x' } }), {
      position: 'query',
      auth: { n: '42', f: '1.5', b: 'true', s: 'x' },
    });
  });

  it('a policy whose auth is undefined for the input gives the clear error', async () => {
    const g = await generatorPolicy(
      'package proxy\nauth = {"position": "header", "auth": {"X-Token": input.data.token}}\n',
    );
    assert.throws(() => g.generate({ other: 'x' }), /^AuthInjectionError: generator\.rego produced no "auth" object/);
  });

  it('a policy that does not compile rejects with RegoCompileError', async () => {
    await assert.rejects(
      generatorPolicy('package proxy\nauth = {'),
      (e: Error) => e instanceof RegoCompileError && /^generator\.rego:\d+: rego_parse_error/.test(e.message),
    );
  });

  it('input: data, request, and the legacy top-level secret keys that do not collide', () => {
    const request = regoRequest({ method: 'get', path: '/' });
    assert.deepEqual(generatorInput({ token: 't', data: 'd', request: 'r' }, request), {
      token: 't',
      data: { token: 't', data: 'd', request: 'r' },
      request,
    });
  });

  it('the generator sees the backend request', async () => {
    const g = await generatorPolicy(`package proxy
signed := concat("\\n", [input.request.method, input.request.path, input.request.query.page[0]])
auth := {"position": "header", "auth": {"X-Sig": hmac.sha256(input.data.key, signed)}}
`);
    const out = g.generate({ key: 'k' }, regoRequest({ method: 'post', path: '/v1/x?page=3', headers: { host: 'h' } }));
    assert.equal(out.auth['X-Sig'].length, 64);
  });
});

describe('opa: applyAuthInjection', () => {
  const req = (over: Partial<InjectableRequest> = {}): InjectableRequest => ({
    headers: { host: 'h' },
    query: '',
    ...over,
  });
  const cases: {
    name: string;
    req: InjectableRequest;
    inj: AuthInjection;
    want: Partial<{ headers: object; query: string; body: string }>;
  }[] = [
    {
      name: 'header added',
      req: req(),
      inj: { position: 'header', auth: { 'PRIVATE-TOKEN': 'p' } },
      want: { headers: { host: 'h', 'PRIVATE-TOKEN': 'p' } },
    },
    {
      name: 'header replaced case-insensitively',
      req: req({ headers: { 'private-token': 'sa', a: 'b' } }),
      inj: { position: 'header', auth: { 'Private-Token': 'p' } },
      want: { headers: { a: 'b', 'Private-Token': 'p' } },
    },
    {
      name: 'query on an empty query',
      req: req(),
      inj: { position: 'query', auth: { api_key: 'a b' } },
      want: { query: 'api_key=a+b' },
    },
    {
      name: 'query replaces and keeps others raw',
      req: req({ query: 'x=%7e&api_key=1&api_key=2&y' }),
      inj: { position: 'query', auth: { api_key: 'k' } },
      want: { query: 'x=%7e&y&api_key=k' },
    },
    {
      name: 'JSON body created when empty',
      req: req(),
      inj: { position: 'body', contentType: 'application/json', auth: { u: 'x' } },
      want: { body: '{"u":"x"}', headers: { host: 'h', 'Content-Length': '9', 'Content-Type': 'application/json' } },
    },
    {
      name: 'JSON body merged, auth wins, charset kept',
      req: req({
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'transfer-encoding': 'chunked' },
        body: Buffer.from('{"u":"old","n":1}'),
      }),
      inj: { position: 'body', contentType: 'application/json', auth: { u: 'new' } },
      want: {
        body: '{"u":"new","n":1}',
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': '17' },
      },
    },
    {
      name: 'form body merged (content type from the request)',
      req: req({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from('grant_type=password&password=old'),
      }),
      inj: { position: 'body', auth: { password: 'p w', client_id: 'c' } },
      want: { body: 'grant_type=password&password=p+w&client_id=c' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = applyAuthInjection(c.req, c.inj);
      if (c.want.headers) assert.deepEqual(out.headers, c.want.headers);
      if (c.want.query !== undefined) assert.equal(out.query, c.want.query);
      if (c.want.body !== undefined) assert.equal(out.body?.toString(), c.want.body);
    });
  }

  const failures: { name: string; req: InjectableRequest; inj: AuthInjection; message: RegExp }[] = [
    {
      name: 'JSON array body',
      req: req({ headers: { 'content-type': 'application/json' }, body: Buffer.from('[1]') }),
      inj: { position: 'body', auth: { a: 'b' } },
      message: /JSON request body is an array/,
    },
    {
      name: 'invalid JSON body',
      req: req({ headers: { 'content-type': 'application/json' }, body: Buffer.from('{') }),
      inj: { position: 'body', auth: { a: 'b' } },
      message: /not valid JSON/,
    },
    {
      name: 'mismatched content types',
      req: req({ headers: { 'content-type': 'text/plain' }, body: Buffer.from('x') }),
      inj: { position: 'body', contentType: 'application/json', auth: { a: 'b' } },
      message: /cannot merge application\/json auth fields into a text\/plain request body/,
    },
    {
      name: 'unsupported content type',
      req: req(),
      inj: { position: 'body', contentType: 'text/xml', auth: { a: 'b' } },
      message: /supports application\/json and application\/x-www-form-urlencoded, not "text\/xml"/,
    },
  ];
  for (const f of failures)
    it(`rejects ${f.name}`, () => assert.throws(() => applyAuthInjection(f.req, f.inj), f.message));

  it('does not modify its argument', () => {
    const r = req({ headers: { a: 'b' }, query: 'q=1' });
    const copy = structuredClone(r);
    applyAuthInjection(r, { position: 'header', auth: { a: 'c' } });
    applyAuthInjection(r, { position: 'query', auth: { q: '2' } });
    applyAuthInjection(r, { position: 'body', auth: { x: 'y' } });
    assert.deepEqual(r, copy);
  });
});

describe('opa: input.request', () => {
  const keys: [string, string][] = [
    ['private-token', 'Private-Token'],
    ['PRIVATE-TOKEN', 'Private-Token'],
    ['x-api-key', 'X-Api-Key'],
    ['content-type', 'Content-Type'],
    ['bad key', 'bad key'],
  ];
  for (const [k, want] of keys)
    it(`canonical header key ${JSON.stringify(k)} → ${JSON.stringify(want)}`, () =>
      assert.equal(canonicalHeaderKey(k), want));

  it('headers and query as lists, JSON body parsed, path without query, host from Host', () => {
    assert.deepEqual(
      regoRequest({
        method: 'post',
        path: '/a/b?x=1&x=2&y=%20',
        headers: ['Host', 'tool', 'accept', 'a', 'Accept', 'b', 'content-type', 'application/json'],
        body: '{"k":[1]}',
      }),
      {
        method: 'POST',
        path: '/a/b',
        host: 'tool',
        headers: { Host: ['tool'], Accept: ['a', 'b'], 'Content-Type': ['application/json'] },
        query: { x: ['1', '2'], y: [' '] },
        body: { k: [1] },
      },
    );
  });

  it('null headers, null query and null body when absent; non-JSON bodies as text', () => {
    assert.deepEqual(regoRequest({ method: 'GET', path: '/' }), {
      method: 'GET',
      path: '/',
      host: '',
      headers: null,
      query: null,
      body: null,
    });
    assert.equal(
      regoRequest({ method: 'POST', path: '/', headers: { 'content-type': 'text/plain' }, body: Buffer.from('hi') })
        .body,
      'hi',
    );
  });
});

describe('opa: authExtractor', function () {
  this.timeout(600_000);
  before(async () => {
    await ensureBinary('opa');
  });

  // v0 style, as a ConnectorClass would ship it; survives null headers.
  const privateToken = `package proxy

auth = {"token": token} {
  token := input.request.headers["Private-Token"][0]
}
`;
  const cases: { name: string; headers?: Record<string, string>; want: string }[] = [
    { name: 'reads Private-Token (sent lower case)', headers: { 'private-token': 'sa-token' }, want: 'sa-token' },
    { name: 'reads PRIVATE-TOKEN', headers: { 'PRIVATE-TOKEN': 'sa-2' }, want: 'sa-2' },
    { name: 'is "" when the header is absent', headers: { accept: '*/*' }, want: '' },
    { name: 'is "" with no headers at all (null)', want: '' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const x = await authExtractorPolicy(privateToken);
      assert.equal(x.extract(regoRequest({ method: 'GET', path: '/api/v4/projects', headers: c.headers })), c.want);
    });
  }

  it('an explicit "" default with v1 syntax and a query fallback', async () => {
    const x = await authExtractorPolicy(`package proxy
default auth := {"token": ""}
auth := {"token": t} if { t := input.request.query.private_token[0] }
`);
    assert.equal(x.extract(regoRequest({ method: 'GET', path: '/?private_token=q' })), 'q');
    assert.equal(x.extract(regoRequest({ method: 'GET', path: '/' })), '');
  });

  it('a list token is an error with a hint', async () => {
    const x = await authExtractorPolicy('package proxy\nauth := {"token": input.request.headers["Private-Token"]}\n');
    assert.throws(
      () => x.extract(regoRequest({ method: 'GET', path: '/', headers: { 'private-token': 't' } })),
      (e: Error) =>
        e instanceof AuthExtractorError &&
        /"token" must be a string, got an array \(header and query values are lists/.test(e.message),
    );
  });
});

describe('opa: permissions', function () {
  this.timeout(600_000);
  before(async () => {
    await ensureBinary('opa');
  });

  const gitClass = 'package permissions\n\nresult := {"verb": "read"}\n';
  const byPath = `package permissions
import rego.v1
default result := {"verb": ""}
result := {"verb": "write"} if {
  input.request.method == "POST"
  startswith(input.request.path, "/api/v4/projects")
  input.request.body.name != ""
}
`;
  const cases: { name: string; rego: string; method: string; path: string; body?: string; want: string }[] = [
    {
      name: 'git class: POST /git-upload-pack is read',
      rego: gitClass,
      method: 'POST',
      path: '/repo.git/git-upload-pack',
      want: 'read',
    },
    {
      name: 'JSON body decides write',
      rego: byPath,
      method: 'POST',
      path: '/api/v4/projects',
      body: '{"name":"p"}',
      want: 'write',
    },
    { name: 'default "" falls back', rego: byPath, method: 'GET', path: '/api/v4/projects', want: '' },
    {
      name: 'undefined result is ""',
      rego: 'package permissions\nresult := {"verb": "read"} if input.request.method == "HEAD"\n',
      method: 'GET',
      path: '/',
      want: '',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const p = await permissionsPolicy(c.rego);
      assert.equal(
        p.verb(
          regoRequest({
            method: c.method,
            path: c.path,
            headers: { 'content-type': 'application/json' },
            body: c.body,
          }),
        ),
        c.want,
      );
    });
  }

  it('an unknown verb is an error', async () => {
    const p = await permissionsPolicy('package permissions\nresult := {"verb": "admin"}\n');
    assert.throws(
      () => p.verb(regoRequest({ method: 'GET', path: '/' })),
      (e: Error) =>
        e instanceof PermissionsPolicyError && /verb "admin" is not one of read, write, delete or ""/.test(e.message),
    );
  });
});
