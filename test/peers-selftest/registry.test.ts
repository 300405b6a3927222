import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  libtrustKeyId,
  parseScope,
  readLayoutIndex,
  skopeo,
  startRegistry,
  type Registry,
} from '@connectors/test-support';

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => '',
    (e: Error) => e.message,
  );

describe('peer: docker-registry (distribution 2.8)', function () {
  this.timeout(120_000);
  let work: string;
  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    work = await mkdtemp(join(tmpdir(), 'connectors-registry-test-'));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const auth of ['htpasswd', 'token'] as const) {
    describe(`with ${auth} auth`, () => {
      let registry: Registry;
      before(async () => {
        registry = await startRegistry({
          auth,
          users: { alice: 'alice-pass', reader: 'reader-pass' },
          access: (user, req) => (user === 'reader' ? ['pull'] : user === undefined ? [] : req.actions),
        });
      });
      after(async () => {
        await registry?.stop();
      });

      it('challenges unauthenticated requests', async () => {
        const res = await fetch(`${registry.url}/v2/`);
        expect(res.status).to.equal(401);
        const challenge = res.headers.get('www-authenticate') ?? '';
        if (auth === 'htpasswd') expect(challenge).to.match(/^Basic realm=/);
        else expect(challenge).to.equal(`Bearer realm="${registry.tokenRealm}",service="${registry.service}"`);
      });

      it('takes an image in with skopeo and gives it back out with credentials', async () => {
        registry.clearRequests();
        const pushed = await registry.pushTestImage('org/app:v1', { sizeBytes: 20 * 1024 * 1024 });
        expect(pushed.blobBytes).to.be.greaterThan(20 * 1024 * 1024);
        const out = join(work, `pulled-${auth}`);
        await skopeo([
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          '--src-creds',
          'alice:alice-pass',
          `docker://${pushed.ref}`,
          `oci:${out}:v1`,
        ]);
        const index = await readLayoutIndex(out);
        expect(index.manifests[0].digest).to.equal(pushed.digest);
        const { stdout } = await skopeo([
          'inspect',
          '--raw',
          '--tls-verify=false',
          '--creds',
          'reader:reader-pass',
          `docker://${pushed.ref}`,
        ]);
        expect(Buffer.from(stdout).equals(pushed.manifest)).to.equal(true);
        // The registry saw only its own kind of credentials.
        const auths = registry.requests.map((r) => r.headers.authorization).filter((a): a is string => a !== undefined);
        expect(auths.length).to.be.greaterThan(0);
        for (const a of auths) expect(a).to.match(auth === 'htpasswd' ? /^Basic / : /^Bearer /);
        expect(
          registry.requests.some(
            (r) => r.method === 'PUT' && r.path === '/v2/org/app/manifests/v1' && r.status === 201,
          ),
        ).to.equal(true);
      });

      it('rejects copies without or with wrong credentials', async () => {
        await registry.pushTestImage('org/secret:v1');
        const ref = `docker://${registry.host}/org/secret:v1`;
        const anon = await failureOf(skopeo(['inspect', '--tls-verify=false', '--no-creds', ref]));
        expect(anon).to.match(/unauthorized|authentication required|denied/i);
        const wrong = await failureOf(skopeo(['inspect', '--tls-verify=false', '--creds', 'alice:nope', ref]));
        expect(wrong).to.match(/unauthorized|authentication required|denied|invalid username\/password/i);
        if (auth === 'token') {
          // htpasswd auth has no authorisation: there every known user may push.
          const readerPush = await failureOf(registry.pushTestImage('org/other:v1', { user: 'reader' }));
          expect(readerPush).to.match(/unauthorized|authentication required|denied/i);
        }
      });
    });
  }

  describe('token server', () => {
    let registry: Registry;
    before(async () => {
      registry = await startRegistry({
        auth: 'token',
        users: { alice: 'alice-pass', reader: 'reader-pass' },
        access: (user, req) => (user === 'reader' ? ['pull'] : user === undefined ? [] : req.actions),
      });
    });
    after(async () => {
      await registry?.stop();
    });

    const basic = (u: string, p: string) => ({ authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });
    const decode = (jwt: string) =>
      jwt
        .split('.')
        .slice(0, 2)
        .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));

    it('issues the intersection of requested and granted actions, with a libtrust kid', async () => {
      const q = `service=${registry.service}&scope=repository:org/app:pull,push&scope=repository:org/lib:pull`;
      const res = await fetch(`${registry.tokenRealm}?${q}`, { headers: basic('reader', 'reader-pass') });
      expect(res.status).to.equal(200);
      const body = (await res.json()) as {
        token: string;
        access_token: string;
        expires_in: number;
        issued_at: string;
        refresh_token?: string;
      };
      expect(body.token).to.equal(body.access_token);
      expect(body.expires_in).to.be.at.least(60);
      expect(body.refresh_token).to.equal(undefined);
      const [header, claims] = decode(body.token);
      expect(header.alg).to.equal('RS256');
      expect(header.kid).to.match(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
      expect(claims.aud).to.equal(registry.service);
      expect(claims.access).to.deep.equal([
        { type: 'repository', name: 'org/app', actions: ['pull'] },
        { type: 'repository', name: 'org/lib', actions: ['pull'] },
      ]);
      const rec = registry.tokenRequests.at(-1)!;
      expect(rec.user).to.equal('reader');
      expect(rec.headers.authorization).to.equal(basic('reader', 'reader-pass').authorization);
    });

    it('answers 401 to wrong credentials and gives anonymous callers an empty grant', async () => {
      const url = `${registry.tokenRealm}?service=${registry.service}&scope=repository:org/app:pull`;
      expect((await fetch(url, { headers: basic('alice', 'wrong') })).status).to.equal(401);
      const anon = await fetch(url);
      expect(anon.status).to.equal(200);
      const [, claims] = decode(((await anon.json()) as { token: string }).token);
      expect(claims.access).to.deep.equal([]);
    });

    it('returns a refresh token for offline_token=true, usable with grant_type=refresh_token', async () => {
      const res = await fetch(
        `${registry.tokenRealm}?service=${registry.service}&offline_token=true&client_id=selftest&scope=repository:org/app:pull`,
        { headers: basic('alice', 'alice-pass') },
      );
      const body = (await res.json()) as { refresh_token: string };
      expect(body.refresh_token).to.be.a('string');
      expect(registry.tokenRequests.at(-1)!.clientId).to.equal('selftest');
      const post = await fetch(registry.tokenRealm!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: body.refresh_token,
          service: registry.service,
          scope: 'repository:org/app:pull,push',
          client_id: 'selftest',
        }),
      });
      expect(post.status).to.equal(200);
      const [, claims] = decode(((await post.json()) as { access_token: string }).access_token);
      expect(claims.sub).to.equal('alice');
      expect(claims.access).to.deep.equal([{ type: 'repository', name: 'org/app', actions: ['pull', 'push'] }]);
    });

    it('mints tokens the registry accepts, and the registry refuses tokens that lack the scope', async () => {
      await registry.pushTestImage('org/app:v1');
      const path = `${registry.url}/v2/org/app/manifests/v1`;
      const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
      const good = registry.issueToken('alice', [{ type: 'repository', name: 'org/app', actions: ['pull'] }]);
      const ok = await fetch(path, { headers: { ...accept, authorization: `Bearer ${good}` } });
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('docker-content-digest')).to.match(/^sha256:/);
      const other = registry.issueToken('alice', [{ type: 'repository', name: 'org/lib', actions: ['pull'] }]);
      const denied = await fetch(path, { headers: { ...accept, authorization: `Bearer ${other}` } });
      expect(denied.status).to.equal(401);
      expect(denied.headers.get('www-authenticate')).to.include('error="insufficient_scope"');
    });
  });

  it('parses scopes and computes libtrust key IDs', () => {
    expect(parseScope('repository:localhost:5000/a/b:pull,push')).to.deep.equal({
      type: 'repository',
      name: 'localhost:5000/a/b',
      actions: ['pull', 'push'],
    });
    expect(parseScope('repository(plugin):a:pull')).to.deep.equal({ type: 'repository', name: 'a', actions: ['pull'] });
    expect(parseScope('registry:catalog:*')).to.deep.equal({ type: 'registry', name: 'catalog', actions: ['*'] });
    expect(libtrustKeyId(Buffer.from('x'))).to.match(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  });
});
