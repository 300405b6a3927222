// The ConnectorClass reconciler (proxy and API addresses, their checks), local-mode addresses, API auth probes
// and custom CA certificates, against a real kube-apiserver.
import {
  eventually,
  cluster,
  type Cluster,
  startRecordingUpstream,
  type RecordingUpstream,
  freePort,
  objects,
} from '@connectors/test-support';
import { expect } from 'chai';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as pki from '../../core/pki/index.ts';
import type { KubeRest } from '../../core/kube/rest.ts';
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import {
  restFor,
  waitConnectorCondition,
  waitClassCondition,
  upsert,
  ensureNamespace,
  createProxyService,
  cond,
  classPath,
} from './helpers.ts';

describe('controller: ConnectorClass status (real apiserver)', function () {
  this.timeout(120_000);
  let c: Cluster;
  let rest: KubeRest;
  let ns: string;
  let sys: string;
  let ctrl: RunningController;
  let up: RecordingUpstream;
  /** The CA of class API plugins the controller trusts (`connectors controller --plugin-ca-file`). */
  let pluginCa: pki.CertificateAuthority;
  const suffix = Math.random().toString(16).slice(2, 8);
  const created: string[] = [];

  async function makeClass(
    name: string,
    spec: ConnectorClass['spec'],
    annotations?: Record<string, string>,
  ): Promise<string> {
    const full = `${name}-${suffix}`;
    await upsert(
      rest,
      '/apis/connectors.alauda.io/v1alpha1/connectorclasses',
      objects.connectorClass(full, spec, { annotations }),
    );
    created.push(full);
    return full;
  }
  async function makeConnector(name: string, className: string, extra: Partial<Connector['spec']> = {}): Promise<void> {
    await rest.call('POST', `/apis/connectors.alauda.io/v1alpha1/namespaces/${ns}/connectors`, {
      body: objects.connector(name, { namespace: ns, className, address: up.url, spec: extra }),
    });
  }

  before(async function () {
    this.timeout(300_000);
    c = await cluster();
    rest = await restFor(c);
    up = await startRecordingUpstream();
    ns = await c.createNamespace('ctrl-class');
    sys = `ctrl-sys-${suffix}`;
    await ensureNamespace(rest, sys);
    await createProxyService(rest, sys);
    pluginCa = await pki.createCA({ commonName: 'ctrl-test-plugin-ca' });
    ctrl = await startController(c.kubeConfig, {
      systemNamespace: sys,
      leaderElect: false,
      pluginCaPem: pluginCa.certPem,
    });
    await ctrl.synced;
  });

  after(async () => {
    await ctrl?.stop();
    for (const n of created) await rest.call('DELETE', classPath(n)).catch(() => {});
    await up?.stop();
    await rest?.close();
  });

  // Seed 002 also shows classes with metadata only (its git and oci examples of labels and annotations).
  for (const [what, slug, spec] of [
    ['a spec without api and proxy', 'bare', { address: { name: 'address', type: 'string' } }],
    ['no spec at all', 'no-spec', undefined],
  ] as const) {
    it(`18, ${what}: APIReady=True/NonAPI; ProxyReady=True/NonProxy; Ready=True; its Connectors get the Non* reasons and no status.proxy (4)`, async () => {
      const name = await makeClass(slug, spec);
      const cls = await waitClassCondition(rest, name, 'Ready', { status: 'True' });
      expect(cond(cls, 'APIReady')).to.include({ status: 'True', reason: 'NonAPI' });
      expect(cond(cls, 'ProxyReady')).to.include({ status: 'True', reason: 'NonProxy' });
      expect(cls.status!.observedGeneration).to.equal(cls.metadata.generation);
      await makeConnector(slug, name);
      const conn = await waitConnectorCondition(rest, ns, slug, 'Ready', { status: 'True' });
      expect(cond(conn, 'SecretReady')).to.include({ status: 'True', reason: 'SecretOptional' });
      expect(cond(conn, 'LivenessReady')).to.include({ status: 'True', reason: 'NonLivenessProbe' });
      expect(cond(conn, 'AuthReady')).to.include({ status: 'True', reason: 'NonAuthProbe' });
      expect(cond(conn, 'ProxyServiceReady')).to.include({ status: 'True', reason: 'NonProxy' });
      expect(conn.status!.proxy).to.equal(undefined);
    });
  }

  it('19: an unreachable API → APIReady=False and Ready=False; an API answering 500 → APIReady=True', async () => {
    const port = await freePort();
    const down = await makeClass('api-down', { api: { uri: `http://127.0.0.1:${port}/api` } });
    const cls = await waitClassCondition(rest, down, 'APIReady', { status: 'False' });
    expect(cond(cls, 'APIReady')).to.include({
      reason: 'ConnectionFailed',
      message: `Get "http://127.0.0.1:${port}/api": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    });
    expect(cond(cls, 'Ready')).to.include({ status: 'False', reason: 'ConnectionFailed' });
    up.setHandler((_req, res) => void res.writeHead(500).end('broken'));
    const five = await makeClass('api-500', { api: { uri: `${up.url}/api` } });
    const ok = await waitClassCondition(rest, five, 'APIReady', { status: 'True' });
    expect(cond(ok, 'Ready')?.status).to.equal('True');
    expect(ok.status!.api?.address?.url).to.equal(`${up.url}/api`);
    up.setHandler((_req, res) => void res.writeHead(200).end('ok'));
  });

  it('an API plugin serving TLS: APIReady=True with a certificate of the plugin CA the controller trusts, False with another', async () => {
    const other = await pki.createCA({ commonName: 'ctrl-test-other-ca' });
    const servers: Server[] = [];
    try {
      const urls: string[] = [];
      for (const ca of [pluginCa, other]) {
        const cert = await pki.issueServingCert(ca, { commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'] });
        const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.writeHead(404).end());
        servers.push(server);
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        urls.push(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
      }
      const trusted = await makeClass('api-plugin-ca', { api: { uri: urls[0] } });
      const untrusted = await makeClass('api-other-ca', { api: { uri: urls[1] } });
      expect(cond(await waitClassCondition(rest, trusted, 'APIReady', { status: 'True' }), 'Ready')?.status).to.equal(
        'True',
      );
      const refused = await waitClassCondition(rest, untrusted, 'APIReady', { status: 'False' });
      expect(cond(refused, 'APIReady')).to.include({ reason: 'ConnectionFailed' });
      expect(cond(refused, 'APIReady')?.message).to.contain('x509: certificate signed by unknown authority');
    } finally {
      for (const s of servers) s.close();
    }
  });

  it('20: api.ref Service git/default with uri /prefix → status.api.address.url = https://git.default.svc/prefix', async () => {
    const name = await makeClass('api-ref', {
      api: { ref: { kind: 'Service', name: 'git', namespace: 'default' }, uri: '/prefix' },
    });
    const cls = await eventually(
      'api url',
      async () => {
        const x = await rest.call<ConnectorClass>('GET', classPath(name));
        return x.status?.api?.address?.url ? x : undefined;
      },
      30_000,
    );
    expect(cls.status!.api!.address!.url).to.equal('https://git.default.svc/prefix');
  });

  it('16/17: proxy Service, resolver host → http://c-github.<ns>.svc.cluster.local; resolver path → …/namespaces/<ns>/connectors/github', async () => {
    const proxy = { ref: { kind: 'Service', name: 'connectors-proxy-service', namespace: sys } };
    const host = await makeClass('proxy-host', { proxy });
    const path = await makeClass('proxy-path', { proxy }, { 'connectors.cpaas.io/proxy-resolver': 'path' });
    const cls = await waitClassCondition(rest, host, 'ProxyReady', { status: 'True' });
    expect(cls.status!.proxy?.httpAddress).to.deep.equal({
      name: 'proxy',
      url: `http://connectors-proxy-service.${sys}.svc.cluster.local`,
      audience: 'connectors-proxy',
    });
    expect(cls.status).to.not.have.property('proxyAddress');
    await makeConnector('github', host);
    const conn = await waitConnectorCondition(rest, ns, 'github', 'ProxyServiceReady', { status: 'True' });
    expect(conn.status!.proxy!.httpAddress!.url).to.equal(`http://c-github.${ns}.svc.cluster.local`);
    const other = await c.createNamespace('ctrl-class-path');
    await rest.call('POST', `/apis/connectors.alauda.io/v1alpha1/namespaces/${other}/connectors`, {
      body: objects.connector('github', { namespace: other, className: path, address: up.url }),
    });
    const viaPath = await waitConnectorCondition(rest, other, 'github', 'ProxyServiceReady', { status: 'True' });
    expect(viaPath.status!.proxy!.httpAddress!.url).to.equal(
      `http://connectors-proxy-service.${sys}.svc.cluster.local/namespaces/${other}/connectors/github`,
    );
    // The path form needs no per-Connector Service.
    const svc = await rest.call('GET', `/api/v1/namespaces/${other}/services/c-github`).catch((e) => e);
    expect((svc as { statusCode?: number }).statusCode).to.equal(404);
  });

  it('a missing proxy Service: ProxyReady=False/ProxyServiceNotFound, and its Connectors ProxyServiceReady=False', async () => {
    const name = await makeClass('proxy-missing', {
      proxy: { ref: { kind: 'Service', name: 'no-such-proxy', namespace: sys } },
    });
    const cls = await waitClassCondition(rest, name, 'ProxyReady', { status: 'False' });
    expect(cond(cls, 'ProxyReady')).to.include({
      reason: 'ProxyServiceNotFound',
      message: `Service no-such-proxy not found in namespace ${sys}`,
    });
    await makeConnector('proxy-missing', name);
    const conn = await waitConnectorCondition(rest, ns, 'proxy-missing', 'ProxyServiceReady', { status: 'False' });
    expect(cond(conn, 'ProxyServiceReady')).to.include({
      reason: 'ProxyServiceNotFound',
      message: `Service no-such-proxy not found in namespace ${sys}`,
    });
  });

  it('local mode: a class proxy with ref.address gives path-form addresses usable as written on this machine', async () => {
    const name = await makeClass('local', {
      proxy: { ref: { kind: 'Service', name: 'connectors-proxy-service', namespace: sys, address: up.url } },
    });
    await waitClassCondition(rest, name, 'ProxyReady', { status: 'True' });
    await makeConnector('local', name);
    const conn = await waitConnectorCondition(rest, ns, 'local', 'ProxyServiceReady', { status: 'True' });
    expect(conn.status!.proxy!.httpAddress!.url).to.equal(`${up.url}/namespaces/${ns}/connectors/local`);
  });

  it('11: an api auth probe goes to the class API (with its uri prefix); 200 → True, 401 → AuthenticationFailed', async () => {
    let status = 200;
    up.setHandler((req, res) => void res.writeHead(req.path === '/api/auth/check' ? status : 200).end('{}'));
    const name = await makeClass('api-auth', {
      api: { ref: { kind: 'Service', name: 'example-api', namespace: 'default', address: up.url }, uri: '/api' },
      auth: { types: [{ name: 'basicAuth', secretType: 'kubernetes.io/basic-auth' }] },
      authProbes: [{ authName: 'basicAuth', probe: { api: { path: '/auth/check' } } }],
    });
    await rest.call('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: objects.basicAuthSecret('api-auth', 'admin', 'secret'),
    });
    await makeConnector('api-auth', name, {
      address: 'http://github.com',
      auth: { name: 'basicAuth', secretRef: { name: 'api-auth' } },
    });
    await waitConnectorCondition(rest, ns, 'api-auth', 'AuthReady', { status: 'True' });
    const req = up.requests.filter((r) => r.path === '/api/auth/check').at(-1)!;
    expect(req.headers['x-plugin-meta']).to.equal('eyJiYXNlVVJMIjoiaHR0cDovL2dpdGh1Yi5jb20ifQ==');
    expect(req.headers['x-plugin-auth']).to.equal('a3ViZXJuZXRlcy5pby9iYXNpYy1hdXRo');
    expect(JSON.parse(Buffer.from(String(req.headers['x-plugin-secret']), 'base64').toString())).to.deep.equal({
      username: 'YWRtaW4=',
      password: 'c2VjcmV0',
    });
    status = 401;
    await rest.call('PATCH', `/api/v1/namespaces/${ns}/secrets/api-auth`, {
      body: { stringData: { password: 'other' } },
      contentType: 'application/merge-patch+json',
    });
    const bad = await waitConnectorCondition(rest, ns, 'api-auth', 'AuthReady', { status: 'False' });
    expect(cond(bad, 'AuthReady')).to.include({
      reason: 'AuthenticationFailed',
      message: 'Authentication failed: status code 401',
    });
  });

  describe('58: custom CA certificates (enable-custom-ca-certs)', () => {
    let server: Server;
    let url: string;
    let caPem: string;
    before(async () => {
      const ca = await pki.createCA({ commonName: 'ctrl-test-ca' });
      const cert = await pki.issueServingCert(ca, {
        commonName: '127.0.0.1',
        ipAddresses: ['127.0.0.1'],
        dnsNames: ['localhost'],
      });
      caPem = ca.certPem;
      server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.writeHead(200).end('ok'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server?.close();
      await rest.call('DELETE', `/api/v1/namespaces/${sys}/configmaps/connectors-config`).catch(() => {});
    });

    it('flag off: no CACertReady, and a private CA fails the TLS handshake', async () => {
      const name = await makeClass('tls', { livenessProbe: { http: { path: '/' } } });
      await makeConnector('tls', name, { address: url, caCertSecretRef: { name: 'tls-ca' } });
      const bad = await waitConnectorCondition(rest, ns, 'tls', 'LivenessReady', { status: 'False' });
      expect(cond(bad, 'LivenessReady')?.message).to.contain('x509: certificate signed by unknown authority');
      expect(cond(bad, 'CACertReady')).to.equal(undefined);
    });

    it('flag on: missing → SecretNotFound + Warning event, Ready unaffected; invalid PEM → InvalidPEM; valid → Valid and the probe trusts it', async () => {
      const name = await makeClass('tls-plain', {});
      await makeConnector('ca-missing', name, { caCertSecretRef: { name: 'missing' } });
      await makeConnector('ca-none', name);
      await upsert(rest, `/api/v1/namespaces/${sys}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'connectors-config' },
        data: { 'enable-custom-ca-certs': 'true' },
      } as never);
      const missing = await waitConnectorCondition(rest, ns, 'ca-missing', 'CACertReady', { status: 'False' });
      expect(cond(missing, 'CACertReady')).to.include({ reason: 'SecretNotFound', severity: 'Info' });
      expect(cond(missing, 'Ready')?.status).to.equal('True');
      const none = await waitConnectorCondition(rest, ns, 'ca-none', 'CACertReady', { status: 'True' });
      expect(cond(none, 'CACertReady')?.reason).to.equal('NoCACert');
      await eventually(
        'CACertSecretNotFound event',
        async () => {
          const ev = await rest.call<{
            items: Array<{ involvedObject: { name: string }; reason: string; type: string }>;
          }>('GET', `/api/v1/namespaces/${ns}/events`);
          return ev.items.some(
            (e) =>
              e.involvedObject.name === 'ca-missing' && e.type === 'Warning' && e.reason === 'CACertSecretNotFound',
          );
        },
        30_000,
      );

      await rest.call('POST', `/api/v1/namespaces/${ns}/secrets`, {
        body: objects.secret('tls-ca', { stringData: { foo: 'bar' } }),
      });
      const invalid = await waitConnectorCondition(rest, ns, 'tls', 'CACertReady', {
        status: 'False',
        reason: 'InvalidPEM',
      });
      expect(cond(invalid, 'CACertReady')).to.include({
        reason: 'InvalidPEM',
        message: 'Secret "tls-ca" contains invalid PEM data',
      });

      await rest.call('PUT', `/api/v1/namespaces/${ns}/secrets/tls-ca`, {
        body: objects.caCertSecret('tls-ca', caPem, { namespace: ns }),
      });
      const valid = await waitConnectorCondition(rest, ns, 'tls', 'CACertReady', { status: 'True' });
      expect(cond(valid, 'CACertReady')).to.include({
        reason: 'Valid',
        message: 'CA certificate loaded from secret "tls-ca"',
      });
      await waitConnectorCondition(rest, ns, 'tls', 'LivenessReady', { status: 'True' });
    });
  });

  it('Connector status is rewritten when its Service is deleted (the controller repairs it)', async () => {
    const proxy = { ref: { kind: 'Service', name: 'connectors-proxy-service', namespace: sys } };
    const name = await makeClass('repair', { proxy });
    await makeConnector('repair', name);
    await waitConnectorCondition(rest, ns, 'repair', 'ProxyServiceReady', { status: 'True' });
    await rest.call('DELETE', `/api/v1/namespaces/${ns}/services/c-repair`);
    await eventually(
      'Service c-repair recreated',
      async () =>
        rest.call('GET', `/api/v1/namespaces/${ns}/services/c-repair`).then(
          () => true,
          () => false,
        ),
      15_000,
    );
  });
});
