import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
} from '@connectors/test-support';

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

describe('peer: git http-backend behind apache with basic auth', function () {
  this.timeout(120_000);
  let server: GitServer;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const git = (args: string[], cwd = work, extraEnv: NodeJS.ProcessEnv = {}) =>
    runCommand('git', args, { cwd, env: { ...env, ...extraEnv } });

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    server = await startGitServer({
      users: { alice: 'alice-pass', 'bot@x': 'p:w/d' },
      repos: { 'org/repo.git': { files: { 'README.md': 'hello\n', 'dir/file.txt': 'nested\n' } } },
    });
    work = await mkdtemp(join(tmpdir(), 'connectors-git-client-'));
    env = gitClientEnv(work);
  });
  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('answers 401 with a Basic challenge without credentials, and 401 for a wrong password', async () => {
    const info = `${server.url}/org/repo.git/info/refs?service=git-upload-pack`;
    const anon = await fetch(info);
    expect(anon.status).to.equal(401);
    expect(anon.headers.get('www-authenticate')).to.match(/^Basic realm=/);
    const wrong = await fetch(info, { headers: { authorization: basic('alice', 'nope') } });
    expect(wrong.status).to.equal(401);
    const ok = await fetch(info, { headers: { authorization: basic('alice', 'alice-pass') } });
    expect(ok.status).to.equal(200);
    expect(ok.headers.get('content-type')).to.equal('application/x-git-upload-pack-advertisement');
  });

  for (const version of [0, 2]) {
    it(`clones with the right credentials over protocol v${version} and records Authorization`, async () => {
      await server.clearRequests();
      const dest = join(work, `clone-v${version}`);
      await git([
        '-c',
        `protocol.version=${version}`,
        'clone',
        '--quiet',
        server.authUrl('org/repo.git', 'alice', 'alice-pass'),
        dest,
      ]);
      expect(await readFile(join(dest, 'dir/file.txt'), 'utf8')).to.equal('nested\n');
      const reqs = await server.requests();
      const authed = reqs.filter((r) => r.status === 200);
      expect(authed.length).to.be.greaterThan(0);
      for (const r of authed) {
        expect(r.headers.authorization).to.equal(basic('alice', 'alice-pass'));
        expect(r.user).to.equal('alice');
      }
      expect(reqs.some((r) => r.method === 'POST' && r.path === '/org/repo.git/git-upload-pack')).to.equal(true);
      const refs = reqs.find((r) => r.path === '/org/repo.git/info/refs' && r.status === 200)!;
      expect(refs.query).to.equal('service=git-upload-pack');
      if (version === 2) expect(refs.headers['git-protocol']).to.equal('version=2');
      else expect(refs.headers['git-protocol']).to.equal(undefined);
    });
  }

  it('accepts user names and passwords that need URL escaping', async () => {
    const { stdout } = await git(['ls-remote', server.authUrl('org/repo.git', 'bot@x', 'p:w/d')]);
    expect(stdout).to.match(/refs\/heads\/main/);
  });

  it('refuses a clone with a wrong password or without credentials', async () => {
    for (const url of [server.authUrl('org/repo.git', 'alice', 'wrong'), `${server.url}/org/repo.git`]) {
      let failure = '';
      await git(['ls-remote', url]).catch((e: Error) => {
        failure = e.message;
      });
      expect(failure).to.match(/Authentication failed|could not read Username/);
    }
  });

  it('takes a chunked push, and a gzip upload-pack request', async () => {
    const dest = join(work, 'clone-push');
    await git(['clone', '--quiet', server.authUrl('org/repo.git', 'alice', 'alice-pass'), dest]);
    await writeFile(join(dest, 'big.bin'), randomBytes(300 * 1024));
    await git(['add', 'big.bin'], dest);
    await git(['commit', '--quiet', '-m', 'big'], dest);
    // Distinct commits on 40 branches: a later clone then sends > 1 KiB of wants, which git gzips.
    for (let i = 0; i < 40; i++) {
      await git(['commit', '--quiet', '--allow-empty', '-m', `c${i}`], dest);
      await git(['branch', `feature/branch-number-${i}`], dest);
    }
    await server.clearRequests();
    await git(['-c', 'http.postBuffer=65536', 'push', '--quiet', 'origin', '--all'], dest);
    const push = (await server.requests()).filter((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack'));
    expect(push.map((r) => r.status)).to.include(200);
    expect(push.some((r) => r.headers['transfer-encoding'] === 'chunked')).to.equal(true);

    await server.clearRequests();
    const again = join(work, 'clone-gzip');
    await git([
      '-c',
      'protocol.version=2',
      'clone',
      '--quiet',
      '--no-single-branch',
      server.authUrl('org/repo.git', 'alice', 'alice-pass'),
      again,
    ]);
    expect((await readFile(join(again, 'big.bin'))).length).to.equal(300 * 1024);
    const upload = (await server.requests()).filter((r) => r.method === 'POST' && r.path.endsWith('/git-upload-pack'));
    expect(upload.some((r) => r.headers['content-encoding'] === 'gzip' && r.status === 200)).to.equal(true);
    const { stdout } = await git(['branch', '-r'], again);
    expect(stdout).to.include('origin/feature/branch-number-39');
  });

  it('creates large incompressible repositories quickly', async () => {
    const size = 20 * 1024 * 1024;
    const repo = await server.createRepo('bench/big.git', { sizeBytes: size });
    expect(repo.head).to.match(/^[0-9a-f]{40}$/);
    const dest = join(work, 'clone-big');
    await git(['clone', '--quiet', server.authUrl(repo.path, 'alice', 'alice-pass'), dest]);
    const { stdout } = await git(['count-objects', '-v'], dest);
    const sizePack = Number(/size-pack: (\d+)/.exec(stdout)![1]) * 1024;
    expect(sizePack).to.be.greaterThan(size);
  });

  it('serves an empty repository that can be pushed to', async () => {
    await server.createRepo('org/empty.git', { empty: true });
    const src = join(work, 'fresh');
    await git(['init', '--quiet', '--initial-branch=main', src]);
    await writeFile(join(src, 'x.txt'), 'x\n');
    await git(['add', '.'], src);
    await git(['commit', '--quiet', '-m', 'x'], src);
    await git(['push', '--quiet', server.authUrl('org/empty.git', 'alice', 'alice-pass'), 'main'], src);
    const { stdout } = await git(['ls-remote', server.authUrl('org/empty.git', 'alice', 'alice-pass')]);
    expect(stdout).to.match(/refs\/heads\/main/);
  });
});
