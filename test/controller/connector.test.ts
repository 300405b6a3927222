// The Connector reconciler against a real kube-apiserver and a real git smart-HTTP server with basic auth:
// the Git quick start becomes Ready with the built-in git class; each fault gives its documented condition and
// repairing it brings Ready back at once (watches, not the 5-minute period); broken classes give clear
// messages without stopping the controller; probes never carry credentials to another host; no password
// reaches the logs.
import {
  eventually,
  cluster,
  type Cluster,
  FIXTURES_DIR,
  startGitServer,
  type GitServer,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  startRecordingUpstream,
  type RecordingUpstream,
  freePort,
  objects,
} from '@connectors/test-support';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { setLogSink } from '../../core/observability/log.ts';
import type { KubeRest } from '../../core/kube/rest.ts';
import type { Connector } from '../../core/api/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { builtinClasses, type BuiltinClass } from '../../connectorclasses/index.ts';
import {
  restFor,
  waitConnectorCondition,
  waitClassCondition,
  upsert,
  ensureNamespace,
  createProxyService,
  connectorPath,
  classPath,
  getConnector,
  cond,
} from './helpers.ts';

const USER = 'your-username';
const PASSWORD = 'your-token';
/** Repairs must be picked up by watches, far within the 5-minute probe period. */
const REPAIR_MS = 20_000;

describe('controller: Connector status (real apiserver, real git server)', function () {
  this.timeout(180_000);
  let c: Cluster;
  let rest: KubeRest;
  let git: GitServer;
  let ns: string;
  let sys: string;
  let ctrl: RunningController;
  const logs: string[] = [];
  let restoreSink: () => void;
  const suffix = Math.random().toString(16).slice(2, 8);

  const connectorsPath = () => `/apis/connectors.alauda.io/v1alpha1/namespaces/${ns}/connectors`;
  const secretsPath = () => `/api/v1/namespaces/${ns}/secrets`;

  /** The seed's git Connector (Secret git-auth, repository your-org/your-repo.git), `spec` overriding its fields. */
  function connector(name: string, spec: Partial<Connector['spec']> = {}): Connector {
    return objects.connector(name, {
      namespace: ns,
      className: 'git',
      address: git.url,
      auth: { name: 'basicAuth', secret: 'git-auth', params: { repository: 'your-org/your-repo.git' } },
      spec,
    });
  }

  before(async function () {
    this.timeout(600_000);
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    restoreSink = setLogSink((line) => logs.push(line));
    [c, git] = await Promise.all([cluster(), startGitServer({ users: { [USER]: PASSWORD } })]);
    await git.createRepo('your-org/your-repo.git');
    rest = await restFor(c);
    ns = await c.createNamespace('ctrl-connector');
    sys = `ctrl-sys-${suffix}`;
    await ensureNamespace(rest, sys);
    await createProxyService(rest, sys);
    for (const cls of builtinClasses({ systemNamespace: sys, names: ['git'] }))
      await upsert(rest, '/apis/connectors.alauda.io/v1alpha1/connectorclasses', cls);
    ctrl = await startController(c.kubeConfig, { systemNamespace: sys, leaderElect: false, healthPort: 0 });
    await ctrl.synced;
  });

  after(async () => {
    await ctrl?.stop();
    restoreSink?.();
    await git?.stop();
    await rest?.close();
  });

  it('the Git quick start: the Secret and Connector become Ready with every condition True, using the built-in git class', async () => {
    const docs = parseAllDocuments(readFileSync(join(FIXTURES_DIR, '000-1-git-connector.yaml'), 'utf8')).map((d) =>
      d.toJS(),
    );
    const secret = docs.find((d) => d.kind === 'Secret');
    const conn = docs.find((d) => d.kind === 'Connector') as Connector;
    secret.metadata.namespace = ns;
    conn.metadata.namespace = ns;
    conn.spec.address = git.url;
    await rest.call('POST', secretsPath(), { body: secret });
    await rest.call('POST', connectorsPath(), { body: conn });
    const ready = await waitConnectorCondition(rest, ns, 'git-connector', 'Ready', { status: 'True' });
    for (const type of [
      'ConnectorClassReady',
      'SecretReady',
      'LivenessReady',
      'AuthReady',
      'ProxyServiceReady',
      'Ready',
    ]) {
      expect(cond(ready, type)?.status, `${type}: ${JSON.stringify(cond(ready, type))}`).to.equal('True');
      expect(cond(ready, type)?.observedGeneration).to.equal(ready.metadata.generation);
    }
    expect(ready.status!.conditions!.map((x) => x.type)).to.deep.equal([
      'ConnectorClassReady',
      'SecretReady',
      'LivenessReady',
      'AuthReady',
      'ProxyServiceReady',
      'Ready',
    ]);
    expect(cond(ready, 'LivenessReady')?.lastProbeTime).to.be.a('string');
    expect(cond(ready, 'AuthReady')?.lastProbeTime).to.be.a('string');
    expect(ready.status!.observedGeneration).to.equal(ready.metadata.generation);
    expect(ready.status!.proxy?.httpAddress?.url).to.equal(`http://c-git-connector.${ns}.svc.cluster.local`);
    expect(ready.status!.proxy?.httpAddress?.audience).to.equal('connectors-proxy');
    // The per-Connector Service that makes c-git-connector.<ns>.svc reach the proxy.
    const svc = await rest.call<{
      spec: { type: string; externalName: string };
      metadata: { ownerReferences: Array<{ kind: string; name: string; uid: string }> };
    }>('GET', `/api/v1/namespaces/${ns}/services/c-git-connector`);
    expect(svc.spec.type).to.equal('ExternalName');
    expect(svc.spec.externalName).to.equal(`connectors-proxy-service.${sys}.svc.cluster.local`);
    expect(svc.metadata.ownerReferences[0]).to.include({
      kind: 'Connector',
      name: 'git-connector',
      uid: ready.metadata.uid,
    });
    // The auth probe is the seed's: GET /<repository>/info/refs?service=git-upload-pack with Basic credentials.
    const probe = (await git.requests()).find((r) => r.path === '/your-org/your-repo.git/info/refs');
    expect(probe, 'auth probe request').to.not.equal(undefined);
    expect(probe!.query).to.equal('service=git-upload-pack');
    expect(probe!.headers.authorization).to.equal(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    expect(probe!.status).to.equal(200);
  });

  it('a wrong password gives AuthReady=False/AuthenticationFailed; fixing the Secret brings Ready back', async () => {
    await upsert(
      rest,
      secretsPath(),
      objects.basicAuthSecret('wrong-auth', USER, 'not-the-password', { namespace: ns }),
    );
    await rest.call('POST', connectorsPath(), {
      body: connector('wrong-password', {
        auth: {
          name: 'basicAuth',
          secretRef: { name: 'wrong-auth' },
          params: [{ name: 'repository', value: 'your-org/your-repo.git' }],
        },
      }),
    });
    const bad = await waitConnectorCondition(rest, ns, 'wrong-password', 'AuthReady', { status: 'False' });
    expect(cond(bad, 'AuthReady')).to.include({
      reason: 'AuthenticationFailed',
      message: 'Authentication failed: status code 401',
    });
    expect(cond(bad, 'Ready')).to.include({ status: 'False', reason: 'AuthenticationFailed' });
    expect(cond(bad, 'LivenessReady')?.status).to.equal('True');
    const t0 = Date.now();
    await upsert(rest, secretsPath(), objects.basicAuthSecret('wrong-auth', USER, PASSWORD, { namespace: ns }));
    await waitConnectorCondition(rest, ns, 'wrong-password', 'Ready', { status: 'True' }, REPAIR_MS);
    expect(Date.now() - t0).to.be.below(REPAIR_MS);
  });

  it('a missing Secret gives SecretNotFound; creating it brings Ready back', async () => {
    await rest.call('POST', connectorsPath(), {
      body: connector('no-secret', {
        auth: {
          name: 'basicAuth',
          secretRef: { name: 'later-auth' },
          params: [{ name: 'repository', value: 'your-org/your-repo.git' }],
        },
      }),
    });
    const bad = await waitConnectorCondition(rest, ns, 'no-secret', 'SecretReady', { status: 'False' });
    expect(cond(bad, 'SecretReady')).to.include({
      reason: 'SecretNotFound',
      message: 'secrets "later-auth" not found',
    });
    expect(cond(bad, 'Ready')).to.include({ status: 'False', reason: 'SecretNotFound' });
    await rest.call('POST', secretsPath(), {
      body: objects.basicAuthSecret('later-auth', USER, PASSWORD, { namespace: ns }),
    });
    await waitConnectorCondition(rest, ns, 'no-secret', 'Ready', { status: 'True' }, REPAIR_MS);
  });

  it('an unknown class gives ConnectorClassNotFound with the exact message; creating the class brings Ready back', async () => {
    const className = `git-later-${suffix}`;
    await upsert(rest, secretsPath(), objects.basicAuthSecret('git-auth', USER, PASSWORD, { namespace: ns }));
    await rest.call('POST', connectorsPath(), { body: connector('no-class', { connectorClassName: className }) });
    const bad = await waitConnectorCondition(rest, ns, 'no-class', 'ConnectorClassReady', { status: 'False' });
    expect(cond(bad, 'ConnectorClassReady')).to.include({
      reason: 'ConnectorClassNotFound',
      message: `connectorclass.connectors.alauda.io "${className}" not found`,
    });
    expect(cond(bad, 'Ready')).to.include({ status: 'False', reason: 'ConnectorClassNotFound' });
    const cls = builtinClasses({ systemNamespace: sys, names: ['git'] })[0];
    cls.metadata = { name: className };
    await rest.call('POST', '/apis/connectors.alauda.io/v1alpha1/connectorclasses', { body: cls });
    try {
      await waitConnectorCondition(rest, ns, 'no-class', 'Ready', { status: 'True' }, REPAIR_MS);
    } finally {
      await rest.call('DELETE', classPath(className));
    }
  });

  it('an unreachable address gives LivenessReady=False/ConnectionFailed; fixing the address brings Ready back', async () => {
    const port = await freePort();
    await upsert(rest, secretsPath(), objects.basicAuthSecret('git-auth', USER, PASSWORD, { namespace: ns }));
    await rest.call('POST', connectorsPath(), {
      body: connector('unreachable', { address: `http://127.0.0.1:${port}` }),
    });
    const bad = await waitConnectorCondition(rest, ns, 'unreachable', 'LivenessReady', { status: 'False' });
    expect(cond(bad, 'LivenessReady')).to.include({
      reason: 'ConnectionFailed',
      message: `Get "http://127.0.0.1:${port}": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    });
    expect(cond(bad, 'Ready')).to.include({ status: 'False', reason: 'ConnectionFailed' });
    const cur = await getConnector(rest, ns, 'unreachable');
    cur.spec.address = git.url;
    await rest.call('PUT', connectorPath(ns, 'unreachable'), { body: cur });
    await waitConnectorCondition(rest, ns, 'unreachable', 'Ready', { status: 'True' }, REPAIR_MS);
  });

  it('an address whose host does not resolve reads like Go: "dial tcp: lookup <host>: no such host"', async () => {
    await rest.call('POST', connectorsPath(), {
      body: connector('invalid-host', { address: 'https://github.invalid.com' }),
    });
    const bad = await waitConnectorCondition(rest, ns, 'invalid-host', 'LivenessReady', { status: 'False' });
    expect(cond(bad, 'LivenessReady')?.reason).to.equal('ConnectionFailed');
    expect(cond(bad, 'LivenessReady')?.message).to.match(
      /^Get "https:\/\/github\.invalid\.com": dial tcp: lookup github\.invalid\.com: (no such host|server misbehaving)$/,
    );
  });

  describe('broken classes give clear conditions, and the controller keeps reconciling others', () => {
    const classes: string[] = [];
    async function makeClass(name: string, patch: (cls: BuiltinClass) => void): Promise<string> {
      const cls = builtinClasses({ systemNamespace: sys, names: ['git'] })[0];
      cls.metadata = { name: `${name}-${suffix}` };
      // Without the git API plugin, which no test here runs: its unreachable Service would be the class's
      // first failing condition.
      delete cls.spec.api;
      patch(cls);
      await upsert(rest, '/apis/connectors.alauda.io/v1alpha1/connectorclasses', cls);
      classes.push(cls.metadata.name!);
      return cls.metadata.name!;
    }
    after(async () => {
      for (const n of classes) await rest.call('DELETE', classPath(n)).catch(() => {});
    });

    it('an invalid rego generator: PoliciesReady=False/RegoCompileFailed naming the auth type; its Connectors are not Ready', async () => {
      const name = await makeClass('bad-rego', (cls) => {
        cls.spec.auth!.types![0].generator = {
          rego: 'package proxy\nauth = {"position": "header", "auth": {"Authorization": concat(" ", ["Basic", input.token])}\n',
        };
      });
      const bad = await waitClassCondition(rest, name, 'PoliciesReady', { status: 'False' }, 60_000);
      expect(cond(bad, 'PoliciesReady')?.reason).to.equal('RegoCompileFailed');
      expect(cond(bad, 'PoliciesReady')?.message).to.match(/^auth type "basicAuth": /);
      expect(cond(bad, 'Ready')).to.include({ status: 'False', reason: 'RegoCompileFailed' });
      await rest.call('POST', connectorsPath(), { body: connector('bad-rego', { connectorClassName: name }) });
      const conn = await waitConnectorCondition(rest, ns, 'bad-rego', 'ConnectorClassReady', { status: 'False' });
      expect(cond(conn, 'ConnectorClassReady')?.reason).to.equal('ConnectorClassNotReady');
      expect(cond(conn, 'ConnectorClassReady')?.message).to.contain('auth type "basicAuth"');
      // The controller still serves everyone else.
      await rest.call('POST', connectorsPath(), { body: connector('still-fine-1') });
      await waitConnectorCondition(rest, ns, 'still-fine-1', 'Ready', { status: 'True' });
    });

    it('a valid rego generator is compiled and stored as a content-addressed ConfigMap for the proxy', async () => {
      const { policyConfigMapName, decodePolicyConfigMap } = await import('../../core/opa/store.ts');
      const rego =
        'package proxy\nauth = {"position": "header", "auth": {"Authorization": concat(" ", ["Bearer", input.data.token])}}\n';
      const name = await makeClass('good-rego', (cls) => {
        cls.spec.auth!.types![0].generator = { rego };
      });
      const ok = await waitClassCondition(rest, name, 'PoliciesReady', { status: 'True' }, 60_000);
      const cmName = policyConfigMapName(rego, 'proxy/auth');
      const cm = await rest.call<{
        metadata: { labels: Record<string, string>; ownerReferences: Array<{ uid: string }> };
        binaryData: Record<string, string>;
      }>('GET', `/api/v1/namespaces/${sys}/configmaps/${cmName}`);
      expect(cm.metadata.labels).to.include({
        'app.kubernetes.io/part-of': 'connectors',
        'connectors.cpaas.io/policy': 'true',
      });
      expect(cm.metadata.ownerReferences.map((o) => o.uid)).to.include(ok.metadata.uid);
      const compiled = decodePolicyConfigMap(cm as never);
      expect(compiled.entrypoint).to.equal('proxy/auth');
      expect(compiled.wasm.subarray(0, 4).toString('hex')).to.equal('0061736d'); // \0asm
    });

    it('an invalid authProbe template: AuthReady=False with a message naming the authProbe', async () => {
      const name = await makeClass('bad-template', (cls) => {
        cls.spec.authProbes![0].probe!.http!.path = '/{{ .Connector.Spec.Address | nosuchfunc }}';
      });
      await rest.call('POST', connectorsPath(), { body: connector('bad-template', { connectorClassName: name }) });
      const bad = await waitConnectorCondition(rest, ns, 'bad-template', 'AuthReady', { status: 'False' });
      expect(cond(bad, 'AuthReady')?.reason).to.equal('InvalidAuthProbe');
      expect(cond(bad, 'AuthReady')?.message).to.match(
        /^authProbe "basicAuth": invalid template in path: .*nosuchfunc/,
      );
      await rest.call('POST', connectorsPath(), { body: connector('still-fine-2') });
      await waitConnectorCondition(rest, ns, 'still-fine-2', 'Ready', { status: 'True' });
    });

    it('a response.cel that does not yield a bool: a clear message; one that yields false: AuthenticationFailed', async () => {
      const name = await makeClass('cel-int', (cls) => {
        cls.spec.authProbes![0].probe!.http!.response = { cel: 'response.statusCode' };
      });
      await rest.call('POST', connectorsPath(), { body: connector('cel-int', { connectorClassName: name }) });
      const bad = await waitConnectorCondition(rest, ns, 'cel-int', 'AuthReady', { status: 'False' });
      expect(cond(bad, 'AuthReady')).to.include({
        reason: 'InvalidAuthProbe',
        message: 'authProbe "basicAuth": response.cel "response.statusCode" must evaluate to a bool, got int',
      });
      const name2 = await makeClass('cel-syntax', (cls) => {
        cls.spec.authProbes![0].probe!.http!.response = { cel: 'response.statusCode ==' };
      });
      await rest.call('POST', connectorsPath(), { body: connector('cel-syntax', { connectorClassName: name2 }) });
      const bad2 = await waitConnectorCondition(rest, ns, 'cel-syntax', 'AuthReady', { status: 'False' });
      expect(cond(bad2, 'AuthReady')?.message).to.match(
        /^authProbe "basicAuth": response.cel "response.statusCode ==" does not compile: /,
      );
    });
  });

  describe('probes against a recording upstream', () => {
    let a: RecordingUpstream;
    let b: RecordingUpstream;
    const classes: string[] = [];
    before(async () => {
      a = await startRecordingUpstream();
      b = await startRecordingUpstream({ host: '127.0.0.2' });
    });
    after(async () => {
      for (const n of classes) await rest.call('DELETE', classPath(n)).catch(() => {});
      await a?.stop();
      await b?.stop();
    });
    async function tokenClass(name: string, probe: Record<string, unknown>): Promise<string> {
      const cls = objects.connectorClass(`${name}-${suffix}`, {
        address: { name: 'address', type: 'string' },
        auth: { types: [{ name: 'token', secretType: 'Opaque', params: [{ name: 'token', type: 'string' }] }] },
        livenessProbe: { http: { path: '/healthz' } },
        authProbes: [
          {
            authName: 'token',
            probe: {
              http: {
                path: '/check',
                httpHeaders: [
                  { name: 'Authorization', value: 'Bearer {{ .Secret.StringData.token }}' },
                  { name: 'X-Api-Key', value: '{{ .Secret.StringData.token }}' },
                ],
                ...probe,
              },
            },
          },
        ],
      });
      await upsert(rest, '/apis/connectors.alauda.io/v1alpha1/connectorclasses', cls);
      classes.push(cls.metadata.name!);
      return cls.metadata.name!;
    }
    const tokenSecret = (name: string) =>
      objects.opaqueSecret(name, { token: 's3cr3t-token-value' }, { namespace: ns });

    it('never sends credentials to another host when following a redirect', async () => {
      a.setHandler((req, res) => {
        if (req.path === '/check') res.writeHead(302, { location: `${b.url}/landing` }).end();
        else res.writeHead(200).end('ok');
      });
      b.setHandler((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
      const name = await tokenClass('redirect', {});
      await rest.call('POST', secretsPath(), { body: tokenSecret('token-auth') });
      await rest.call('POST', connectorsPath(), {
        body: connector('redirect', {
          connectorClassName: name,
          address: a.url,
          auth: { name: 'token', secretRef: { name: 'token-auth' } },
        }),
      });
      await waitConnectorCondition(rest, ns, 'redirect', 'Ready', { status: 'True' });
      const atA = a.requests.find((r) => r.path === '/check');
      expect(atA?.headers.authorization).to.equal('Bearer s3cr3t-token-value');
      const atB = b.requests.find((r) => r.path === '/landing');
      expect(atB, 'the redirect was followed').to.not.equal(undefined);
      expect(atB!.headers.authorization).to.equal(undefined);
      expect(atB!.headers['x-api-key']).to.equal(undefined);
      expect(JSON.stringify(b.requests.map((r) => r.rawHeaders))).to.not.contain('s3cr3t-token-value');
    });

    it('disableRedirect: a redirect is not followed (and 302 is not success)', async () => {
      b.clear();
      const name = await tokenClass('noredirect', { disableRedirect: true });
      await upsert(rest, secretsPath(), tokenSecret('token-auth'));
      await rest.call('POST', connectorsPath(), {
        body: connector('noredirect', {
          connectorClassName: name,
          address: a.url,
          auth: { name: 'token', secretRef: { name: 'token-auth' } },
        }),
      });
      const bad = await waitConnectorCondition(rest, ns, 'noredirect', 'AuthReady', { status: 'False' });
      expect(cond(bad, 'AuthReady')).to.include({
        reason: 'AuthenticationFailed',
        message: 'Authentication failed: status code 302',
      });
      expect(b.requests.filter((r) => r.path === '/landing')).to.have.length(0);
    });

    it('response.cel over the JSON body: {status: ok} → True, {status: bad} → False', async () => {
      let status = 'ok';
      a.setHandler((req, res) => {
        if (req.path === '/check')
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
        else res.writeHead(200).end('ok');
      });
      const name = await tokenClass('cel-body', {
        response: { cel: "response.statusCode == 200 && response.body.status == 'ok'" },
      });
      await upsert(rest, secretsPath(), tokenSecret('token-auth'));
      await rest.call('POST', connectorsPath(), {
        body: connector('cel-body', {
          connectorClassName: name,
          address: a.url,
          auth: { name: 'token', secretRef: { name: 'token-auth' } },
        }),
      });
      await waitConnectorCondition(rest, ns, 'cel-body', 'AuthReady', { status: 'True' });
      status = 'bad';
      // A spec change re-probes at once.
      const cur = await getConnector(rest, ns, 'cel-body');
      cur.spec.address = `${a.url}/prefix`;
      await rest.call('PUT', connectorPath(ns, 'cel-body'), { body: cur });
      const bad = await waitConnectorCondition(rest, ns, 'cel-body', 'AuthReady', { status: 'False' });
      expect(cond(bad, 'AuthReady')?.reason).to.equal('AuthenticationFailed');
      // The address path prefix is not added to the probe path.
      expect(a.requests.filter((r) => r.path.startsWith('/prefix'))).to.have.length(0);
    });

    it('liveness: 200 → True, 500 → LivenessReady=False ', async () => {
      a.setHandler((req, res) => void res.writeHead(req.path === '/healthz' ? 500 : 200).end('x'));
      const name = await tokenClass('live500', {});
      await upsert(rest, secretsPath(), tokenSecret('token-auth'));
      await rest.call('POST', connectorsPath(), {
        body: connector('live500', {
          connectorClassName: name,
          address: a.url,
          auth: { name: 'token', secretRef: { name: 'token-auth' } },
        }),
      });
      const bad = await waitConnectorCondition(rest, ns, 'live500', 'LivenessReady', { status: 'False' });
      expect(cond(bad, 'LivenessReady')).to.include({
        reason: 'LivenessProbeFailed',
        message: 'Liveness probe failed: status code 500',
      });
    });

    it('a Secret missing a declared key and a Secret of the wrong type give specific messages', async () => {
      const name = await tokenClass('keys', {});
      await rest.call('POST', secretsPath(), {
        body: objects.opaqueSecret('no-token', { other: 'x' }, { namespace: ns }),
      });
      await rest.call('POST', connectorsPath(), {
        body: connector('missing-key', {
          connectorClassName: name,
          address: a.url,
          auth: { name: 'token', secretRef: { name: 'no-token' } },
        }),
      });
      const bad = await waitConnectorCondition(rest, ns, 'missing-key', 'SecretReady', { status: 'False' });
      expect(cond(bad, 'SecretReady')).to.include({
        reason: 'SecretKeyMissing',
        message: 'Secret "no-token" is missing key "token" required by auth type "token"',
      });
      await rest.call('POST', secretsPath(), {
        body: objects.basicAuthSecret('basic-not-opaque', 'u', 'p', { namespace: ns }),
      });
      await rest.call('POST', connectorsPath(), {
        body: connector('wrong-type', {
          connectorClassName: name,
          address: a.url,
          auth: { name: 'token', secretRef: { name: 'basic-not-opaque' } },
        }),
      });
      const bad2 = await waitConnectorCondition(rest, ns, 'wrong-type', 'SecretReady', { status: 'False' });
      expect(cond(bad2, 'SecretReady')).to.include({
        reason: 'SecretTypeMismatch',
        message: `Secret "basic-not-opaque" has type "kubernetes.io/basic-auth", but auth type "token" of connectorclass "${name}" requires "Opaque"`,
      });
    });
  });

  it('optional auth without a Secret: SecretOptional, and the probe sends no Authorization', async () => {
    await git.clearRequests();
    await rest.call('POST', connectorsPath(), {
      body: connector('anonymous', {
        auth: { name: 'basicAuth', params: [{ name: 'repository', value: 'your-org/your-repo.git' }] },
      }),
    });
    const got = await waitConnectorCondition(rest, ns, 'anonymous', 'AuthReady', { status: 'False' });
    expect(cond(got, 'SecretReady')).to.include({ status: 'True', reason: 'SecretOptional' });
    // The test git server wants credentials everywhere: without any, the probe gets 401.
    expect(cond(got, 'AuthReady')?.message).to.equal('Authentication failed: status code 401');
    const probe = (await git.requests()).find((r) => r.path === '/your-org/your-repo.git/info/refs');
    expect(probe?.headers.authorization).to.equal(undefined);
  });

  it(
    'without the authProbe params (the reference omits repository) the credentials are checked at the ' +
      'address root: Ready, and a refused password fails',
    async () => {
      await upsert(rest, secretsPath(), objects.basicAuthSecret('git-auth', USER, PASSWORD, { namespace: ns }));
      await git.clearRequests();
      await rest.call('POST', connectorsPath(), {
        body: connector('no-params', { auth: { name: 'basicAuth', secretRef: { name: 'git-auth' } } }),
      });
      const ok = await waitConnectorCondition(rest, ns, 'no-params', 'Ready', { status: 'True' });
      expect(cond(ok, 'AuthReady')).to.include({ status: 'True', reason: 'AuthParamsMissing' });
      expect(cond(ok, 'AuthReady')?.message).to.match(
        /^credentials checked at the address root only \(status code 404\): set spec\.auth\.params "repository" for the authProbe's own check$/,
      );
      // The liveness probe asks / without credentials; the auth probe asks it with them.
      const atRoot = (await git.requests()).filter((r) => r.path === '/').map((r) => r.headers.authorization);
      expect(atRoot).to.include(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);

      await upsert(
        rest,
        secretsPath(),
        objects.basicAuthSecret('git-refused', USER, 'not-the-password', { namespace: ns }),
      );
      await rest.call('POST', connectorsPath(), {
        body: connector('no-params-refused', { auth: { name: 'basicAuth', secretRef: { name: 'git-refused' } } }),
      });
      const bad = await waitConnectorCondition(rest, ns, 'no-params-refused', 'AuthReady', { status: 'False' });
      expect(cond(bad, 'AuthReady')).to.include({
        reason: 'AuthenticationFailed',
        message:
          'Authentication failed: status code 401 at the address root (spec.auth.params gives no "repository" for the authProbe\'s own check)',
      });
    },
  );

  it('at rest the controller writes nothing: statuses keep their resourceVersion', async () => {
    const before = await getConnector(rest, ns, 'git-connector');
    await new Promise((r) => setTimeout(r, 3000));
    const after = await getConnector(rest, ns, 'git-connector');
    expect(after.metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
  });

  it('serves /healthz, /readyz and /metrics with reconcile and probe metrics', async () => {
    const base = `http://127.0.0.1:${ctrl.health!.port}`;
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    await eventually('readyz', async () => (await fetch(`${base}/readyz`)).status === 200, 30_000);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.match(/connectors_controller_reconcile_total\{kind="Connector",result="requeue"\} \d+/);
    expect(metrics).to.match(/connectors_controller_probe_total\{type="auth",result="success"\} \d+/);
    expect(metrics).to.contain('connectors_controller_queue_depth');
    expect(metrics).to.contain('connectors_controller_reconcile_duration_seconds');
  });

  it('Events are recorded on Ready transitions', async () => {
    const events = await rest.call<{
      items: Array<{ involvedObject: { name: string }; reason: string; type: string; message: string }>;
    }>('GET', `/api/v1/namespaces/${ns}/events`);
    const forWrong = events.items.filter((e) => e.involvedObject.name === 'wrong-password');
    expect(forWrong.some((e) => e.type === 'Warning' && e.reason === 'AuthenticationFailed')).to.equal(true);
    expect(forWrong.some((e) => e.type === 'Normal' && e.reason === 'Ready')).to.equal(true);
    expect(JSON.stringify(events.items)).to.not.contain(PASSWORD);
  });

  it('the logs never contain a password or token', () => {
    const all = logs.join('\n');
    expect(all).to.not.contain(PASSWORD);
    expect(all).to.not.contain('not-the-password');
    expect(all).to.not.contain('s3cr3t-token-value');
    expect(all).to.not.contain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  });
});
