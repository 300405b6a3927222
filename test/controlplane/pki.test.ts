// core/pki: certificates that real TLS peers (Node's TLS here; Go's in the control-plane tests) accept.
import { expect } from 'chai';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as pki from '../../core/pki/index.ts';

/** GET / on 127.0.0.1:port as `servername`, trusting `ca`; resolves to the response body or the TLS error. */
function fetchOver(
  port: number,
  servername: string,
  ca: string,
  client?: { cert: string; key: string },
): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, servername, ca, ...client, agent: false, headers: { host: servername } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error: ${err.code ?? err.message}`));
    req.end();
  });
}

describe('pki: certificates over real TLS', () => {
  let ca: pki.CertificateAuthority;
  let server: Server;
  let port: number;

  before(async () => {
    ca = await pki.createCA({ commonName: 'pki-test-ca' });
    const serving = await pki.issueServingCert(ca, {
      dnsNames: ['localhost', 'svc.example'],
      ipAddresses: ['127.0.0.1'],
    });
    server = createServer(
      { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.end(peer && peer.subject ? `client ${JSON.stringify(peer.subject)}` : 'anonymous');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  const names: { servername: string; accepted: boolean }[] = [
    { servername: 'localhost', accepted: true },
    { servername: 'svc.example', accepted: true },
    { servername: 'other.example', accepted: false },
  ];
  for (const { servername, accepted } of names) {
    it(`a serving certificate is ${accepted ? 'accepted' : 'rejected'} for ${servername}`, async () => {
      const body = await fetchOver(port, servername, ca.certPem);
      if (accepted) expect(body).to.equal('anonymous');
      else expect(body).to.equal('error: ERR_TLS_CERT_ALTNAME_INVALID');
    });
  }

  it('a serving certificate is rejected by a client that trusts another CA', async () => {
    const other = await pki.createCA({ commonName: 'other-ca' });
    expect(await fetchOver(port, 'localhost', other.certPem)).to.match(
      /^error: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/,
    );
  });

  it('a client certificate carries the user as CN and the groups as O', async () => {
    const client = await pki.issueClientCert(ca, {
      commonName: 'alice',
      organizations: ['system:masters', 'team,with,commas'],
    });
    const body = await fetchOver(port, 'localhost', ca.certPem, { cert: client.certPem, key: client.keyPem });
    expect(JSON.parse(body.replace(/^client /, ''))).to.deep.equal({
      CN: 'alice',
      O: ['system:masters', 'team,with,commas'],
    });
    const x = new X509Certificate(client.certPem);
    expect(x.verify(new X509Certificate(ca.certPem).publicKey)).to.equal(true);
    expect(x.ca).to.equal(false);
  });

  it('keys round-trip through PEM and a CA reloads from PEM and keeps issuing', async () => {
    const rsa = await pki.generateKeyPair('rsa-2048');
    const pem = await pki.privateKeyToPem(rsa.privateKey);
    expect(createPrivateKey(pem).asymmetricKeyType).to.equal('rsa');
    expect(createPublicKey(await pki.publicKeyToPem(rsa.publicKey)).asymmetricKeyDetails?.modulusLength).to.equal(2048);
    const reloaded = await pki.loadCA(ca.certPem, ca.keyPem);
    const leaf = await pki.issueServingCert(reloaded, { dnsNames: ['reloaded.example'] });
    expect(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(ca.certPem))).to.equal(true);
    expect(pki.decodePem(leaf.certPem + ca.certPem).map((b) => b.label)).to.deep.equal(['CERTIFICATE', 'CERTIFICATE']);
  });

  it('the serving-certificate cache issues once per name, shares concurrent requests and is fast', async () => {
    const cache = new pki.ServingCertCache(ca);
    const [a, b] = await Promise.all([cache.get('Proxy.Example'), cache.get('proxy.example')]);
    expect(a).to.equal(b);
    expect(await cache.get('proxy.example')).to.equal(a);
    expect(new X509Certificate(a.certPem).subjectAltName).to.equal('DNS:proxy.example');
    expect(new X509Certificate((await cache.get('10.1.2.3')).certPem).subjectAltName).to.equal('IP Address:10.1.2.3');
    const started = performance.now();
    for (let i = 0; i < 50; i++) await cache.get(`host-${i}.example`);
    expect(performance.now() - started, '50 new names').to.be.below(2000);
  });
});
