// The github and gitlab classes end to end with the real components (controller, proxy, `connectors render`)
// and real clients that get nothing but the rendered files:
// - git clones through the reverse proxy from a real git server (git http-backend behind apache with basic
//   auth), which sees the Connector's access token (user x-access-token for GitHub, oauth2 for GitLab);
// - GitHub's API: the real `gh api user` (Debian's gh) with the rendered config.yml/hosts.yml, the built-in
//   .env (forward proxy) and ca.crt (the proxy intercepts the HTTPS and injects the token);
// - GitLab's API: the rendered glab config.yml read back and used with curl the way glab uses it
//   (`<api_protocol>://<api_host>/api/v4/user`, `Private-Token: <token>`), which the class's authExtractor
//   reads; the upstream receives the Connector's token instead.
// No GitHub or GitLab server runs here: a stand-in answers the documented API endpoints (/api/v3/user, the
// layout of a GitHub host other than github.com; /api/v4/user) and relays git to the real git server. The
// GitHub stand-in speaks HTTPS on 0.0.0.0 (reached on loopback): gh, like every Go client, never uses a proxy
// for localhost or 127.0.0.0/8, and the point is to go through the proxy.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import {
  gitClientEnv,
  startGitServer,
  type GitServer,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import { classEnv, leaksOf, type ClassEnv } from './fixture.ts';
import { credentialOf, json, startStandIn, testCA, type StandIn } from './standins.ts';

const GH_PAT = 'ghp_' + randomBytes(12).toString('hex');
const GL_PAT = 'glpat-' + randomBytes(12).toString('hex');
const REPO = 'team/app.git';

/** The built-in .env of a rendered volume (key=value lines). */
async function dotEnv(dir: string): Promise<Record<string, string>> {
  const text = await readFile(join(dir, '.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('classes: github and gitlab with git, gh and the GitLab API through the proxy', function () {
  this.timeout(300_000);
  let env: ClassEnv;
  let git: GitServer;
  let github: StandIn;
  let gitlab: StandIn;

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    git = await startGitServer({
      users: { 'x-access-token': GH_PAT, oauth2: GL_PAT },
      repos: { [REPO]: { files: { 'README.md': 'private app\n' } } },
    });
    const ca = await testCA();
    github = await startStandIn({
      tls: { ca, host: '0.0.0.0' },
      relay: git.url,
      route: (r, res) => {
        if (r.path === '/') return json(res, 200, {});
        if (!r.path.startsWith('/api/v3/')) return false;
        const c = credentialOf(r.headers);
        if (c.scheme !== 'bearer' || c.secret !== GH_PAT) return json(res, 401, { message: 'Bad credentials' });
        return r.path === '/api/v3/user'
          ? json(res, 200, { login: 'octocat', id: 583231 })
          : json(res, 404, { message: 'Not Found' });
      },
    });
    gitlab = await startStandIn({
      relay: git.url,
      route: (r, res) => {
        if (r.path === '/') return json(res, 200, {});
        if (!r.path.startsWith('/api/v4/')) return false;
        if (r.headers['private-token'] !== GL_PAT) return json(res, 401, { message: '401 Unauthorized' });
        return r.path === '/api/v4/user'
          ? json(res, 200, { id: 1, username: 'root' })
          : json(res, 404, { message: '404 Not Found' });
      },
    });
    env = await classEnv('class-scm', { classes: ['github', 'gitlab'], trustCaPem: ca.certPem });
    await env.apply(
      objects.yaml(
        objects.opaqueSecret('github-secret', { token: GH_PAT }),
        objects.connector('github-connector', {
          className: 'github',
          address: github.url,
          auth: { name: 'patAuth', secret: 'github-secret' },
        }),
        objects.secret('gitlab-secret', { type: 'connectors.cpaas.io/gitlab-pat-auth', stringData: { token: GL_PAT } }),
        objects.connector('gitlab-connector', {
          className: 'gitlab',
          address: gitlab.url,
          auth: { name: 'patAuth', secret: 'gitlab-secret' },
        }),
      ),
    );
    await env.waitConditions('github-connector', { Ready: 'True' });
    await env.waitConditions('gitlab-connector', { Ready: 'True' });
  });

  after(async () => {
    await env?.stop();
    await github?.stop();
    await gitlab?.stop();
    await git?.stop();
  });

  for (const k of [
    { cls: 'github', connector: 'github-connector', user: 'x-access-token', server: () => github },
    { cls: 'gitlab', connector: 'gitlab-connector', user: 'oauth2', server: () => gitlab },
  ]) {
    it(`${k.cls}: git clone of the original URL with only the rendered .gitconfig; the git server sees the access token`, async () => {
      const home = await env.render(k.connector, 'gitconfig');
      const work = await mkdtemp(join(env.dir, 'clone-'));
      await git.clearRequests();
      await env.run('git', ['clone', `${k.server().url}/${REPO}`, join(work, 'app')], {
        env: gitClientEnv(home),
        cwd: work,
      });
      expect(await readFile(join(work, 'app', 'README.md'), 'utf8')).to.equal('private app\n');
      const reqs = (await git.requests()).filter((q) => q.path.startsWith(`/${REPO}/`));
      expect(reqs.length).to.be.greaterThan(0);
      const token = await readFile(join(home, 'context.token'), 'utf8');
      for (const q of reqs) {
        expect(q.user, `${q.method} ${q.path}`).to.equal(k.user);
        for (const v of Object.values(q.headers)) expect(v).to.not.include(token);
      }
    });
  }

  it('github: `gh api user` with the rendered githubconfig and .env; the proxy intercepts, the API gets the PAT as Bearer', async () => {
    const dir = await env.render('github-connector', 'githubconfig');
    const files = await env.files(dir);
    expect(files).to.include.keys('config.yml', 'hosts.yml', 'ca.cert', '.env', 'ca.crt');
    const host = new URL(github.url).host;
    expect(Object.keys(parseYaml(files['hosts.yml']))).to.deep.equal([host]);
    github.clear();
    const home = await mkdtemp(join(env.dir, 'gh-home-'));
    const r = await env.run('gh', ['api', 'user'], {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ...(await dotEnv(dir)),
        GH_CONFIG_DIR: dir,
        GH_HOST: host,
        SSL_CERT_FILE: join(dir, 'ca.crt'),
        GH_NO_UPDATE_NOTIFIER: '1',
        GH_PROMPT_DISABLED: '1',
      },
    });
    expect(JSON.parse(r.stdout)).to.include({ login: 'octocat' });
    const seen = github.requests.filter((q) => q.path === '/api/v3/user');
    expect(seen.map((q) => q.headers.authorization)).to.deep.equal([`Bearer ${GH_PAT}`]);
    // gh sent its placeholder and the proxy replaced it; neither the placeholder nor the ServiceAccount token arrived.
    const token = files['context.token'];
    for (const v of Object.values(seen[0].headers)) {
      expect(v).to.not.include(token);
      expect(v).to.not.include('connectors-proxy-injects-the-token');
    }
    expect(seen[0].headers['proxy-authorization']).to.equal(undefined);
  });

  it("gitlab: the API through the rendered glab config.yml with Private-Token (authExtractor); the upstream gets the Connector's token", async () => {
    const dir = await env.render('gitlab-connector', 'gitlabconfig');
    const config = parseYaml(await readFile(join(dir, 'config.yml'), 'utf8'));
    const h = config.hosts[config.host];
    expect(config.connector_address).to.equal(gitlab.url);
    const api = `${h.api_protocol}://${h.api_host}/api/v4`;
    expect(api).to.equal(`${(await env.connector('gitlab-connector')).status?.proxy?.httpAddress?.url}/api/v4`);
    gitlab.clear();
    const curl = (headers: string[]) =>
      env.run(
        'curl',
        ['-sS', '-o', '-', '-w', '\\n%{http_code}', ...headers.flatMap((x) => ['-H', x]), `${api}/user`],
        {
          env: { PATH: process.env.PATH },
        },
      );
    const ok = await curl([`Private-Token: ${h.token}`]);
    const [body, status] = ok.stdout.split('\n');
    expect(status).to.equal('200');
    expect(JSON.parse(body)).to.include({ username: 'root' });
    const seen = gitlab.requests.filter((q) => q.path === '/api/v4/user');
    expect(seen).to.have.length(1);
    expect(seen[0].headers['private-token']).to.equal(GL_PAT);
    expect(seen[0].headers.authorization).to.equal(undefined);
    for (const v of Object.values(seen[0].headers)) expect(v).to.not.include(h.token);

    // Without a token the proxy answers itself; with a wrong one too (TokenReview): nothing reaches GitLab.
    gitlab.clear();
    expect((await curl([])).stdout.split('\n').pop()).to.equal('401');
    expect((await curl(['Private-Token: not-a-service-account-token'])).stdout.split('\n').pop()).to.equal('401');
    expect(gitlab.requests).to.have.length(0);
  });

  it(
    'no access token in any file the tests wrote (rendered volumes, clones, homes), client argument, ' +
      'environment or output, process argument, CLI output or log line',
    async () => {
      expect(env.clientRuns.map((r) => r.cmd)).to.include.members(['git', 'gh', 'curl']);
      for (const pat of [GH_PAT, GL_PAT]) expect(await leaksOf(env, pat, [env.dir])).to.deep.equal([]);
    },
  );
});
