// The Connectors API end to end: the real apiserver's RBAC, the controller, a real git server (git http-backend
// behind apache with basic auth), the git plugin, recording upstreams as tools and class APIs, ServiceAccount
// tokens from `kubectl create token`, requests made with curl. Each test sets the feature flags it needs.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  startGitServer,
  type GitServer,
  startRecordingUpstream,
  type RecordingUpstream,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  eventually,
  seedGenerators,
  objects,
} from '@connectors/test-support';
import { FEATURE_FLAGS } from '../../core/api/index.ts';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import { startApi } from '../../api/index.ts';
import { startGitPlugin } from '../../plugins/git/index.ts';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import { curl, setupApi, type ApiEnv } from './fixture.ts';

const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

describe('api: the Connectors API against a real cluster, git server and tools', function () {
  this.timeout(240_000);
  const sfx = randomBytes(3).toString('hex');
  const TOOL_CLASS = `tool-${sfx}`;
  const NOAPI_CLASS = `git-noapi-${sfx}`;
  const REGO_CLASS = `rego-${sfx}`;
  const APIKEY_CLASS = `apikey-${sfx}`;
  const API_KEY = 'key-' + randomBytes(8).toString('hex');
  const GIT_USER = 'robot';
  const GIT_PASS = 'pw-' + randomBytes(8).toString('hex');
  const TOOL_PASS = 'tool-' + randomBytes(8).toString('hex');
  let env: ApiEnv;
  let git: GitServer;
  let tool: RecordingUpstream;
  let ext: RecordingUpstream;
  let classApi: RecordingUpstream;
  const tokens: Record<string, string> = {};
  let refsWanted: Array<{ name: string; commitID: string }>;
  const gitServer = () => git;

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    git = await startGitServer({ users: { [GIT_USER]: GIT_PASS } });
    const repo = await git.createRepo('org/private.git');
    const gitDir = ['--git-dir', repo.dir];
    const gitEnv = { ...process.env, GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
    await runCommand('git', [...gitDir, 'branch', 'feature/login', 'main']);
    await runCommand('git', [...gitDir, 'tag', 'v1.0.0', 'main']);
    await runCommand('git', [...gitDir, 'tag', '-a', 'v2.0.0', '-m', 'release', 'main'], { env: gitEnv });
    await runCommand('chown', ['-R', `--reference=${repo.dir}`, repo.dir]);
    const tagObject = (await runCommand('git', [...gitDir, 'rev-parse', 'refs/tags/v2.0.0'])).stdout.trim();
    expect(tagObject).to.not.equal(repo.head); // an annotated tag: its own object, peeled to the commit
    refsWanted = [
      { name: 'refs/heads/feature/login', commitID: repo.head! },
      { name: 'refs/heads/main', commitID: repo.head! },
      { name: 'refs/tags/v1.0.0', commitID: repo.head! },
      { name: 'refs/tags/v2.0.0', commitID: repo.head! },
    ];
    tool = await startRecordingUpstream();
    ext = await startRecordingUpstream();
    classApi = await startRecordingUpstream();
    env = await setupApi('api');
    await env.apply(
      `apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata: {name: ${TOOL_CLASS}}
spec:
  address: {type: string}
  auth: {types: [{name: basicAuth, secretType: kubernetes.io/basic-auth, optional: true}]}
  api:
    uri: ${classApi.url}
    openapi:
      openapi: 3.0.3
      info: {title: tool, version: v1}
      paths:
        /things/{id}:
          get: {x-provider-type: proxy}
        /ext/things:
          get: {x-provider-type: proxy, x-openapi-address: api}
        /direct/things:
          get: {x-provider-type: proxy, x-openapi-address: "${ext.url}"}
        /missing/things:
          get: {x-provider-type: proxy, x-openapi-address: missing}
        /ftp/things:
          get: {x-provider-type: proxy, x-openapi-address: "ftp://files.example.com"}
        /custom/things:
          get: {x-provider-type: api, operationId: listThings}
          post: {x-provider-type: api}
---
apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata: {name: ${NOAPI_CLASS}}
spec:
  address: {type: string}
  api:
    openapi:
      openapi: 3.0.3
      paths:
        /noapi/things:
          get: {x-provider-type: api}
---
apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata: {name: ${REGO_CLASS}}
spec:
  address: {type: string}
  auth: {types: [{name: basicAuth, secretType: kubernetes.io/basic-auth, optional: true}]}
  api:
    permissions:
      rego: |
        package permissions
        result := {"verb": "read"} if {
          input.request.method == "POST"
          startswith(input.request.path, "/search")
        } else := {"verb": "delete"} if {
          startswith(input.request.path, "/purge")
        } else := {"verb": ""}
---
${objects.yaml(
  objects.connectorClass(APIKEY_CLASS, {
    address: { type: 'string' },
    auth: { types: [objects.regoAuthType('apikey-rego-auth', seedGenerators().get('apikey-rego-auth')!.rego)] },
  }),
)}`,
      'default',
    );
    const toolAuth = { name: 'basicAuth', secret: 'tool-creds' };
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('git-creds', GIT_USER, GIT_PASS),
        objects.basicAuthSecret('tool-creds', 'tool-user', TOOL_PASS),
        objects.connector('git', {
          className: 'git',
          address: git.url,
          auth: { name: 'basicAuth', secret: 'git-creds', params: { repository: 'org/private.git' } },
        }),
        objects.connector('tool', {
          className: TOOL_CLASS,
          address: tool.url,
          addressExtensions: { api: ext.url },
          auth: toolAuth,
        }),
        objects.connector('noapi', { className: NOAPI_CLASS, address: tool.url }),
        objects.connector('rego', { className: REGO_CLASS, address: tool.url, auth: toolAuth }),
        objects.opaqueSecret('apikey', { apikey: API_KEY }),
        objects.connector('apikey', {
          className: APIKEY_CLASS,
          address: tool.url,
          auth: { name: 'apikey-rego-auth', secret: 'apikey' },
        }),
      ),
    );
    const get = { resources: ['connectors'], verbs: ['get'] };
    tokens.reader = await env.serviceAccount('reader', [get]);
    tokens.outsider = await env.serviceAccount('outsider', []);
    tokens.gitApis = await env.serviceAccount('git-apis', [
      get,
      { resources: ['connectors/apis/git'], verbs: ['get'] },
    ]);
    tokens.template = await env.serviceAccount('template', [
      get,
      { resources: [`connectors/apis/${TOOL_CLASS}/things/{id}`], verbs: ['get'] },
    ]);
    tokens.regoGet = await env.serviceAccount('rego-get', [
      get,
      { resources: [`connectors/apis/${REGO_CLASS}`], verbs: ['get'] },
    ]);
    for (const verb of ['get', 'create', 'update', 'delete', 'patch'])
      tokens[verb] = await env.serviceAccount(`verb-${verb}`, [
        get,
        { resources: [`connectors/apis/${TOOL_CLASS}`], verbs: [verb] },
      ]);
    await env.setFlags([]);
    const policiesReady = async (cls: string) =>
      JSON.parse(await env.c.kubectl(['get', 'connectorclass', cls, '-o', 'json'])).status?.conditions?.some(
        (c: any) => c.type === 'PoliciesReady' && c.status === 'True' && c.reason !== 'NoPolicies',
      );
    await eventually('the controller to resolve the class APIs and the Connectors API paths', async () => {
      const cls = JSON.parse(await env.c.kubectl(['get', 'connectorclass', 'git', '-o', 'json']));
      const tc = JSON.parse(await env.c.kubectl(['get', 'connectorclass', TOOL_CLASS, '-o', 'json']));
      const cs = JSON.parse(await env.c.kubectl(['get', 'connectors', '-n', env.ns, '-o', 'json']));
      return (
        cls.status?.api?.address?.url === env.plugin.url &&
        tc.status?.api?.address?.url === classApi.url &&
        cs.items.length === 5 &&
        cs.items.every((c: any) => c.status?.api?.path) &&
        (await policiesReady(REGO_CLASS)) &&
        (await policiesReady(APIKEY_CLASS))
      );
    });
  });

  after(async () => {
    await env?.stop();
    await env?.c.kubectl([
      'delete',
      'connectorclass',
      TOOL_CLASS,
      NOAPI_CLASS,
      REGO_CLASS,
      APIKEY_CLASS,
      '--ignore-not-found',
    ]);
    await git?.stop();
    await tool?.stop();
    await ext?.stop();
    await classApi?.stop();
  });

  it(
    "sets a git Connector's status.api.path; GET …/git/gitrefs lists the branches and tags of a private repository, " +
      'the caller holding only a ServiceAccount token',
    async () => {
      const conn = JSON.parse(await env.c.kubectl(['get', 'connector', 'git', '-n', env.ns, '-o', 'json']));
      expect(conn.status.api).to.deep.equal({ path: `/connectors/v1alpha1/${env.ns}/git/path` });
      await git.clearRequests();
      const repositoryUrl = encodeURIComponent(`${git.url}/org/private.git`);
      const r = await env.curl(`${conn.status.api.path}/git/gitrefs?repositoryUrl=${repositoryUrl}`, {
        token: tokens.reader,
      });
      expect(r.status, r.body).to.equal(200);
      expect(r.headers['content-type']).to.match(/^application\/json/);
      const list = r.json();
      expect(list.listMeta).to.deep.equal({ totalItems: 4 });
      expect([...list.items].sort((a: any, b: any) => a.name.localeCompare(b.name))).to.deep.equal(refsWanted);
      expect(r.body).to.not.include(GIT_PASS);
      // The git server saw the Connector's credentials (the plugin's), never the caller's token.
      // (The controller's probes may come meanwhile: the plugin's requests are those with its User-Agent.)
      const seen = (await git.requests()).filter((q) => q.headers['user-agent']?.includes('connectors-git-plugin'));
      expect(seen.map((q) => `${q.method} ${q.path}?${q.query} ${q.status}`)).to.deep.equal([
        'GET /org/private.git/info/refs?service=git-upload-pack 200',
      ]);
      expect(seen[0].headers.authorization).to.equal(basic(GIT_USER, GIT_PASS));
      expect(JSON.stringify(seen)).to.not.include(tokens.reader);
      // The long form serves the same, with search and pagination.
      const long = await env.curl(
        `/connectors/v1alpha1/namespaces/${env.ns}/connectors/git/path/git/gitrefs?repositoryUrl=${repositoryUrl}&search=V&itemsPerPage=1&page=2`,
        { token: tokens.reader },
      );
      expect(long.json()).to.deep.equal({ listMeta: { totalItems: 2 }, items: [refsWanted[3]] });
    },
  );

  it('gitrefs answers Status objects: a foreign repositoryUrl (never asked with the credentials), a missing one, a wrong password', async () => {
    await git.clearRequests();
    const foreign = await env.curl(
      env.path('git', `/git/gitrefs?repositoryUrl=${encodeURIComponent(tool.url + '/x.git')}`),
      {
        token: tokens.reader,
      },
    );
    expect(foreign.status).to.equal(400);
    expect(foreign.json()).to.include({ kind: 'Status', reason: 'BadRequest', code: 400 });
    expect(foreign.json().message).to.match(/is not a repository under the connector address/);
    expect(tool.requests).to.have.length(0);
    const missing = await env.curl(env.path('git', '/git/gitrefs'), { token: tokens.reader });
    expect(missing.json()).to.include({ code: 400, message: 'query parameter repositoryUrl is required' });
    const nope = await env.curl(
      env.path('git', `/git/gitrefs?repositoryUrl=${encodeURIComponent(git.url + '/org/none.git')}`),
      { token: tokens.reader },
    );
    expect(nope.json()).to.include({ code: 404, reason: 'NotFound' });
    await git.setUsers({ [GIT_USER]: 'another-password' });
    try {
      const refused = await env.curl(
        env.path('git', `/git/gitrefs?repositoryUrl=${encodeURIComponent(git.url + '/org/private.git')}`),
        { token: tokens.reader },
      );
      expect(refused.status).to.equal(403);
      expect(refused.json().message).to.equal(
        "the git server refused the connector's credentials for /org/private.git (HTTP 401)",
      );
    } finally {
      await git.setUsers({ [GIT_USER]: GIT_PASS });
    }
  });

  it('passthrough GET reaches the tool with the Connector credentials injected, the token removed, and the answer unchanged', async () => {
    tool.clear();
    tool.setHandler((req, res) => {
      res.writeHead(203, { 'content-type': 'text/x-tool', 'x-tool': 'yes', location: `${tool.url}/moved/here?x=1` });
      res.end('tool body');
    });
    const r = await env.curl(env.path('tool', '/things/42?q=1&q=2'), {
      token: tokens.reader,
      headers: { 'X-Custom': 'kept', Accept: 'text/x-tool' },
    });
    expect(r.status).to.equal(203);
    expect(r.body).to.equal('tool body');
    expect(r.headers).to.include({ 'content-type': 'text/x-tool', 'x-tool': 'yes' });
    // A redirect on the tool's own origin points back at the API.
    expect(r.headers.location).to.equal(`${env.api.url}${env.path('tool', '/moved/here?x=1')}`);
    const seen = tool.last();
    expect(seen.method).to.equal('GET');
    expect(seen.url).to.equal('/things/42?q=1&q=2');
    expect(seen.headers.authorization).to.equal(basic('tool-user', TOOL_PASS));
    expect(seen.headers).to.include({ 'x-custom': 'kept', accept: 'text/x-tool' });
    expect(JSON.stringify(seen.headers)).to.not.include(tokens.reader);
    // A path the class's openapi does not declare goes to the tool too (the git class only declares /git/gitrefs).
    await git.clearRequests();
    const refs = await env.curl(env.path('git', '/org/private.git/info/refs?service=git-upload-pack'), {
      token: tokens.reader,
    });
    expect(refs.status).to.equal(200);
    expect(refs.headers['content-type']).to.equal('application/x-git-upload-pack-advertisement');
    expect((await git.requests())[0].headers.authorization).to.equal(basic(GIT_USER, GIT_PASS));
    tool.setHandler((req, res) => void res.end('ok'));
  });

  it('x-openapi-address picks the address: an extension name, a URL; a missing extension or a non-http URL is a 400 naming it', async () => {
    tool.clear();
    ext.clear();
    expect((await env.curl(env.path('tool', '/ext/things'), { token: tokens.reader })).status).to.equal(200);
    expect(ext.last().url).to.equal('/ext/things');
    expect(ext.last().headers.authorization).to.equal(basic('tool-user', TOOL_PASS));
    ext.clear();
    expect((await env.curl(env.path('tool', '/direct/things'), { token: tokens.reader })).status).to.equal(200);
    expect(ext.last().url).to.equal('/direct/things');
    const missing = await env.curl(env.path('tool', '/missing/things'), { token: tokens.reader });
    expect(missing.status).to.equal(400);
    expect(missing.json().message).to.equal(
      `connectorclass "${TOOL_CLASS}": x-openapi-address "missing" names no address extension of the connector (spec.addressExtensions)`,
    );
    const ftp = await env.curl(env.path('tool', '/ftp/things'), { token: tokens.reader });
    expect(ftp.json()).to.include({ code: 400, reason: 'BadRequest' });
    expect(ftp.json().message).to.include('"ftp://files.example.com" is not a valid http(s) URL');
    expect(tool.requests).to.have.length(0);
  });

  it('a redirect never hands the client a credential injected into the query (generator.rego, position query)', async () => {
    tool.clear();
    // A tool that redirects keeping the query, as a trailing-slash redirect does; then one to another host.
    let away = false;
    tool.setHandler((req, res) => {
      const q = req.url.slice(req.url.indexOf('?'));
      res.writeHead(301, {
        location: away ? `https://elsewhere.example.com/landing${q}#top` : `${tool.url}/things/${q}`,
      });
      res.end();
    });
    try {
      const r = await env.curl(env.path('apikey', '/things?q=1&page=2'), { token: tokens.reader });
      expect(r.status).to.equal(301);
      expect(tool.last().url).to.equal(`/things?q=1&page=2&api_key=${API_KEY}`);
      expect(r.headers.location).to.equal(`${env.api.url}${env.path('apikey', '/things/?q=1&page=2')}`);
      away = true;
      const other = await env.curl(env.path('apikey', '/things?q=1'), { token: tokens.reader });
      expect(other.headers.location).to.equal('https://elsewhere.example.com/landing?q=1#top');
      for (const x of [r, other]) expect(JSON.stringify(x)).to.not.include(API_KEY);
    } finally {
      tool.setHandler((req, res) => void res.end('ok'));
    }
  });

  it('x-provider-type api goes to the class API with X-Plugin-Meta, X-Plugin-Auth and X-Plugin-Secret, and none of the client credentials', async () => {
    classApi.clear();
    classApi.setHandler((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"listMeta":{"totalItems":0},"items":[]}');
    });
    const r = await env.curl(env.path('tool', '/custom/things?page=1'), {
      token: tokens.reader,
      headers: { 'X-Plugin-Secret': 'spoofed', 'X-Plugin-Meta': 'spoofed' },
    });
    expect(r.status).to.equal(200);
    expect(r.json()).to.deep.equal({ listMeta: { totalItems: 0 }, items: [] });
    const seen = classApi.last();
    expect(seen.url).to.equal('/custom/things?page=1');
    const b64json = (v: unknown) => JSON.parse(Buffer.from(String(v), 'base64').toString('utf8'));
    expect(b64json(seen.headers['x-plugin-meta'])).to.deep.equal({ baseURL: tool.url });
    expect(Buffer.from(String(seen.headers['x-plugin-auth']), 'base64').toString()).to.equal(
      'kubernetes.io/basic-auth',
    );
    const secret = b64json(seen.headers['x-plugin-secret']);
    expect(Buffer.from(secret.password, 'base64').toString()).to.equal(TOOL_PASS);
    expect(Buffer.from(secret.username, 'base64').toString()).to.equal('tool-user');
    expect(seen.headers.authorization).to.equal(undefined);
    expect(JSON.stringify(seen.headers)).to.not.include(tokens.reader);
    // Writes pass only to the tool: a write operation declared as api is refused, and a write to a path
    // whose api operation is another method's is no custom operation (it goes to the tool).
    await env.setFlags(['enable-connector-apis-write-passthrough']);
    classApi.clear();
    tool.clear();
    const post = await env.curl(env.path('tool', '/custom/things'), {
      method: 'POST',
      token: tokens.reader,
      body: '{}',
    });
    expect(post.status).to.equal(405);
    expect(post.json().message).to.include('write methods pass through only to the tool');
    const put = await env.curl(env.path('tool', '/custom/things'), { method: 'PUT', token: tokens.reader, body: '{}' });
    expect(put.status).to.equal(200);
    expect(tool.last().method).to.equal('PUT');
    expect(classApi.requests).to.have.length(0);
    await env.setFlags([]);
  });

  it("a custom path of a class whose API address is not resolved is the reference's 400", async () => {
    const r = await env.curl(env.path('noapi', '/noapi/things'), { token: tokens.reader });
    expect(r.status).to.equal(400);
    expect(r.json()).to.deep.equal({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `api address of connectorclass '${NOAPI_CLASS}' is not resolved`,
      reason: 'BadRequest',
      code: 400,
    });
  });

  it('authentication: Bearer only, a valid token, get on the Connector; a Connector that does not exist is a 404 only to who may get it', async () => {
    const noToken = await env.curl(env.path('tool', '/things/1'));
    expect(noToken.status).to.equal(401);
    expect(noToken.headers['www-authenticate']).to.equal('Bearer realm="connectors-api"');
    expect(noToken.json()).to.include({ kind: 'Status', reason: 'Unauthorized' });
    const basicAuth = await env.curl(env.path('tool', '/things/1'), {
      headers: { Authorization: 'Basic ' + Buffer.from(':' + tokens.reader).toString('base64') },
    });
    expect(basicAuth.status).to.equal(401);
    expect((await env.curl(env.path('tool', '/things/1'), { token: 'not-a-token' })).status).to.equal(401);
    const proxyToken = await env.c.createToken(env.ns, 'reader', { audience: 'connectors-proxy' });
    expect((await env.curl(env.path('tool', '/things/1'), { token: proxyToken })).status).to.equal(401);
    const outsider = await env.curl(env.path('tool', '/things/1'), { token: tokens.outsider });
    expect(outsider.status).to.equal(403);
    expect(outsider.json()).to.include({ reason: 'Forbidden', code: 403 });
    expect((await env.curl(env.path('nothing-here', '/x'), { token: tokens.outsider })).status).to.equal(403);
    const gone = await env.curl(env.path('nothing-here', '/x'), { token: tokens.reader });
    expect(gone.status).to.equal(404);
    expect(gone.json().message).to.equal('connectors.connectors.alauda.io "nothing-here" not found');
    const unknown = await env.curl('/connectors/v1alpha1/x', { token: tokens.reader });
    expect(unknown.json()).to.include({ code: 404, reason: 'NotFound' });
  });

  it('malformed requests get a Status answer and the API keeps serving', async () => {
    for (const [method, path, code] of [
      ['OPTIONS', '/connectors/v1alpha1/%E0%A4%A/x/path/y', 400],
      ['GET', '/connectors/v1alpha1/%E0%A4%A/x/path/y', 404],
      ['OPTIONS', '/nowhere', 404],
      ['GET', '/connectors/v1alpha1/ns/x/path/%zz', 401],
    ] as const) {
      const r = await env.curl(path, { method });
      expect(r.status, `${method} ${path}`).to.equal(code);
      expect(r.json()).to.include({ kind: 'Status', code });
    }
    const big = await env.curl(env.path('tool', '/things/1'), {
      token: tokens.reader,
      headers: { 'X-Big': 'x'.repeat(40_000) },
    });
    expect(big.status).to.equal(431);
    expect((await env.curl(env.path('tool', '/things/1'), { token: tokens.reader })).status).to.equal(200);
  });

  it('POST gets 405 with enable-connector-apis-write-passthrough off, even for cluster-admin, and reaches the tool unchanged with it on', async () => {
    const admin = await env.clusterServiceAccount('admin', 'cluster-admin');
    await env.setFlags([]);
    tool.clear();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await env.curl(env.path('tool', '/things/1'), { method, token: admin, body: '{"a":1}' });
      expect(r.status, method).to.equal(405);
      expect(r.headers.allow).to.equal('GET, HEAD, OPTIONS');
      expect(r.json().message).to.include('enable-connector-apis-write-passthrough');
    }
    expect(tool.requests).to.have.length(0);
    expect((await env.curl(env.path('tool', '/things/1'), { method: 'TRACE', token: admin })).status).to.equal(405);

    await env.setFlags(['enable-connector-apis-write-passthrough']);
    tool.setHandler((req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-created': req.url });
      res.end('{"created":true}');
    });
    const body = '{"branch":"feature-foo","ref":"main"}';
    const r = await env.curl(env.path('tool', '/api/v4/projects/123/repository/branches?dry=1'), {
      method: 'POST',
      token: tokens.reader,
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'r-1' },
      body,
    });
    expect(r.status).to.equal(201);
    expect(r.body).to.equal('{"created":true}');
    expect(r.headers['x-created']).to.equal('/api/v4/projects/123/repository/branches?dry=1');
    const seen = tool.last();
    expect(seen.method).to.equal('POST');
    expect(seen.url).to.equal('/api/v4/projects/123/repository/branches?dry=1');
    expect(seen.body.toString()).to.equal(body);
    expect(seen.headers).to.include({
      'content-type': 'application/json',
      'x-request-id': 'r-1',
      'content-length': String(body.length),
      authorization: basic('tool-user', TOOL_PASS),
    });
    // The tool's own refusal comes back unchanged.
    tool.setHandler((req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain', 'x-tool-reason': 'protected' });
      res.end('403 Forbidden - protected branch');
    });
    const refused = await env.curl(env.path('tool', '/api/v4/projects/123/repository/branches'), {
      method: 'DELETE',
      token: tokens.reader,
    });
    expect(refused.status).to.equal(403);
    expect(refused.body).to.equal('403 Forbidden - protected branch');
    expect(refused.headers['x-tool-reason']).to.equal('protected');
    tool.setHandler((req, res) => void res.end('ok'));
    await env.setFlags([]);
  });

  it('with enable-connector-apis-permissions: get on the Connector alone is refused (403); a role naming connectors/apis/git passes', async () => {
    await env.setFlags(['enable-connector-apis-permissions']);
    const gitrefs = env.path('git', `/git/gitrefs?repositoryUrl=${encodeURIComponent(git.url + '/org/private.git')}`);
    const refused = await env.curl(gitrefs, { token: tokens.reader });
    expect(refused.status).to.equal(403);
    expect(refused.json().message).to.include('connectors/apis/git');
    const allowed = await env.curl(gitrefs, { token: tokens.gitApis });
    expect(allowed.status, allowed.body).to.equal(200);
    expect(allowed.json().listMeta.totalItems).to.equal(4);
    // connectors/apis/git is the git class only.
    expect((await env.curl(env.path('tool', '/things/1'), { token: tokens.gitApis })).status).to.equal(403);
    // The path template level: /things/{id} only.
    expect((await env.curl(env.path('tool', '/things/7'), { token: tokens.template })).status).to.equal(200);
    expect((await env.curl(env.path('tool', '/other'), { token: tokens.template })).status).to.equal(403);
    await env.setFlags([]);
    // With the flag off, get on the Connector is enough again.
    expect((await env.curl(gitrefs, { token: tokens.reader })).status).to.equal(200);
  });

  it('each verb mapping: GET/HEAD/OPTIONS → get, POST → create, PUT → update, DELETE → delete, PATCH → patch', async () => {
    await env.setFlags(['enable-connector-apis-permissions', 'enable-connector-apis-write-passthrough']);
    const mapping: Record<string, string> = {
      GET: 'get',
      HEAD: 'get',
      OPTIONS: 'get',
      POST: 'create',
      PUT: 'update',
      DELETE: 'delete',
      PATCH: 'patch',
    };
    const got: string[] = [];
    for (const verb of ['get', 'create', 'update', 'delete', 'patch'])
      for (const [method, needs] of Object.entries(mapping)) {
        const r = await env.curl(env.path('tool', '/things/1'), {
          method,
          token: tokens[verb],
          body: ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined,
        });
        got.push(`${verb} ${method} ${r.status}`);
        expect(r.status, `${method} with a role granting ${verb}`).to.equal(needs === verb ? 200 : 403);
      }
    expect(got).to.have.length(35);
    await env.setFlags([]);
  });

  it("the class's permissions.rego names the verb: a POST search is a read, /purge a delete, the rest by method", async () => {
    await env.setFlags(['enable-connector-apis-permissions', 'enable-connector-apis-write-passthrough']);
    tool.clear();
    const search = await env.curl(env.path('rego', '/search/code'), {
      method: 'POST',
      token: tokens.regoGet,
      headers: { 'Content-Type': 'application/json' },
      body: '{"q":"x"}',
    });
    expect(search.status, search.body).to.equal(200);
    expect(tool.last().body.toString()).to.equal('{"q":"x"}');
    expect(
      (await env.curl(env.path('rego', '/things'), { method: 'POST', token: tokens.regoGet, body: '{}' })).status,
    ).to.equal(403);
    expect((await env.curl(env.path('rego', '/purge/all'), { token: tokens.regoGet })).status).to.equal(403);
    expect((await env.curl(env.path('rego', '/things'), { token: tokens.regoGet })).status).to.equal(200);
    await env.setFlags([]);
  });

  it('the built-in roles: connector view roles carry read-only connectors/apis; class view lets a user read the feature flags', async () => {
    const rbac = fileURLToPath(new URL('../../deploy/rbac/cpaas-clusterroles.yaml', import.meta.url));
    await env.c.kubectl(['apply', '-f', rbac]);
    await env.c.kubectl(['create', 'serviceaccount', 'developer', '-n', env.ns]);
    await env.c.kubectl([
      'create',
      'rolebinding',
      'developer',
      '-n',
      env.ns,
      '--clusterrole=cpaas:connectors-namespaced:business-ns:view',
      `--serviceaccount=${env.ns}:developer`,
    ]);
    const developer = (await env.c.kubectl(['create', 'token', 'developer', '-n', env.ns])).trim();
    await env.setFlags(['enable-connector-apis-permissions', 'enable-connector-apis-write-passthrough']);
    expect((await env.curl(env.path('tool', '/things/1'), { token: developer })).status).to.equal(200);
    expect(
      (await env.curl(env.path('tool', '/things/1'), { method: 'POST', token: developer, body: '{}' })).status,
    ).to.equal(403);
    await env.setFlags([]);
    const classesView = await env.clusterServiceAccount(
      'classes-view',
      'cpaas:connectors-connectorclasses:business-ns:view',
    );
    const flags = await env.curl('/connectors-operator/featureflags', { token: classesView });
    expect(flags.status).to.equal(200);
    expect(Object.keys(flags.json()).sort()).to.deep.equal([...FEATURE_FLAGS].sort());
  });

  it('featureflags: every flag as "true"/"false" to who may list ConnectorClasses, else 403; a ConfigMap change within seconds', async () => {
    const admin = await env.clusterServiceAccount('admin', 'cluster-admin');
    await env.setFlags([]);
    const r = await env.curl('/connectors-operator/featureflags', { token: admin });
    expect(r.status).to.equal(200);
    expect(r.json()).to.deep.equal(Object.fromEntries(FEATURE_FLAGS.map((f) => [f, 'false'])));
    const denied = await env.curl('/connectors-operator/featureflags', { token: tokens.reader });
    expect(denied.status).to.equal(403);
    expect(denied.json().message).to.include('cannot list resource "connectorclasses"');
    await env.c.kubectl([
      'patch',
      'configmap',
      'connectors-config',
      '-n',
      env.sys,
      '--type',
      'merge',
      '-p',
      '{"data":{"enable-multi-connector":"true"}}',
    ]);
    const patched = Date.now();
    const seenAfter = await eventually(
      'the endpoint to show enable-multi-connector',
      async () => {
        const flags = (await env.curl('/connectors-operator/featureflags', { token: admin })).json();
        return flags['enable-multi-connector'] === 'true' && Date.now() - patched;
      },
      10_000,
      20,
    );
    expect(seenAfter).to.be.lessThan(5_000);
    await env.setFlags([]);
  });

  it('reaches a plugin serving TLS (the in-cluster shape) only when it trusts the plugin CA (--plugin-ca-file)', async () => {
    const ca = await createCA({ commonName: 'plugins' });
    const cert = await issueServingCert(ca, { ipAddresses: ['127.0.0.1'] });
    const tlsPlugin = await startGitPlugin({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: cert.certPem, key: cert.keyPem },
    });
    const trusting = await startApi(env.c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      systemNamespace: env.sys,
      pluginCaPem: ca.certPem,
    });
    const cls = `tlsgit-${sfx}`;
    try {
      const git = loadBuiltinClass('git');
      await env.apply(
        objects.yaml(
          objects.connectorClass(cls, {
            address: git.spec.address,
            auth: git.spec.auth,
            api: { uri: tlsPlugin.url, openapi: git.spec.api!.openapi },
          }),
        ),
        'default',
      );
      await env.apply(
        objects.yaml(
          objects.connector('tlsgit', {
            className: cls,
            address: gitServer().url,
            auth: { name: 'basicAuth', secret: 'git-creds' },
          }),
        ),
      );
      const path = env.path(
        'tlsgit',
        `/git/gitrefs?repositoryUrl=${encodeURIComponent(gitServer().url + '/org/private.git')}`,
      );
      await eventually('the class API address', async () => {
        const c = JSON.parse(await env.c.kubectl(['get', 'connectorclass', cls, '-o', 'json']));
        return c.status?.api?.address?.url === tlsPlugin.url;
      });
      const ok = await eventually('the trusting API to list the refs', async () => {
        const r = await curl(trusting.url + path, { token: tokens.reader });
        return r.status === 200 && r;
      });
      expect(ok.json().listMeta.totalItems).to.equal(4);
      const untrusted = await env.curl(path, { token: tokens.reader });
      expect(untrusted.status).to.equal(502);
      expect(untrusted.json()).to.include({ kind: 'Status', reason: 'BadGateway' });
    } finally {
      await trusting.stop();
      await tlsPlugin.stop();
      await env.c.kubectl(['delete', 'connectorclass', cls, '--ignore-not-found']);
    }
  });

  it("reaches a tool over TLS with a private CA only with enable-custom-ca-certs and the Connector's caCertSecretRef, as the proxy does", async () => {
    const ca = await createCA({ commonName: 'tool-ca' });
    const cert = await issueServingCert(ca, { ipAddresses: ['127.0.0.1'] });
    const seen: string[] = [];
    const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      seen.push(String(req.headers.authorization));
      res.end('tls tool');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await env.apply(
        objects.yaml(
          objects.caCertSecret('tool-ca', ca.certPem),
          objects.connector('tls-tool', {
            className: TOOL_CLASS,
            address: url,
            caSecret: 'tool-ca',
            auth: { name: 'basicAuth', secret: 'tool-creds' },
          }),
        ),
      );
      await env.setFlags([]);
      const untrusted = await eventually('the Connector in the cache', async () => {
        const r = await env.curl(env.path('tls-tool', '/things/1'), { token: tokens.reader });
        return r.status !== 404 && r;
      });
      expect(untrusted.status).to.equal(502);
      expect(seen).to.deep.equal([]);
      await env.setFlags(['enable-custom-ca-certs']);
      env.api.clearAuthCache();
      const trusted = await env.curl(env.path('tls-tool', '/things/1'), { token: tokens.reader });
      expect(trusted.status, trusted.body).to.equal(200);
      expect(trusted.body).to.equal('tls tool');
      expect(seen).to.deep.equal([basic('tool-user', TOOL_PASS)]);
    } finally {
      await env.setFlags([]);
      server.close();
    }
  });

  it('serves /healthz, /readyz and /metrics on its health port, with the request metrics', async () => {
    const health = `http://127.0.0.1:${env.api.healthPort}`;
    expect((await curl(`${health}/healthz`)).status).to.equal(200);
    expect((await curl(`${health}/readyz`)).status).to.equal(200);
    const metrics = (await curl(`${health}/metrics`)).body;
    expect(metrics).to.match(/^connectors_api_requests_total\{provider="proxy",code="200"\} [1-9]\d*$/m);
    expect(metrics).to.match(/^connectors_api_requests_total\{provider="api",code="200"\} [1-9]\d*$/m);
    expect(metrics).to.match(/^connectors_api_auth_cache_total\{kind="tokenreview",result="hit"\} [1-9]\d*$/m);
    expect(metrics).to.include('connectors_api_request_duration_seconds_bucket');
  });

  it('logs one access line per request and no credential anywhere', () => {
    const lines = env.logs.map((l) => JSON.parse(l));
    const access = lines.filter((l) => l.component === 'api' && l.access && l.msg === 'request');
    expect(access.length).to.be.greaterThan(50);
    expect(access.some((l) => l.provider === 'api' && l.status === 200)).to.equal(true);
    const text = env.logs.join('\n');
    for (const secret of [GIT_PASS, TOOL_PASS, API_KEY, ...Object.values(tokens)]) expect(text).to.not.include(secret);
  });
});
