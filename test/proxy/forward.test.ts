// Forward mode (scenarios 26-28) and CONNECT: Proxy-Authorization with one or several Connectors,
// credentials only for targets matching a listed Connector's address, 407 without credentials, HTTPS
// interception for Connector hosts (certificate from the proxy CA, published in connectors-proxy-ca) and
// untouched tunnelling for allowed hosts; redirects to another host carry no injected credentials, and a Location
// never carries a credential injected into the query. Hosts that are not a Connector's are refused by default,
// and loopback, link-local and the proxy itself always: the "other" upstreams listen on this machine's own
// non-loopback address, which the test proxy allows.
import {
  objects,
  runCommand,
  startRecordingUpstream,
  echoHandler,
  type RecordingUpstream,
  eventually,
  seedGenerators,
} from '@connectors/test-support';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import { readProxyCA, startProxy, PROXY_CA_NAME, type RunningProxy } from '../../proxy/index.ts';
import { auditLines, basic, setup, type Env } from './fixture.ts';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** This machine's first non-loopback IPv4 address: a host forward mode may be allowed to reach. */
function ownAddress(): string {
  const a = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!a) throw new Error('the forward-mode tests need a non-loopback IPv4 address on this machine');
  return a;
}

/** Raw bytes to the proxy on a fresh connection; resolves with everything it answers until it closes (or 3 s). */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(text, 'latin1'));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 3000).unref();
  });
}

describe('proxy: forward mode and CONNECT', function () {
  this.timeout(300_000);
  let env: Env;
  let ns2: string;
  let a: RecordingUpstream;
  let b: RecordingUpstream;
  let other: RecordingUpstream;
  let tlsUp: HttpsServer;
  let tlsOther: HttpsServer;
  const tlsSeen: Array<{ url: string; authorization?: string; host?: string }> = [];
  let upstreamCaPem: string;
  let token: string;
  let work: string;
  const secretA = 'A-' + randomBytes(6).toString('hex');
  const secretB = 'B-' + randomBytes(6).toString('hex');
  const secretT = 'T-' + randomBytes(6).toString('hex');
  const own = ownAddress();

  function viaProxy(
    target: string,
    o: { proxyAuth?: string; method?: string; headers?: Record<string, string>; proxy?: RunningProxy } = {},
  ): Promise<Res> {
    const t = new URL(target);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { host: t.host, ...o.headers };
      if (o.proxyAuth !== undefined) headers['proxy-authorization'] = o.proxyAuth;
      const req = httpRequest(
        { host: '127.0.0.1', port: (o.proxy ?? env.proxy).port, method: o.method ?? 'GET', path: target, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
  const proxyAuth = (user: string, tok = token) => 'Basic ' + Buffer.from(`${user}:${tok}`).toString('base64');

  async function httpsServer(
    certFor: string,
    onRequest: (url: string, headers: Record<string, string | string[] | undefined>) => void,
  ): Promise<HttpsServer> {
    const cert = await issueServingCert(await sharedCa(), { ipAddresses: [certFor] });
    const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      onRequest(req.url ?? '', req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`tls upstream saw ${req.url}\n`);
    });
    await new Promise<void>((r) => server.listen(0, certFor, () => r()));
    return server;
  }
  let upstreamCa: ReturnType<typeof createCA> | undefined;
  const sharedCa = () => (upstreamCa ??= createCA({ commonName: 'upstream test ca' }));

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'connectors-proxy-fwd-'));
    a = await startRecordingUpstream({
      handler: (req, res) => {
        if (req.path === '/redirect-out') {
          res.writeHead(302, { location: `${other.url}/landed` }).end();
          return;
        }
        void echoHandler(req, res);
      },
    });
    b = await startRecordingUpstream();
    other = await startRecordingUpstream({ host: own });
    upstreamCaPem = (await sharedCa()).certPem;
    tlsUp = await httpsServer('127.0.0.1', (url, h) =>
      tlsSeen.push({ url, authorization: h.authorization as string | undefined, host: h.host as string | undefined }),
    );
    tlsOther = await httpsServer(own, (url, h) =>
      tlsSeen.push({ url: 'other:' + url, authorization: h.authorization as string | undefined }),
    );
    env = await setup('proxy-fwd', {
      upstream: { caPem: upstreamCaPem },
      // The other upstreams' host; and, to show they stay refused even when allowed, the metadata service,
      // loopback and a name that resolves to loopback.
      forwardAllowHosts: [own, '169.254.169.254', '127.0.0.1', 'localhost'],
    });
    ns2 = await env.c.createNamespace('proxy-fwd-2');
    const tlsPort = (tlsUp.address() as AddressInfo).port;
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('a', 'ua', secretA),
        objects.bearerTokenSecret('t', secretT),
        objects.connector('a', { className: 'git', address: a.url, auth: { name: 'basicAuth', secret: 'a' } }),
        objects.connector('tls', {
          className: 'git',
          address: `https://127.0.0.1:${tlsPort}/`,
          auth: { name: 'bearer', secret: 't' },
        }),
      ),
    );
    await env.c.kubectl(['apply', '-n', ns2, '-f', '-'], {
      input: objects.yaml(
        objects.bearerTokenSecret('b', secretB),
        objects.connector('b', { className: 'git', address: `${b.url}/`, auth: { name: 'bearer', secret: 'b' } }),
        objects.connectorReader({
          name: 'get-b',
          serviceAccount: 'builder',
          saNamespace: env.ns,
          resourceNames: ['b'],
        }),
      ),
    });
    await env.serviceAccount('builder', ['a', 'tls']);
    token = await env.token('builder');
    await eventually(
      'the proxy to see the connectors',
      async () => {
        const r = await viaProxy(`${b.url}/ready`, { proxyAuth: proxyAuth(`${ns2}/b`) });
        return r.status === 200 && (b.requests.at(-1)?.headers.authorization ?? '') !== '';
      },
      30_000,
      50,
    );
  });
  after(async () => {
    await env?.stop();
    if (ns2) await env?.c.deleteNamespace(ns2);
    for (const u of [a, b, other]) await u?.stop();
    for (const s of [tlsUp, tlsOther]) s?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const u of [a, b, other]) u.clear();
    tlsSeen.length = 0;
  });

  it('injects the Connector credentials for a matching target and forwards other targets without them', async () => {
    const r = await viaProxy(`${a.url}/org/repo?x=1`, { proxyAuth: proxyAuth(`${env.ns}/a`) });
    expect(r.status).to.equal(200);
    expect(a.last().url).to.equal('/org/repo?x=1');
    expect(a.last().headers.authorization).to.equal(basic('ua', secretA));
    expect(a.last().headers['proxy-authorization']).to.equal(undefined);
    const o = await viaProxy(`${other.url}/`, {
      proxyAuth: proxyAuth(`${env.ns}/a`),
      headers: { authorization: 'Bearer the-clients-own' },
    });
    expect(o.status).to.equal(200);
    expect(other.last().headers.authorization).to.equal('Bearer the-clients-own');
    expect(JSON.stringify(other.last().rawHeaders)).to.not.include(token);
  });

  it('answers 407 with Proxy-Authenticate without Proxy-Authorization, 407 for a bad token, 403 for a Connector the SA may not get', async () => {
    const r = await viaProxy(`${a.url}/`);
    expect(r.status).to.equal(407);
    expect(r.headers['proxy-authenticate']).to.equal('Basic realm="connectors-proxy"');
    expect((await viaProxy(`${a.url}/`, { proxyAuth: proxyAuth(`${env.ns}/a`, 'garbage') })).status).to.equal(407);
    expect(
      (await viaProxy(`${a.url}/`, { proxyAuth: 'Basic ' + Buffer.from('no-namespace:' + token).toString('base64') }))
        .status,
    ).to.equal(407);
    const forbidden = await viaProxy(`${a.url}/`, { proxyAuth: proxyAuth(`${env.ns}/a,${ns2}/not-allowed`) });
    expect(forbidden.status).to.equal(403);
    expect(a.requests).to.have.length(0);
  });

  it('with several Connectors (URL form ns%2Fname), injects the credentials of the one whose address matches', async () => {
    const user = `${encodeURIComponent(`${env.ns}/a`)},${encodeURIComponent(`${ns2}/b`)}`;
    expect(user).to.include('%2F');
    await viaProxy(`${a.url}/one`, { proxyAuth: proxyAuth(user) });
    await viaProxy(`${b.url}/two`, { proxyAuth: proxyAuth(user) });
    await viaProxy(`${other.url}/three`, { proxyAuth: proxyAuth(user) });
    expect(a.last().headers.authorization).to.equal(basic('ua', secretA));
    expect(b.last().headers.authorization).to.equal(`Bearer ${secretB}`);
    expect(other.last().headers.authorization).to.equal(undefined);
  });

  it('a redirect to another host is passed to the client and the next hop carries no injected credentials', async () => {
    const { stdout } = await runCommand('curl', [
      '-sS',
      '-L',
      '-x',
      env.proxy.url,
      '--proxy-user',
      `${env.ns}/a:${token}`,
      `${a.url}/redirect-out`,
    ]);
    expect(stdout).to.include('"url":"/landed"');
    expect(a.requests).to.have.length(1);
    expect(a.last().headers.authorization).to.equal(basic('ua', secretA));
    expect(other.last().path).to.equal('/landed');
    expect(other.last().headers.authorization).to.equal(undefined);
    expect(JSON.stringify(other.last().rawHeaders)).to.not.include(secretA);
  });

  it('a redirect keeping the query hands the client no credential injected there (generator.rego, position query)', async () => {
    const cls = `fwd-apikey-${randomBytes(3).toString('hex')}`;
    const key = 'K-' + randomBytes(6).toString('hex');
    const rego = seedGenerators().get('apikey-rego-auth')!.rego;
    const q = await startRecordingUpstream({
      handler: (req, res) =>
        void res.writeHead(301, { location: `${q.url}/kept/${req.url.slice(req.url.indexOf('?'))}` }).end(),
    });
    try {
      await env.storePolicy(rego);
      await env.c.kubectl(['apply', '-f', '-'], {
        input: objects.yaml(
          objects.connectorClass(cls, {
            address: { name: 'address', type: 'string' },
            auth: { types: [objects.regoAuthType('apikey-rego-auth', rego)] },
          }),
        ),
      });
      await env.apply(
        objects.yaml(
          objects.opaqueSecret('apikey', { apikey: key }),
          objects.connector('qry', {
            className: cls,
            address: q.url,
            auth: { name: 'apikey-rego-auth', secret: 'apikey' },
          }),
        ),
      );
      await env.apply(
        objects.yaml(
          objects.connectorReader({
            name: 'builder-get-qry',
            serviceAccount: 'builder',
            saNamespace: env.ns,
            resourceNames: ['qry'],
          }),
        ),
      );
      env.proxy.clearAuthCache();
      const r = await eventually(
        'the proxy to inject the key',
        async () => {
          const got = await viaProxy(`${q.url}/things?q=1`, { proxyAuth: proxyAuth(`${env.ns}/qry`) });
          return got.status === 301 && q.requests.at(-1)?.query.get('api_key') === key && got;
        },
        30_000,
        100,
      );
      expect(q.last().url).to.equal(`/things?q=1&api_key=${key}`);
      expect(r.headers.location).to.equal(`${q.url}/kept/?q=1`);
    } finally {
      await q.stop();
      await env.c.kubectl(['delete', 'connectorclass', cls, '--ignore-not-found']);
    }
  });

  it('publishes the interception CA in connectors-proxy-ca (Secret with the key, ConfigMap with ca.crt)', async () => {
    const pem = await readProxyCA(env.c.kubeConfig, env.systemNs);
    expect(pem).to.match(/^-----BEGIN CERTIFICATE-----/);
    expect(pem).to.equal(env.proxy.caPem());
    const secret = await env.c.core.readNamespacedSecret({ name: PROXY_CA_NAME, namespace: env.systemNs });
    expect(Object.keys(secret.data ?? {})).to.include.members(['tls.crt', 'tls.key', 'ca.crt']);
  });

  it('CONNECT to a Connector host is intercepted with a certificate from the proxy CA and credentials are injected', async () => {
    const caFile = join(work, 'proxy-ca.pem');
    await writeFile(caFile, env.proxy.caPem()!);
    const port = (tlsUp.address() as AddressInfo).port;
    const { stdout } = await runCommand('curl', [
      '-sS',
      '--fail',
      '-x',
      env.proxy.url,
      '--proxy-user',
      `${env.ns}/tls:${token}`,
      '--cacert',
      caFile,
      `https://127.0.0.1:${port}/secure/path?q=1`,
    ]);
    expect(stdout).to.equal('tls upstream saw /secure/path?q=1\n');
    expect(tlsSeen).to.have.length(1);
    expect(tlsSeen[0].authorization).to.equal(`Bearer ${secretT}`);
    // Without the proxy CA the client refuses the intercepted certificate.
    let failure = '';
    await runCommand('curl', [
      '-sS',
      '--fail',
      '-x',
      env.proxy.url,
      '--proxy-user',
      `${env.ns}/tls:${token}`,
      `https://127.0.0.1:${port}/`,
    ]).catch((e: Error) => (failure = e.message));
    expect(failure).to.match(/certificate|SSL/i);
  });

  it('answers TRACE inside an intercepted CONNECT with 405, without reaching the tool', async () => {
    const caFile = join(work, 'proxy-ca-trace.pem');
    await writeFile(caFile, env.proxy.caPem()!);
    const port = (tlsUp.address() as AddressInfo).port;
    const { stdout } = await runCommand('curl', [
      '-sS',
      '-X',
      'TRACE',
      '-w',
      '%{http_code}',
      '-o',
      '/dev/null',
      '-x',
      env.proxy.url,
      '--proxy-user',
      `${env.ns}/tls:${token}`,
      '--cacert',
      caFile,
      `https://127.0.0.1:${port}/echo`,
    ]);
    expect(stdout).to.equal('405');
    expect(tlsSeen).to.deep.equal([]);
  });

  it("CONNECT to any other host is tunnelled untouched (the upstream's own certificate, no credentials); CONNECT without credentials gets 407", async () => {
    const caFile = join(work, 'upstream-ca.pem');
    await writeFile(caFile, upstreamCaPem);
    const port = (tlsOther.address() as AddressInfo).port;
    // Verified against the upstream's CA, not the proxy's: the proxy did not terminate TLS.
    const { stdout } = await runCommand('curl', [
      '-sS',
      '--fail',
      '-x',
      env.proxy.url,
      '--proxy-user',
      `${env.ns}/tls:${token}`,
      '--cacert',
      caFile,
      `https://${own}:${port}/t`,
    ]);
    expect(stdout).to.equal('tls upstream saw /t\n');
    expect(tlsSeen).to.deep.equal([{ url: 'other:/t', authorization: undefined }]);
    let failure = '';
    await runCommand('curl', [
      '-sS',
      '--fail',
      '-x',
      env.proxy.url,
      '--cacert',
      caFile,
      `https://${own}:${port}/t`,
    ]).catch((e: Error) => (failure = e.message));
    expect(failure).to.match(/407/);
  });

  describe('reach', () => {
    let plain: RunningProxy;
    before(async () => {
      // A second proxy with the default options: no host is allowed besides the listed Connectors'.
      plain = await startProxy(env.c.kubeConfig, { host: '127.0.0.1', port: 0, systemNamespace: env.systemNs });
    });
    after(async () => plain?.stop());

    const targets: [string, () => string][] = [
      ['a host that is not a Connector’s', () => `${other.url}/x`],
      ['loopback', () => `http://127.0.0.1:${b.port}/x`],
      ['the cloud metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
    ];
    for (const [what, target] of targets)
      it(`by default refuses ${what} with 403 and says why, for plain requests and CONNECT`, async () => {
        const r = await viaProxy(target(), { proxyAuth: proxyAuth(`${env.ns}/a`), proxy: plain });
        expect(r.status).to.equal(403);
        expect(r.body).to.match(/is not the address of a listed connector: forward mode reaches only those/);
        const u = new URL(target());
        const host = `${u.hostname}:${u.port || '80'}`;
        const c = await rawExchange(
          plain.port,
          `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\nProxy-Authorization: ${proxyAuth(`${env.ns}/a`)}\r\n\r\n`,
        );
        expect(c)
          .to.match(/^HTTP\/1\.1 403 /)
          .and.match(/is not the address of a listed connector/);
        expect(other.requests).to.have.length(0);
        expect(b.requests).to.have.length(0);
      });

    it('still reaches the listed Connectors by default', async () => {
      const r = await viaProxy(`${a.url}/default`, { proxyAuth: proxyAuth(`${env.ns}/a`), proxy: plain });
      expect(r.status).to.equal(200);
      expect(a.last().headers.authorization).to.equal(basic('ua', secretA));
    });

    const never: [string, () => string, RegExp][] = [
      [
        'the metadata service',
        () => 'http://169.254.169.254/latest/meta-data/',
        /169\.254\.169\.254: a link-local address/,
      ],
      ['a loopback address', () => `http://127.0.0.1:${b.port}/x`, /127\.0\.0\.1: a loopback/],
      [
        'a name that resolves to loopback',
        () => `http://localhost:${b.port}/x`,
        /localhost: it resolves to (127\.0\.0\.1|::1), a loopback/,
      ],
      ['the proxy itself', () => `http://${own}:${env.proxy.port}/x`, /: this proxy/],
    ];
    for (const [what, target, why] of never)
      it(`never reaches ${what}, even when allowed (plain requests and CONNECT)`, async () => {
        const r = await viaProxy(target(), { proxyAuth: proxyAuth(`${env.ns}/a`) });
        expect(r.status).to.equal(403);
        expect(r.body).to.match(why);
        const u = new URL(target());
        const host = `${u.hostname}:${u.port || '80'}`;
        const c = await rawExchange(
          env.proxy.port,
          `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\nProxy-Authorization: ${proxyAuth(`${env.ns}/a`)}\r\n\r\n`,
        );
        expect(c)
          .to.match(/^HTTP\/1\.1 403 /)
          .and.match(why);
        expect(b.requests).to.have.length(0);
      });

    const authorities = ['example.com:99999', 'example.com:0', '[::1:443', 'exa_mple..com:443', 'example.com'];
    for (const authority of authorities)
      it(`answers a CONNECT to ${JSON.stringify(authority)} with 400, and keeps running`, async () => {
        const c = await rawExchange(
          env.proxy.port,
          `CONNECT ${authority} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${proxyAuth(`${env.ns}/a`)}\r\n\r\n`,
        );
        expect(c).to.match(/^HTTP\/1\.1 400 /);
        expect((await viaProxy(`${a.url}/after`, { proxyAuth: proxyAuth(`${env.ns}/a`) })).status).to.equal(200);
      });
  });

  it('audits forward requests with the matched Connector and the ServiceAccount, and logs no token or secret', async () => {
    const before = env.logs.length;
    await viaProxy(`${a.url}/audited?token=zzz`, { proxyAuth: proxyAuth(`${env.ns}/a`) });
    const [line] = auditLines(env.logs.slice(before));
    expect(line).to.include({
      mode: 'forward',
      connector: `${env.ns}/a`,
      serviceAccount: `${env.ns}/builder`,
      method: 'GET',
      path: `${a.url}/audited`,
      status: 200,
    });
    const all = env.logs.join('\n');
    for (const s of [token, secretA, secretB, secretT, 'token=zzz']) expect(all).to.not.include(s);
  });
});
