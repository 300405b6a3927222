// The OCI distribution API through the proxy, against the real apiserver and a real distribution 2.8 registry
// (htpasswd and token auth), with skopeo as the client holding nothing but a ServiceAccount token. Image
// references are the webhook's form: <proxy host>/namespaces/<ns>/connectors/<name>/<repo>:<tag>.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOciLayout, readLayoutIndex, skopeo, type Registry } from '@connectors/test-support';
import { crane, craneBinary } from './crane.ts';
import { basic, ociSetup, ROBOT, type OciEnv } from './fixture.ts';

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => '',
    (e: Error) => e.message,
  );

const json = async (r: Response): Promise<any> => r.json();
const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

describe('proxy: OCI distribution API', function () {
  this.timeout(240_000);
  let o: OciEnv;
  let work: string;
  let token: string;
  let outsiderToken: string;
  const registries: Record<string, Registry> = {};
  /** Whether the token server of retry-reg grants anything. */
  let grantRetryReg = true;

  before(async () => {
    await craneBinary();
    work = await mkdtemp(join(tmpdir(), 'connectors-oci-test-'));
    o = await ociSetup('oci');
    registries.basic = await o.addRegistry('basic-reg', { auth: 'htpasswd' });
    registries.token = await o.addRegistry('token-reg', { auth: 'token', tokenExpiresIn: 120 });
    registries.redirect = await o.addRegistry('redirect-reg', { auth: 'token', redirectBlobs: true });
    registries.retry = await o.addRegistry('retry-reg', {
      auth: 'token',
      access: (user, req) => (user !== undefined && grantRetryReg ? req.actions : []),
    });
    await o.env.serviceAccount('puller', ['basic-reg', 'token-reg', 'redirect-reg', 'retry-reg']);
    await o.env.serviceAccount('outsider', 'none');
    token = await o.env.token('puller');
    outsiderToken = await o.env.token('outsider');
  });
  after(async () => {
    await o?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const proxy = () => o.env.proxy.url;
  const api = (connector: string, path: string) =>
    `${proxy()}/v2/namespaces/${o.env.ns}/connectors/${connector}/${path}`;
  const auth = (t = token) => ({ authorization: basic('u', t) });

  /** Every header value the client got, for leak checks. */
  const headerText = (r: Response) => [...r.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');

  describe('client authentication', () => {
    it('answers GET /v2/ without credentials with 401 and a Basic challenge on the proxy', async () => {
      const r = await fetch(`${proxy()}/v2/`);
      expect(r.status).to.equal(401);
      expect(r.headers.get('www-authenticate')).to.equal('Basic realm="connectors-proxy"');
      expect(r.headers.get('docker-distribution-api-version')).to.equal('registry/2.0');
      expect((await json(r)).errors[0].code).to.equal('UNAUTHORIZED');
    });

    it('answers GET /v2/ with a valid token with 200 (token only, no connector), and a bad token with 401', async () => {
      const ok = await fetch(`${proxy()}/v2/`, { headers: auth() });
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('docker-distribution-api-version')).to.equal('registry/2.0');
      const outsider = await fetch(`${proxy()}/v2/`, { headers: auth(outsiderToken) });
      expect(outsider.status, 'authenticated even without access to any connector').to.equal(200);
      const bad = await fetch(`${proxy()}/v2/`, { headers: auth('not-a-token') });
      expect(bad.status).to.equal(401);
      expect(bad.headers.get('www-authenticate')).to.equal('Basic realm="connectors-proxy"');
    });

    for (const [method, path] of [
      ['GET', 'app/tags/list'],
      ['HEAD', 'app/manifests/v1'],
      ['POST', 'app/blobs/uploads/'],
    ] as const) {
      it(`answers ${method} ${path} without credentials with the proxy's challenge, before any registry request`, async () => {
        registries.basic.clearRequests();
        const r = await fetch(api('basic-reg', path), { method });
        expect(r.status).to.equal(401);
        expect(r.headers.get('www-authenticate')).to.equal('Basic realm="connectors-proxy"');
        expect(registries.basic.requests).to.have.length(0);
      });
    }

    it('refuses a ServiceAccount without get on the Connector with 403 DENIED, and skopeo fails', async () => {
      const r = await fetch(api('token-reg', 'app/tags/list'), { headers: auth(outsiderToken) });
      expect(r.status).to.equal(403);
      expect((await json(r)).errors[0].code).to.equal('DENIED');
      const msg = await failureOf(
        skopeo([
          'inspect',
          '--tls-verify=false',
          '--creds',
          `u:${outsiderToken}`,
          `docker://${o.refPrefix('token-reg')}/app:v1`,
        ]),
      );
      expect(msg).to.match(/denied|forbidden|403/i);
    });
  });

  for (const mode of ['basic', 'token'] as const) {
    const connector = `${mode}-reg`;
    describe(`${mode === 'basic' ? 'htpasswd (Basic)' : 'token (Bearer)'} registry`, () => {
      let registry: Registry;
      let pushed: { digest: string; manifest: Buffer };
      before(async () => {
        registry = registries[mode];
        pushed = await registry.pushTestImage('team/app:v1', { sizeBytes: 4 * 1024 * 1024 });
        registry.clearRequests();
      });

      /** The registry and its token server saw only the Connector's credentials, never the client's token. */
      function assertRegistrySawOnlyConnectorCredentials() {
        expect(registry.requests.length).to.be.greaterThan(0);
        for (const r of registry.requests) {
          for (const v of Object.values(r.headers)) expect(String(v), `${r.method} ${r.path}`).to.not.include(token);
          const a = r.headers.authorization;
          if (mode === 'basic') expect(a, `${r.method} ${r.path}`).to.equal(basic(ROBOT, o.robotPassword));
          else if (a !== undefined) expect(a, `${r.method} ${r.path}`).to.match(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
        }
        if (mode === 'token') {
          expect(registry.tokenRequests.length).to.be.greaterThan(0);
          for (const t of registry.tokenRequests) {
            expect(t.headers.authorization).to.equal(basic(ROBOT, o.robotPassword));
            expect(t.user).to.equal(ROBOT);
            for (const v of Object.values(t.headers)) expect(String(v)).to.not.include(token);
          }
          // Every request that needed a repository carried a token.
          expect(
            registry.requests
              .filter((r) => r.path !== '/v2/')
              .every((r) => r.headers.authorization?.startsWith('Bearer ')),
          ).to.equal(true);
        }
      }

      it('skopeo pulls an image through the proxy with only a ServiceAccount token', async () => {
        const out = join(work, `pull-${mode}`);
        await skopeo([
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          '--src-creds',
          `u:${token}`,
          `docker://${o.refPrefix(connector)}/team/app:v1`,
          `oci:${out}:v1`,
        ]);
        expect((await readLayoutIndex(out)).manifests[0].digest).to.equal(pushed.digest);
        assertRegistrySawOnlyConnectorCredentials();
        expect(
          registry.requests.some(
            (r) => r.method === 'GET' && r.path === '/v2/team/app/manifests/v1' && r.status === 200,
          ),
        ).to.equal(true);
      });

      it('skopeo pushes an image through the proxy, and it lands in the registry', async () => {
        registry.clearRequests();
        const layout = await buildOciLayout(join(work, `push-${mode}`), { sizeBytes: 3 * 1024 * 1024 });
        await skopeo([
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          '--dest-creds',
          `u:${token}`,
          `oci:${layout.dir}:${layout.tag}`,
          `docker://${o.refPrefix(connector)}/team/pushed:v2`,
        ]);
        assertRegistrySawOnlyConnectorCredentials();
        expect(
          registry.requests.some(
            (r) => r.method === 'PUT' && r.path === '/v2/team/pushed/manifests/v2' && r.status === 201,
          ),
        ).to.equal(true);
        // Read back directly from the registry with the registry's own user.
        const { stdout } = await skopeo([
          'inspect',
          '--raw',
          '--tls-verify=false',
          '--creds',
          `${ROBOT}:${o.robotPassword}`,
          `docker://${registry.host}/team/pushed:v2`,
        ]);
        expect(sha256(Buffer.from(stdout))).to.equal(layout.digest);
      });

      it('keeps the registry credentials and tokens from the client (manifest GET/HEAD, blob HEAD/range)', async () => {
        const m = await fetch(api(connector, 'team/app/manifests/v1'), {
          headers: { ...auth(), accept: 'application/vnd.oci.image.manifest.v1+json' },
        });
        expect(m.status).to.equal(200);
        const body = Buffer.from(await m.arrayBuffer());
        expect(sha256(body)).to.equal(pushed.digest);
        expect(m.headers.get('docker-content-digest')).to.equal(pushed.digest);
        const head = await fetch(api(connector, 'team/app/manifests/v1'), {
          method: 'HEAD',
          headers: { ...auth(), accept: 'application/vnd.oci.image.manifest.v1+json' },
        });
        expect(head.status).to.equal(200);
        expect(head.headers.get('content-length')).to.equal(String(pushed.manifest.length));
        expect(head.headers.get('docker-content-digest')).to.equal(pushed.digest);
        expect((await head.arrayBuffer()).byteLength).to.equal(0);
        const layer = JSON.parse(body.toString()).layers[0] as { digest: string; size: number };
        const bhead = await fetch(api(connector, `team/app/blobs/${layer.digest}`), {
          method: 'HEAD',
          headers: auth(),
        });
        expect(bhead.status).to.equal(200);
        expect(bhead.headers.get('content-length')).to.equal(String(layer.size));
        const range = await fetch(api(connector, `team/app/blobs/${layer.digest}`), {
          headers: { ...auth(), range: 'bytes=10-19' },
        });
        expect(range.status).to.equal(206);
        expect((await range.arrayBuffer()).byteLength).to.equal(10);
        expect(range.headers.get('content-range')).to.equal(`bytes 10-19/${layer.size}`);
        for (const r of [m, head, bhead, range]) {
          const text = headerText(r);
          expect(text).to.not.include(o.robotPassword);
          expect(text).to.not.include(basic(ROBOT, o.robotPassword).slice(6));
          expect(text).to.not.match(/bearer/i);
          if (registry.tokenRealm) expect(text).to.not.include(new URL(registry.tokenRealm).host);
          expect(text).to.not.include(registry.host);
        }
      });

      it('does a chunked upload (POST, PATCH, PATCH, PUT) with Location rewritten to the proxy, keeping _state', async () => {
        const blob = randomBytes(300_000);
        const digest = sha256(blob);
        const start = await fetch(api(connector, 'team/chunked/blobs/uploads/'), {
          method: 'POST',
          headers: { ...auth(), 'content-length': '0' },
        });
        expect(start.status).to.equal(202);
        let location = start.headers.get('location')!;
        const clientBase = `${proxy()}/v2/namespaces/${o.env.ns}/connectors/${connector}/team/chunked/blobs/uploads/`;
        expect(location.startsWith(clientBase), location).to.equal(true);
        expect(new URL(location).searchParams.get('_state')).to.be.a('string');
        let offset = 0;
        for (const chunk of [blob.subarray(0, 200_000), blob.subarray(200_000)]) {
          const r = await fetch(location, {
            method: 'PATCH',
            headers: {
              ...auth(),
              'content-type': 'application/octet-stream',
              'content-range': `${offset}-${offset + chunk.length - 1}`,
              'content-length': String(chunk.length),
            },
            body: chunk,
          });
          expect(r.status, await r.clone().text()).to.equal(202);
          offset += chunk.length;
          expect(r.headers.get('range')).to.equal(`0-${offset - 1}`);
          location = r.headers.get('location')!;
          expect(location.startsWith(clientBase), location).to.equal(true);
        }
        const status = await fetch(location, { headers: auth() });
        expect(status.status).to.equal(204);
        expect(status.headers.get('range')).to.equal(`0-${blob.length - 1}`);
        const u = new URL(location);
        u.searchParams.set('digest', digest);
        const done = await fetch(u, { method: 'PUT', headers: { ...auth(), 'content-length': '0' } });
        expect(done.status).to.equal(201);
        expect(done.headers.get('location')).to.equal(
          `${proxy()}/v2/namespaces/${o.env.ns}/connectors/${connector}/team/chunked/blobs/${digest}`,
        );
        const back = await fetch(done.headers.get('location')!, { headers: auth() });
        expect(Buffer.from(await back.arrayBuffer()).equals(blob)).to.equal(true);
        expect(
          registry.requests.some((r) => r.method === 'PATCH' && r.path.startsWith('/v2/team/chunked/blobs/uploads/')),
        ).to.equal(true);
      });

      it('mounts a blob across repositories, mapping the from= repository name', async () => {
        const blob = randomBytes(1000);
        const digest = sha256(blob);
        // Monolithic upload in two steps (distribution 2.8 answers a single POST ?digest= with 202, not 201).
        const post = await fetch(api(connector, 'team/mount-src/blobs/uploads/'), {
          method: 'POST',
          headers: { ...auth(), 'content-length': '0' },
        });
        expect(post.status).to.equal(202);
        const u = new URL(post.headers.get('location')!);
        u.searchParams.set('digest', digest);
        const put = await fetch(u, {
          method: 'PUT',
          headers: { ...auth(), 'content-type': 'application/octet-stream', 'content-length': String(blob.length) },
          body: blob,
        });
        expect(put.status, await put.clone().text()).to.equal(201);
        registry.clearRequests();
        const from = `namespaces/${o.env.ns}/connectors/${connector}/team/mount-src`;
        const mount = await fetch(
          `${api(connector, 'team/mount-dst/blobs/uploads/')}?mount=${digest}&from=${encodeURIComponent(from)}`,
          {
            method: 'POST',
            headers: { ...auth(), 'content-length': '0' },
          },
        );
        expect(mount.status, await mount.clone().text()).to.equal(201);
        expect(mount.headers.get('location')).to.equal(
          `${proxy()}/v2/namespaces/${o.env.ns}/connectors/${connector}/team/mount-dst/blobs/${digest}`,
        );
        const seen = registry.requests.find(
          (r) => r.method === 'POST' && r.path === '/v2/team/mount-dst/blobs/uploads/',
        );
        expect(seen?.query.get('from')).to.equal('team/mount-src');
        if (mode === 'token') {
          const scopes = registry.tokenRequests.flatMap((t) => t.scopes);
          expect(scopes).to.include('repository:team/mount-src:pull');
        }
      });

      it('lists tags with the repository name as the client knows it (skopeo list-tags too)', async () => {
        await skopeo([
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          '--src-creds',
          `u:${token}`,
          '--dest-creds',
          `u:${token}`,
          `docker://${o.refPrefix(connector)}/team/app:v1`,
          `docker://${o.refPrefix(connector)}/team/app:v1-copy`,
        ]);
        const r = await fetch(api(connector, 'team/app/tags/list'), { headers: auth() });
        expect(r.status).to.equal(200);
        const doc = await json(r);
        expect(doc.name).to.equal(`namespaces/${o.env.ns}/connectors/${connector}/team/app`);
        expect(doc.tags).to.have.members(['v1', 'v1-copy']);
        const { stdout } = await skopeo([
          'list-tags',
          '--tls-verify=false',
          '--creds',
          `u:${token}`,
          `docker://${o.refPrefix(connector)}/team/app`,
        ]);
        expect(JSON.parse(stdout).Tags).to.have.members(['v1', 'v1-copy']);
      });

      it('rewrites Link pagination to the proxy (catalog; distribution 2.8 does not paginate tag lists)', async () => {
        const page = await fetch(`${api(connector, '_catalog')}?n=1`, { headers: auth() });
        expect(page.status).to.equal(200);
        expect((await json(page)).repositories).to.have.length(1);
        const link = page.headers.get('link')!;
        expect(link).to.match(
          new RegExp(`^</v2/namespaces/${o.env.ns}/connectors/${connector}/_catalog\\?.*>; rel="next"$`),
        );
        const next = await fetch(proxy() + link.slice(1, link.indexOf('>')), { headers: auth() });
        expect(next.status).to.equal(200);
        const names = (await json(next)).repositories as string[];
        expect(names).to.have.length(1);
        expect(names[0].startsWith(`namespaces/${o.env.ns}/connectors/${connector}/`)).to.equal(true);
      });

      it('serves the catalog at /v2/namespaces/<ns>/connectors/<name>/_catalog with prefixed names', async () => {
        const r = await fetch(api(connector, '_catalog'), { headers: auth() });
        expect(r.status).to.equal(200);
        const repos = (await json(r)).repositories as string[];
        expect(repos).to.include(`namespaces/${o.env.ns}/connectors/${connector}/team/app`);
      });

      it('serves the Connector-address form <proxy>/namespaces/<ns>/connectors/<name>/v2/... too', async () => {
        const r = await fetch(`${proxy()}/namespaces/${o.env.ns}/connectors/${connector}/v2/team/app/tags/list`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(r.status).to.equal(200);
        expect((await json(r)).name).to.equal('team/app');
      });

      it('deletes a manifest through the proxy', async () => {
        await skopeo([
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          '--src-creds',
          `u:${token}`,
          '--dest-creds',
          `u:${token}`,
          `docker://${o.refPrefix(connector)}/team/app:v1`,
          `docker://${o.refPrefix(connector)}/team/doomed:v1`,
        ]);
        const d = await fetch(api(connector, `team/doomed/manifests/${pushed.digest}`), {
          method: 'DELETE',
          headers: auth(),
        });
        expect(d.status).to.equal(202);
        const gone = await fetch(api(connector, `team/doomed/manifests/${pushed.digest}`), {
          method: 'HEAD',
          headers: auth(),
        });
        expect(gone.status).to.equal(404);
      });

      if (mode === 'token') {
        it('caches registry tokens per scope: a second pull asks the token server nothing', async () => {
          await skopeo([
            'inspect',
            '--raw',
            '--tls-verify=false',
            '--creds',
            `u:${token}`,
            `docker://${o.refPrefix(connector)}/team/app:v1`,
          ]);
          registry.clearRequests();
          const before = o.env.proxy.registryTokenFetches();
          await skopeo([
            'copy',
            '--quiet',
            '--src-tls-verify=false',
            '--src-creds',
            `u:${token}`,
            `docker://${o.refPrefix(connector)}/team/app:v1`,
            `oci:${join(work, 'pull-again')}:v1`,
          ]);
          expect(registry.tokenRequests).to.have.length(0);
          expect(o.env.proxy.registryTokenFetches()).to.equal(before);
          expect(registry.requests.length).to.be.greaterThan(0);
        });
      }
    });
  }

  describe('a registry that redirects blobs to a storage host (distribution redirect middleware)', () => {
    let registry: Registry;
    let pushed: { digest: string; manifest: Buffer };
    before(async () => {
      registry = registries.redirect;
      pushed = await registry.pushTestImage('team/app:v1', { sizeBytes: 2 * 1024 * 1024 });
      registry.clearRequests();
    });

    it('follows the redirect itself, without credentials, so the client only talks to the proxy', async () => {
      const manifest = JSON.parse(pushed.manifest.toString()) as { layers: Array<{ digest: string; size: number }> };
      const layer = manifest.layers[0];
      // The registry really redirects.
      const direct = await fetch(`${registry.url}/v2/team/app/blobs/${layer.digest}`, {
        redirect: 'manual',
        headers: {
          authorization: `Bearer ${registry.issueToken(ROBOT, [{ type: 'repository', name: 'team/app', actions: ['pull'] }])}`,
        },
      });
      expect(direct.status).to.equal(307);
      expect(direct.headers.get('location')!.startsWith(registry.storageUrl!)).to.equal(true);
      registry.clearRequests();

      const r = await fetch(api('redirect-reg', `team/app/blobs/${layer.digest}`), {
        redirect: 'manual',
        headers: auth(),
      });
      expect(r.status).to.equal(200);
      expect(r.headers.get('location')).to.equal(null);
      expect(sha256(Buffer.from(await r.arrayBuffer()))).to.equal(layer.digest);
      const head = await fetch(api('redirect-reg', `team/app/blobs/${layer.digest}`), {
        method: 'HEAD',
        redirect: 'manual',
        headers: auth(),
      });
      expect(head.status).to.equal(200);
      expect(head.headers.get('content-length')).to.equal(String(layer.size));
      expect(registry.storageRequests.map((x) => x.method)).to.deep.equal(['GET', 'HEAD']);
      for (const x of registry.storageRequests) {
        expect(x.headers.authorization, 'no registry credentials to the storage host').to.equal(undefined);
        for (const v of Object.values(x.headers)) expect(String(v)).to.not.include(token);
      }
      for (const x of [r, head]) expect(headerText(x)).to.not.include(registry.storageUrl!);
    });

    it('skopeo pulls through the proxy from a redirecting registry', async () => {
      registry.clearRequests();
      const out = join(work, 'pull-redirect');
      await skopeo([
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        '--src-creds',
        `u:${token}`,
        `docker://${o.refPrefix('redirect-reg')}/team/app:v1`,
        `oci:${out}:v1`,
      ]);
      expect((await readLayoutIndex(out)).manifests[0].digest).to.equal(pushed.digest);
      expect(registry.storageRequests.length).to.be.greaterThan(0);
      for (const x of registry.storageRequests) expect(x.headers.authorization).to.equal(undefined);
    });
  });

  it('fetches a new registry token once when the registry refuses a cached one, then answers', async () => {
    const registry = registries.retry;
    await registry.pushTestImage('team/app:v1');
    // A token without any granted action gets cached first...
    grantRetryReg = false;
    const refused = await fetch(api('retry-reg', 'team/app/tags/list'), { headers: auth() });
    expect(refused.status).to.equal(401);
    expect(refused.headers.get('www-authenticate'), 'the registry challenge is replaced by the proxy one').to.equal(
      'Basic realm="connectors-proxy"',
    );
    expect(
      registry.tokenRequests.filter((t) => t.scopes.includes('repository:team/app:pull')),
    ).to.have.length.greaterThan(0);
    // ...then the grant changes: the cached token is refused (401), the proxy gets a new one and retries once.
    grantRetryReg = true;
    registry.clearRequests();
    const ok = await fetch(api('retry-reg', 'team/app/manifests/v1'), {
      headers: { ...auth(), accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(ok.status).to.equal(200);
    const manifestGets = registry.requests.filter((r) => r.path === '/v2/team/app/manifests/v1');
    expect(manifestGets.map((r) => r.status)).to.deep.equal([401, 200]);
    expect(registry.tokenRequests).to.have.length(1);
  });

  describe('crane (go-containerregistry) with the registry-config docker config.json', () => {
    let dockerConfig: string;
    before(async () => {
      // What the class's `registry-config` configuration renders: auths[<proxy host>].auth = base64("u:<token>").
      dockerConfig = join(work, 'docker-config');
      await mkdir(dockerConfig, { recursive: true });
      const host = new URL(proxy()).host;
      await writeFile(
        join(dockerConfig, 'config.json'),
        JSON.stringify({ auths: { [host]: { auth: Buffer.from(`u:${token}`).toString('base64') } } }),
      );
    });

    it('reads digests and tags, and copies within the Connector with a cross-repository mount', async () => {
      const registry = registries.token;
      const pushed = await registry.pushTestImage('crane/src:v1', { sizeBytes: 1024 * 1024 });
      registry.clearRequests();
      const ref = `${o.refPrefix('token-reg')}/crane/src:v1`;
      const { stdout: digest } = await crane(['digest', '--insecure', ref], dockerConfig);
      expect(digest.trim()).to.equal(pushed.digest);
      await crane(['copy', '--insecure', ref, `${o.refPrefix('token-reg')}/crane/dst:v1`], dockerConfig);
      const { stdout: tags } = await crane(['ls', '--insecure', `${o.refPrefix('token-reg')}/crane/dst`], dockerConfig);
      expect(tags.trim().split('\n')).to.deep.equal(['v1']);
      const mounts = registry.requests.filter(
        (r) => r.method === 'POST' && r.path === '/v2/crane/dst/blobs/uploads/' && r.query.get('mount'),
      );
      expect(mounts.length, 'crane mounts the blobs from the source repository').to.be.greaterThan(0);
      for (const m of mounts) {
        expect(m.query.get('from')).to.equal('crane/src');
        expect(m.status).to.equal(201);
      }
      for (const r of registry.requests)
        for (const v of Object.values(r.headers)) expect(String(v)).to.not.include(token);
    });

    it('is refused without credentials in its config (401 from the proxy challenge)', async () => {
      const empty = join(work, 'docker-config-empty');
      await mkdir(empty, { recursive: true });
      const msg = await failureOf(crane(['digest', '--insecure', `${o.refPrefix('token-reg')}/crane/src:v1`], empty));
      expect(msg).to.match(/UNAUTHORIZED|401/);
    });
  });
});
