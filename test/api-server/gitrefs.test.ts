// The git plugin against a real git server, differentially: for a repository with hundreds of branches and
// tags (lightweight and annotated, unusual names, several commits), `GET /git/gitrefs` lists exactly what
// `git ls-remote --heads --tags` (git's own client, protocol v2) lists, annotated tags peeled; also with search
// and pagination, for an empty repository, and over a dumb-HTTP-only server path.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  startGitServer,
  type GitServer,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
} from '@connectors/test-support';
import { startGitPlugin, type RunningGitPlugin } from '../../plugins/git/index.ts';
import { pluginHeaders } from '../../core/plugin/contract.ts';
import { curl } from './fixture.ts';

describe('git plugin: gitrefs against git ls-remote on a real server', function () {
  this.timeout(180_000);
  const USER = 'reader';
  const PASS = 'pw-' + randomBytes(8).toString('hex');
  let git: GitServer;
  let plugin: RunningGitPlugin;
  let repoUrl: string;
  let emptyUrl: string;

  const headersFor = (base: string) => {
    const h = pluginHeaders(base, {
      type: 'kubernetes.io/basic-auth',
      data: { username: Buffer.from(USER).toString('base64'), password: Buffer.from(PASS).toString('base64') },
    });
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v]));
  };
  const gitrefs = (query: string, base = git.url) =>
    curl(`${plugin.url}/git/gitrefs?${query}`, { headers: headersFor(base) });

  /** `git ls-remote --heads --tags` as {name, commitID}, annotated tags peeled, sorted by name. */
  async function lsRemote(path: string): Promise<Array<{ name: string; commitID: string }>> {
    const { stdout } = await runCommand('git', ['ls-remote', '--heads', '--tags', git.authUrl(path, USER, PASS)], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', HOME: '/nonexistent' },
    });
    const refs = new Map<string, string>();
    for (const line of stdout.split('\n').filter(Boolean)) {
      const [oid, name] = line.split('\t');
      if (name.endsWith('^{}')) refs.set(name.slice(0, -3), oid);
      else if (!refs.has(name)) refs.set(name, oid);
    }
    return [...refs].map(([name, commitID]) => ({ name, commitID })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    git = await startGitServer({ users: { [USER]: PASS } });
    const repo = await git.createRepo('group/many.git');
    await git.createRepo('group/empty.git', { empty: true });
    repoUrl = `${git.url}/group/many.git`;
    emptyUrl = `${git.url}/group/empty.git`;
    const g = (args: string[], input?: string) =>
      runCommand('git', ['--git-dir', repo.dir, ...args], {
        input,
        env: {
          ...process.env,
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
        },
      });
    // Five commits in a chain, then refs spread over them.
    const tree = (await g(['rev-parse', 'main^{tree}'])).stdout.trim();
    const commits = [repo.head!];
    for (let i = 1; i < 5; i++)
      commits.push((await g(['commit-tree', tree, '-p', commits[i - 1], '-m', `c${i}`])).stdout.trim());
    const names = [
      ...Array.from({ length: 300 }, (_, i) => `refs/heads/branch-${String(i).padStart(3, '0')}`),
      'refs/heads/feature/deep/nested/name',
      'refs/heads/ünïcødé',
      'refs/heads/with+plus@and-at',
      'refs/heads/UPPER',
      ...Array.from({ length: 40 }, (_, i) => `refs/tags/v1.${i}.0`),
      'refs/pull/1/head', // neither a branch nor a tag: not listed
      'refs/notes/commits',
    ];
    await g(['update-ref', '--stdin'], names.map((n, i) => `create ${n} ${commits[i % commits.length]}\n`).join(''));
    for (let i = 0; i < 10; i++)
      await g(['tag', '-a', `release-${i}`, '-m', `release ${i}`, commits[i % commits.length]]);
    await g(['pack-refs', '--all']);
    await runCommand('chown', ['-R', `--reference=${repo.dir}`, repo.dir]);
    plugin = await startGitPlugin({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await plugin?.stop();
    await git?.stop();
  });

  it('lists exactly the branches and tags git ls-remote lists (annotated tags peeled)', async () => {
    const r = await gitrefs(`repositoryUrl=${encodeURIComponent(repoUrl)}`);
    expect(r.status, r.body).to.equal(200);
    const list = r.json();
    const want = await lsRemote('group/many.git');
    expect(want).to.have.length(300 + 4 + 40 + 10 + 1); // + main
    expect(list.listMeta.totalItems).to.equal(want.length);
    const got = [...list.items].sort((a: any, b: any) => (a.name < b.name ? -1 : 1));
    expect(got).to.deep.equal(want);
    expect(got.some((x: any) => x.name.startsWith('refs/pull/'))).to.equal(false);
  });

  it('search and pagination agree with the same list', async () => {
    const all = (await gitrefs(`repositoryUrl=${encodeURIComponent(repoUrl)}`)).json().items;
    const search = (await gitrefs(`repositoryUrl=${encodeURIComponent(repoUrl)}&search=RELEASE`)).json();
    expect(search.items.map((x: any) => x.name)).to.deep.equal(
      all.filter((x: any) => x.name.includes('release')).map((x: any) => x.name),
    );
    const pages: unknown[] = [];
    for (let page = 1; page <= 8; page++) {
      const p = (await gitrefs(`repositoryUrl=${encodeURIComponent(repoUrl)}&page=${page}&itemsPerPage=50`)).json();
      expect(p.listMeta.totalItems).to.equal(all.length);
      pages.push(...p.items);
    }
    expect(pages).to.deep.equal(all);
    const bad = await gitrefs(`repositoryUrl=${encodeURIComponent(repoUrl)}&page=zero`);
    expect(bad.status).to.equal(400);
    expect(bad.json()).to.include({ kind: 'Status', reason: 'BadRequest' });
  });

  it('an empty repository has no refs; a plugin request without the headers is a 400', async () => {
    const r = await gitrefs(`repositoryUrl=${encodeURIComponent(emptyUrl)}`);
    expect(r.json()).to.deep.equal({ listMeta: { totalItems: 0 }, items: [] });
    expect(await lsRemote('group/empty.git')).to.deep.equal([]);
    const bare = await curl(`${plugin.url}/git/gitrefs?repositoryUrl=${encodeURIComponent(repoUrl)}`);
    expect(bare.status).to.equal(400);
    expect(bare.json().message).to.equal('x-plugin-meta is required (one value)');
    expect((await curl(`${plugin.url}/other`)).json()).to.include({ code: 404 });
  });

  it('an unreachable git server is a 502 naming the failure, not the credentials', async () => {
    const base = 'http://127.0.0.1:9';
    const r = await gitrefs(`repositoryUrl=${encodeURIComponent(base + '/x/y.git')}`, base);
    expect(r.status).to.equal(502);
    expect(r.json().message).to.match(/^git server 127\.0\.0\.1:9 failed: /);
    expect(r.body).to.not.include(PASS);
  });
});
