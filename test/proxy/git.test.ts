// Git smart HTTP through the reverse proxy, with a real git client, a real git http-backend behind apache with
// basic auth, the real apiserver, and ServiceAccount tokens from TokenRequest. The client has nothing but the
// proxy URL and its token, in the `.gitconfig` the git class mounts (extraHeader with the token + insteadOf), and
// clones the ORIGINAL git server URL.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  eventually,
  objects,
} from '@connectors/test-support';
import { auditLines, basic, setup, signedToken, type Env } from './fixture.ts';

describe('proxy: git smart HTTP in reverse mode', function () {
  this.timeout(180_000);
  let env: Env;
  let git: GitServer;
  let work: string;
  let proxyUrl: string;
  let token: string;
  const GIT_USER = 'git-robot';
  const GIT_PASS = 'p4ss-' + randomBytes(6).toString('hex');

  /** A HOME whose .gitconfig is exactly the seed's form, for `token`. */
  async function home(tok: string | undefined, extra = ''): Promise<NodeJS.ProcessEnv> {
    const dir = await mkdtemp(join(work, 'home-'));
    const lines = [];
    if (tok !== undefined)
      lines.push('[http]', `    extraHeader = Authorization: Basic ${Buffer.from(':' + tok).toString('base64')}`);
    lines.push(`[url "${proxyUrl}"]`, `    insteadOf = ${git.url}`, extra);
    await writeFile(join(dir, '.gitconfig'), lines.join('\n') + '\n');
    return gitClientEnv(dir);
  }
  const run = (args: string[], e: NodeJS.ProcessEnv, cwd = work) => runCommand('git', args, { env: e, cwd });

  async function assertUpstreamSawOnlyConnectorCredentials(tok: string) {
    const reqs = await git.requests();
    expect(reqs.length).to.be.greaterThan(0);
    for (const r of reqs) {
      expect(r.headers.authorization, `${r.method} ${r.path}`).to.equal(basic(GIT_USER, GIT_PASS));
      for (const v of Object.values(r.headers)) expect(v).to.not.include(tok);
      expect(r.headers['proxy-authorization']).to.equal(undefined);
    }
  }

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    work = await mkdtemp(join(tmpdir(), 'connectors-proxy-git-'));
    git = await startGitServer({
      users: { [GIT_USER]: GIT_PASS },
      repos: { 'org/repo.git': { files: { 'README.md': 'hello\n', 'src/a.txt': 'a\n' } } },
    });
    env = await setup('proxy-git');
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('git-creds', GIT_USER, GIT_PASS),
        objects.connector('git', {
          className: 'git',
          address: git.url,
          auth: { name: 'basicAuth', secret: 'git-creds', params: { repository: 'org/repo.git' } },
        }),
      ),
    );
    await env.serviceAccount('builder');
    await env.serviceAccount('outsider', 'none');
    token = await env.token('builder');
    proxyUrl = `${env.proxy.url}/namespaces/${env.ns}/connectors/git`;
    await eventually(
      'the proxy to serve the connector',
      async () => {
        const r = await fetch(`${proxyUrl}/org/repo.git/info/refs?service=git-upload-pack`, {
          headers: { authorization: `Bearer ${token}` },
        });
        await r.arrayBuffer();
        return r.status === 200;
      },
      15_000,
      50,
    );
  });
  after(async () => {
    await env?.stop();
    await git?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await git.clearRequests();
  });

  it(
    'clones the original URL through the proxy with only the .gitconfig of the seed; the tool sees the ' +
      "Connector's Basic credentials, never the token",
    async () => {
      const e = await home(token);
      const dest = join(work, 'clone');
      await run(['clone', '--quiet', `${git.url}/org/repo.git`, dest], e);
      expect(await readFile(join(dest, 'src/a.txt'), 'utf8')).to.equal('a\n');
      await assertUpstreamSawOnlyConnectorCredentials(token);
      // The client side never learns the credentials either: the clone's config holds the original URL only.
      expect(await readFile(join(dest, '.git/config'), 'utf8')).to.not.include(GIT_PASS);
    },
  );

  it('fetches new commits and pushes through the proxy', async () => {
    const e = await home(token);
    const a = join(work, 'push-a');
    const b = join(work, 'push-b');
    await run(['clone', '--quiet', `${git.url}/org/repo.git`, a], e);
    await run(['clone', '--quiet', `${git.url}/org/repo.git`, b], e);
    await writeFile(join(a, 'new.txt'), 'pushed through the proxy\n');
    await run(['add', 'new.txt'], e, a);
    await run(['commit', '--quiet', '-m', 'via proxy'], e, a);
    await run(['push', '--quiet', 'origin', 'HEAD:main'], e, a);
    await run(['fetch', '--quiet', 'origin'], e, b);
    const { stdout } = await run(['show', 'origin/main:new.txt'], e, b);
    expect(stdout).to.equal('pushed through the proxy\n');
    const reqs = await git.requests();
    expect(
      reqs.some((r) => r.method === 'POST' && r.path === '/org/repo.git/git-receive-pack' && r.status === 200),
    ).to.equal(true);
    await assertUpstreamSawOnlyConnectorCredentials(token);
  });

  it('speaks protocol v2 (Git-Protocol passed through), shallow and partial clones', async () => {
    const e = await home(token);
    await run(['-c', 'protocol.version=2', 'clone', '--quiet', `${git.url}/org/repo.git`, join(work, 'v2')], e);
    const reqs = await git.requests();
    const refs = reqs.find((r) => r.path === '/org/repo.git/info/refs')!;
    expect(refs.headers['git-protocol']).to.equal('version=2');
    expect(reqs.filter((r) => r.method === 'POST').every((r) => r.headers['git-protocol'] === 'version=2')).to.equal(
      true,
    );

    await run(['clone', '--quiet', '--depth', '1', `${git.url}/org/repo.git`, join(work, 'shallow')], e);
    expect((await run(['rev-list', '--count', 'HEAD'], e, join(work, 'shallow'))).stdout.trim()).to.equal('1');
    expect(await readFile(join(work, 'shallow', '.git', 'shallow'), 'utf8')).to.match(/^[0-9a-f]{40}/);

    await run(['clone', '--quiet', '--filter=blob:none', `${git.url}/org/repo.git`, join(work, 'partial')], e);
    expect(
      (await run(['config', 'remote.origin.partialclonefilter'], e, join(work, 'partial'))).stdout.trim(),
    ).to.equal('blob:none');
    expect(await readFile(join(work, 'partial', 'README.md'), 'utf8')).to.equal('hello\n');
    await assertUpstreamSawOnlyConnectorCredentials(token);
  });

  it('passes gzip request bodies byte for byte and streams a chunked push larger than http.postBuffer', async () => {
    const e = await home(token);
    const dir = join(work, 'big');
    await run(['clone', '--quiet', `${git.url}/org/repo.git`, dir], e);
    await mkdir(join(dir, 'blobs'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'random.bin'), randomBytes(3 * 1024 * 1024));
    await run(['add', '.'], e, dir);
    await run(['commit', '--quiet', '-m', 'big'], e, dir);
    await git.clearRequests();
    await run(['-c', 'http.postBuffer=65536', 'push', '--quiet', 'origin', 'HEAD:main'], e, dir);
    const reqs = await git.requests();
    const posts = reqs.filter((r) => r.method === 'POST' && r.path === '/org/repo.git/git-receive-pack');
    // git's probe POST (body "0000") then the chunked pack.
    expect(posts.some((r) => r.headers['content-length'] === '4')).to.equal(true);
    expect(posts.some((r) => r.headers['transfer-encoding'] === 'chunked' && r.status === 200)).to.equal(true);
    await assertUpstreamSawOnlyConnectorCredentials(token);

    // A fetch with many haves makes git gzip the upload-pack request: it arrives gzip-encoded, unchanged.
    const other = join(work, 'gz');
    await run(['clone', '--quiet', `${git.url}/org/repo.git`, other], e);
    for (let i = 0; i < 40; i++) {
      await writeFile(join(other, `f${i}.txt`), `${i}\n`);
      await run(['add', '.'], e, other);
      await run(['commit', '--quiet', '-m', `c${i}`], e, other);
    }
    await writeFile(join(dir, 'more.txt'), 'more\n');
    await run(['add', '.'], e, dir);
    await run(['commit', '--quiet', '-m', 'more'], e, dir);
    await run(['push', '--quiet', 'origin', 'HEAD:main'], e, dir);
    await git.clearRequests();
    await run(['fetch', '--quiet', 'origin'], e, other);
    const upload = (await git.requests()).filter(
      (r) => r.method === 'POST' && r.path === '/org/repo.git/git-upload-pack',
    );
    expect(upload.some((r) => r.headers['content-encoding'] === 'gzip' && r.status === 200)).to.equal(true);
  });

  it('answers 401 with a Basic challenge without a token, and git reports an authentication failure', async () => {
    const res = await fetch(`${proxyUrl}/org/repo.git/info/refs?service=git-upload-pack`);
    expect(res.status).to.equal(401);
    expect(res.headers.get('www-authenticate')).to.equal('Basic realm="connectors-proxy"');
    let failure = '';
    await run(['ls-remote', `${git.url}/org/repo.git`], await home(undefined)).catch(
      (err: Error) => (failure = err.message),
    );
    expect(failure).to.match(/Authentication failed|could not read Username/);
    expect(failure).to.not.match(/fatal: unable to access.*50\d/);
    expect(await git.requests()).to.have.length(0);
  });

  it('answers 403 for a ServiceAccount without get on the Connector', async () => {
    const tok = await env.token('outsider');
    const res = await fetch(`${proxyUrl}/org/repo.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: basic('x', tok) },
    });
    expect(res.status).to.equal(403);
    expect(await res.text()).to.match(/forbidden/);
    let failure = '';
    await run(['ls-remote', `${git.url}/org/repo.git`], await home(tok)).catch((err: Error) => (failure = err.message));
    expect(failure).to.match(/403/);
    expect(await git.requests()).to.have.length(0);
  });

  it('answers 401 for an expired token, a token of a deleted bound object and a wrong-audience token', async () => {
    const url = `${proxyUrl}/org/repo.git/info/refs?service=git-upload-pack`;
    // Same signing key and claims; only exp differs: the valid one is accepted, the expired one is not.
    const valid = await signedToken(env.c, env.ns, 'builder', {
      audience: ['connectors-proxy'],
      expiresInSeconds: 600,
    });
    expect((await fetch(url, { headers: { authorization: `Bearer ${valid}` } })).status).to.equal(200);
    const expired = await signedToken(env.c, env.ns, 'builder', {
      audience: ['connectors-proxy'],
      expiresInSeconds: -120,
    });
    const r1 = await fetch(url, { headers: { authorization: `Bearer ${expired}` } });
    expect(r1.status).to.equal(401);
    expect(r1.headers.get('www-authenticate')).to.equal('Basic realm="connectors-proxy"');

    // A token bound to a Secret that is then deleted: the apiserver no longer accepts it.
    await env.apply(objects.yaml(objects.secret('binder', { stringData: { k: 'v' } })));
    const binder = await env.c.core.readNamespacedSecret({ name: 'binder', namespace: env.ns });
    const tr = await env.c.core.createNamespacedServiceAccountToken({
      name: 'builder',
      namespace: env.ns,
      body: {
        spec: {
          audiences: ['connectors-proxy'],
          boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: 'binder', uid: binder.metadata!.uid },
        },
      },
    });
    const bound = tr.status!.token;
    await env.c.core.deleteNamespacedSecret({ name: 'binder', namespace: env.ns });
    await eventually(
      'the secret to be gone',
      async () => {
        try {
          await env.c.core.readNamespacedSecret({ name: 'binder', namespace: env.ns });
          return false;
        } catch {
          return true;
        }
      },
      15_000,
      50,
    );
    expect((await fetch(url, { headers: { authorization: `Bearer ${bound}` } })).status).to.equal(401);

    const wrongAudience = await env.token('builder', 'some-other-service');
    expect((await fetch(url, { headers: { authorization: `Bearer ${wrongAudience}` } })).status).to.equal(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer not-a-jwt' } })).status).to.equal(401);
  });

  it('accepts a plain `kubectl create token` (apiserver audience) token', async () => {
    const tok = (await env.c.kubectl(['create', 'token', 'builder', '-n', env.ns])).trim();
    const e = await home(tok);
    const { stdout } = await run(['ls-remote', `${git.url}/org/repo.git`], e);
    expect(stdout).to.match(/refs\/heads\/main/);
  });

  it('resolves the Connector from the host form c-<name>.<ns>.svc[.cluster.local][:port] too', async () => {
    for (const host of [`c-git.${env.ns}.svc.cluster.local`, `c-git.${env.ns}.svc:${env.proxy.port}`]) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          `${env.proxy.url}/org/repo.git/info/refs?service=git-upload-pack`,
          { headers: { host, authorization: `Bearer ${token}` } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status, host).to.equal(200);
    }
  });

  it('with enable-connector-proxy-permissions, get alone is denied and a Role on connectors/proxy allows', async () => {
    const url = `${proxyUrl}/org/repo.git/info/refs?service=git-upload-pack`;
    const tok = await env.token('builder');
    try {
      await env.setFlag('enable-connector-proxy-permissions', true);
      await eventually(
        'the flag to deny get-only access',
        async () => (await fetch(url, { headers: { authorization: `Bearer ${tok}` } })).status === 403,
        15_000,
        50,
      );
      await env.apply(
        objects.yaml(
          objects.roleFor('use-proxy', [objects.rule('connectors.alauda.io', ['connectors/proxy'], ['*'])], {
            serviceAccount: 'builder',
            saNamespace: env.ns,
          }),
        ),
      );
      // The denial is cached for 5 s at most.
      await eventually(
        'the Role to allow',
        async () => (await fetch(url, { headers: { authorization: `Bearer ${tok}` } })).status === 200,
        20_000,
        50,
      );
    } finally {
      await env.setFlag('enable-connector-proxy-permissions', false);
    }
  });

  it('writes one audit line per request with the fields, and no token or password in any log line', async () => {
    const before = env.logs.length;
    await fetch(`${proxyUrl}/org/repo.git/info/refs?service=git-upload-pack&secret=xyz`, {
      headers: { authorization: `Bearer ${token}` },
    }).then((r) => r.arrayBuffer());
    const lines = auditLines(env.logs.slice(before));
    expect(lines).to.have.length(1);
    const line = lines[0];
    expect(line).to.include({
      connector: `${env.ns}/git`,
      serviceAccount: `${env.ns}/builder`,
      method: 'GET',
      path: `/namespaces/${env.ns}/connectors/git/org/repo.git/info/refs`,
      status: 200,
    });
    expect(line.bytesIn).to.equal(0);
    expect(line.bytesOut).to.be.greaterThan(0);
    expect(line.durationMs).to.be.a('number');
    const all = env.logs.join('\n');
    expect(all).to.not.include(token);
    expect(all).to.not.include(GIT_PASS);
    expect(all).to.not.include(Buffer.from(`${GIT_USER}:${GIT_PASS}`).toString('base64'));
    expect(all).to.not.include('secret=xyz');
  });
});
