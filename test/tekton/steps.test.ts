// The bundled Tasks' steps, run on this machine with the real tools (git, skopeo, buildah) against real servers
// (git http-backend behind apache with basic auth, two CNCF distribution registries, token and htpasswd auth),
// through the real Connectors proxy, with workspaces written by `connectors render` (the files the CSI driver
// mounts) for a ServiceAccount allowed to `get` the Connectors. No credential of a Git server or registry is in
// any workspace file, HOME or step environment; the ServiceAccount token is all the steps hold.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { KindClient } from '../../core/kube/resources.ts';
import {
  installClasses,
  type InstalledClasses,
  cluster,
  type Cluster,
  eventually,
  objects,
  startGitServer,
  type GitServer,
  runCommand,
  skopeo,
  startRegistry,
  type Registry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
} from '@connectors/test-support';
import { setLogSink } from '../../core/observability/log.ts';
import { startProxy, type RunningProxy } from '../../proxy/index.ts';
import { bundledTasks } from '../../tasks/index.ts';
import { runTask, StepFailed } from './run-step.ts';

const cli = fileURLToPath(new URL('../../cli/connectors.js', import.meta.url));
const task = (name: string) => bundledTasks().find((t) => t.name === name)!.task;

describe('tekton: bundled Task steps on the host, through the Connectors proxy', function () {
  this.timeout(300_000);
  const GIT_USER = 'ci-bot';
  const GIT_PASS = 'git-pass-' + randomBytes(8).toString('hex');
  const ROBOT = 'robot';
  const SRC_PASS = 'src-pass-' + randomBytes(8).toString('hex');
  const DST_PASS = 'dst-pass-' + randomBytes(8).toString('hex');
  const SECRETS = [GIT_PASS, SRC_PASS, DST_PASS];
  let c: Cluster;
  let ns: string;
  let systemNs: string;
  let dir: string;
  let git: GitServer;
  let src: Registry;
  let dst: Registry;
  let proxy: RunningProxy;
  let controller: RunningController;
  let restoreLogs: () => void;
  const logs: string[] = [];
  let installed: InstalledClasses | undefined;
  /** Workspaces rendered by `connectors render`. */
  const ws: Record<string, string> = {};
  let proxyHost: string;
  /** Host isolation for buildah and skopeo: storage and signature policy in this test's directory. */
  let containersEnv: Record<string, string>;

  /** `connectors render`, the real CLI, as the admin, for ServiceAccount `pipeline`. */
  async function render(connector: string, configuration: string, out: string): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, CONNECTORS_SYSTEM_NAMESPACE: systemNs };
    delete env.KUBECONFIG;
    const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          cli,
          'render',
          '--kubeconfig',
          c.kubeconfigPath,
          '--connector',
          `${ns}/${connector}`,
          '--configuration',
          configuration,
          '--service-account',
          'pipeline',
          '--out',
          out,
        ],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
    if (r.code !== 0) throw new Error(`connectors render ${connector}: ${r.output}`);
  }

  /** Every file under a directory (recursively), as text. */
  async function filesUnder(root: string): Promise<Array<{ path: string; text: string }>> {
    const out: Array<{ path: string; text: string }> = [];
    for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
      const p = join(e.parentPath, e.name);
      if (e.isFile() && (await stat(p)).size < 8 * 1024 * 1024)
        out.push({ path: p, text: await readFile(p, 'latin1') });
    }
    return out;
  }

  /** No Git or registry credential, plain or base64 of user:password, in these files and environments. */
  async function expectNoCredentials(roots: string[], envs: Array<Record<string, string>>): Promise<void> {
    const forms = SECRETS.flatMap((s) => [
      s,
      Buffer.from(`${GIT_USER}:${s}`).toString('base64'),
      Buffer.from(`${ROBOT}:${s}`).toString('base64'),
    ]);
    for (const root of roots)
      for (const f of await filesUnder(root))
        for (const s of forms) expect(f.text.includes(s), `${f.path} holds a credential`).to.equal(false);
    for (const env of envs)
      for (const [k, v] of Object.entries(env))
        for (const s of forms) expect(v.includes(s), `env ${k} holds a credential`).to.equal(false);
  }

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    c = await cluster();
    ns = await c.createNamespace('task-steps');
    systemNs = await c.createNamespace('task-steps-sys');
    dir = await mkdtemp(join(tmpdir(), 'task-steps-'));
    restoreLogs = setLogSink((l) => logs.push(l));
    git = await startGitServer({
      users: { [GIT_USER]: GIT_PASS },
      repos: { 'team/app.git': { files: { 'README.md': 'private app\n', Dockerfile: 'FROM scratch\n' } } },
    });
    [src, dst] = await Promise.all([
      startRegistry({ auth: 'token', users: { [ROBOT]: SRC_PASS } }),
      startRegistry({ auth: 'htpasswd', users: { [ROBOT]: DST_PASS } }),
    ]);
    proxy = await startProxy(c.kubeConfig, { host: '127.0.0.1', port: 0, systemNamespace: systemNs });
    proxyHost = new URL(proxy.url).host;
    controller = await startController(c.kubeConfig, {
      systemNamespace: systemNs,
      leaderElect: false,
      probePeriodMs: 60_000,
    });

    // The built-in classes as `connectors up` installs them (local mode: the in-process proxy's address).
    installed = await installClasses(
      c,
      'steps-test',
      builtinClasses({ systemNamespace: systemNs, proxyAddress: proxy.url, names: ['git', 'oci'] }),
    );
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.basicAuthSecret('git-auth', GIT_USER, GIT_PASS),
        objects.registryTokenSecret('src-auth', ROBOT, SRC_PASS),
        objects.registryTokenSecret('dst-auth', ROBOT, DST_PASS),
        objects.connector('git-connector', {
          className: 'git',
          address: git.url,
          auth: { name: 'basicAuth', secret: 'git-auth', params: { repository: 'team/app.git' } },
        }),
        objects.connector('mirror', {
          className: 'oci',
          address: src.url,
          auth: { name: 'tokenAuth', secret: 'src-auth' },
        }),
        objects.connector('harbor', {
          className: 'oci',
          address: dst.url,
          auth: { name: 'tokenAuth', secret: 'dst-auth' },
        }),
      ),
    });
    await c.createServiceAccount(ns, 'pipeline');
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.connectorReader({ name: 'pipeline-connectors', serviceAccount: 'pipeline', saNamespace: ns }),
      ),
    });
    const connectors = new KindClient(c.kubeConfig, 'Connector');
    for (const name of ['git-connector', 'mirror', 'harbor'])
      await eventually(
        `Connector ${name} to get its proxy address`,
        async () => (await connectors.get(name, ns)).status?.proxy?.httpAddress?.url,
        60_000,
      );

    ws.gitconfig = join(dir, 'ws-gitconfig');
    ws.mirror = join(dir, 'ws-mirror');
    ws.harbor = join(dir, 'ws-harbor');
    await render('git-connector', 'gitconfig', ws.gitconfig);
    await render('mirror', 'registry-config', ws.mirror);
    await render('harbor', 'registry-config', ws.harbor);

    const storage = join(dir, 'containers');
    await mkdir(join(storage, 'policy'), { recursive: true });
    await writeFile(
      join(storage, 'storage.conf'),
      `[storage]\ndriver = "vfs"\ngraphroot = "${storage}/graph"\nrunroot = "${storage}/run"\n`,
    );
    await writeFile(
      join(storage, 'policy', 'policy.json'),
      JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }),
    );
    await writeFile(join(storage, 'registries.conf'), 'unqualified-search-registries = []\n');
    containersEnv = {
      CONTAINERS_STORAGE_CONF: join(storage, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: join(storage, 'registries.conf'),
      // A container image brings its own /etc/containers/policy.json; on the host, the user-level one is read first.
      XDG_CONFIG_HOME: join(storage, 'xdg'),
    };
    await mkdir(join(storage, 'xdg', 'containers'), { recursive: true });
    await writeFile(
      join(storage, 'xdg', 'containers', 'policy.json'),
      JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }),
    );
  });

  after(async () => {
    await controller?.stop();
    await proxy?.stop();
    await Promise.all([git?.stop(), src?.stop(), dst?.stop()]);
    restoreLogs?.();
    await installed?.restore();
    if (ns) await c.deleteNamespace(ns);
    if (systemNs) await c.deleteNamespace(systemNs);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const gitEnv = () => ({ GIT_CONFIG_NOSYSTEM: '1' });
  const repoUrl = () => `${git.url}/team/app.git`;

  it('the rendered workspaces hold the proxy configuration and no credential', async () => {
    expect(await readFile(join(ws.gitconfig, '.gitconfig'), 'utf8')).to.include(
      `[url "${proxy.url}/namespaces/${ns}/connectors/git-connector"]`,
    );
    const config = JSON.parse(await readFile(join(ws.harbor, 'config.json'), 'utf8'));
    expect(Object.keys(config.auths)).to.deep.equal([proxyHost]);
    await expectNoCredentials(Object.values(ws), []);
  });

  describe('git-clone and git-push', () => {
    let checkout: string;
    let home: string;
    let cloned: string;

    it('git-clone clones the private repository with the basic-auth workspace only', async () => {
      checkout = await mkdtemp(join(dir, 'checkout-'));
      home = await mkdtemp(join(dir, 'home-'));
      await git.clearRequests();
      const r = await runTask(task('git-clone'), {
        params: { url: repoUrl(), revision: 'main', userHome: home },
        workspaces: { output: checkout, 'basic-auth': ws.gitconfig },
        env: gitEnv(),
      });
      expect(await readFile(join(checkout, 'README.md'), 'utf8')).to.equal('private app\n');
      const head = (
        await runCommand('git', ['--git-dir', join(git.root, 'team/app.git'), 'rev-parse', 'main'])
      ).stdout.trim();
      expect(r.results.commit).to.equal(head);
      expect(r.results.url).to.equal(repoUrl());
      expect(Number(r.results['committer-date'])).to.be.greaterThan(1_600_000_000);
      cloned = head;
      // The server saw the Connector's user, injected by the proxy, on every request of the fetch.
      const reqs = (await git.requests()).filter((q) => q.path.startsWith('/team/app.git/'));
      expect(reqs.length).to.be.greaterThan(0);
      for (const q of reqs) expect(q.user).to.equal(GIT_USER);
      await expectNoCredentials([checkout, home, ...Object.values(ws)], r.envs);
    });

    it('git-clone without the basic-auth workspace is refused by the server (the credentials come from the Connector)', async () => {
      const out = await mkdtemp(join(dir, 'checkout-'));
      const err = await runTask(task('git-clone'), {
        params: { url: repoUrl(), userHome: await mkdtemp(join(dir, 'home-')) },
        workspaces: { output: out },
        env: gitEnv(),
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StepFailed);
      expect((err as StepFailed).output).to.match(/Authentication failed|401|could not read Username/);
    });

    it('git-push commits the changed workspace and pushes it through the proxy', async () => {
      await writeFile(join(checkout, 'CHANGELOG.md'), 'built by the pipeline\n');
      const r = await runTask(task('git-push'), {
        params: { branch: 'main', message: 'Record the build', userHome: home },
        workspaces: { source: checkout, 'basic-auth': ws.gitconfig },
        env: gitEnv(),
      });
      expect(r.results.committed).to.equal('true');
      const bare = join(git.root, 'team/app.git');
      const head = (await runCommand('git', ['--git-dir', bare, 'rev-parse', 'main'])).stdout.trim();
      expect(head).to.equal(r.results.commit).and.not.equal(cloned);
      expect((await runCommand('git', ['--git-dir', bare, 'show', 'main:CHANGELOG.md'])).stdout).to.equal(
        'built by the pipeline\n',
      );
      expect((await runCommand('git', ['--git-dir', bare, 'log', '-1', '--format=%s%n%an', 'main'])).stdout).to.equal(
        'Record the build\nTekton\n',
      );
      const pushes = (await git.requests()).filter((q) => q.path === '/team/app.git/git-receive-pack');
      expect(pushes.length).to.be.greaterThan(0);
      for (const q of pushes) expect(q.user).to.equal(GIT_USER);
      await expectNoCredentials([checkout, home], r.envs);
    });

    it('git-push with nothing to commit pushes the current commit and says so', async () => {
      const r = await runTask(task('git-push'), {
        params: { branch: 'refs/heads/release', userHome: home },
        workspaces: { source: checkout, 'basic-auth': ws.gitconfig },
        env: gitEnv(),
      });
      expect(r.results.committed).to.equal('false');
      const bare = join(git.root, 'team/app.git');
      expect((await runCommand('git', ['--git-dir', bare, 'rev-parse', 'release'])).stdout.trim()).to.equal(
        r.results.commit,
      );
    });
  });

  describe('oci-copy and oci-build-push', () => {
    const ref = (connector: string, repo: string) => `${proxyHost}/namespaces/${ns}/connectors/${connector}/${repo}`;

    it('oci-copy copies an image between two authenticated registries through the proxy', async () => {
      const pushed = await src.pushTestImage('team/app:1.0');
      const r = await runTask(task('oci-copy'), {
        params: {
          source: `${ref('mirror', 'team/app')}:1.0`,
          destination: `${ref('harbor', 'promoted/app')}:1.0`,
          srcTlsVerify: 'false',
          destTlsVerify: 'false',
        },
        workspaces: { 'source-registry-config': ws.mirror, 'registry-config': ws.harbor },
        env: containersEnv,
      });
      expect(r.results.IMAGE_DIGEST).to.equal(pushed.digest);
      expect(r.results.IMAGE_URL).to.equal(ref('harbor', 'promoted/app'));
      // The destination registry has it, checked directly with its own credentials.
      const inspect = await skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        `${ROBOT}:${DST_PASS}`,
        `docker://${new URL(dst.directUrl).host}/promoted/app:1.0`,
      ]);
      expect(inspect.stdout).to.equal(pushed.manifest.toString());
      // Both registries saw the Connectors' robot, never the workload's token.
      expect(src.tokenRequests.some((t) => t.user === ROBOT)).to.equal(true);
      const pushes = dst.requests.filter((q) => q.method === 'PUT' && q.path.includes('/manifests/'));
      expect(pushes.length).to.be.greaterThan(0);
      for (const q of pushes)
        expect(q.headers.authorization).to.equal('Basic ' + Buffer.from(`${ROBOT}:${DST_PASS}`).toString('base64'));
      await expectNoCredentials(Object.values(ws), r.envs);
    });

    it('oci-copy without the registry workspaces is refused by the proxy', async () => {
      const err = await runTask(task('oci-copy'), {
        params: {
          source: `${ref('mirror', 'team/app')}:1.0`,
          destination: `${ref('harbor', 'promoted/app')}:1.1`,
          srcTlsVerify: 'false',
          destTlsVerify: 'false',
        },
        workspaces: {},
        env: containersEnv,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StepFailed);
      expect((err as StepFailed).output).to.match(/unauthorized|authentication required|401/i);
    });

    it('oci-build-push builds a Dockerfile with buildah and pushes it through the proxy', async () => {
      const source = await mkdtemp(join(dir, 'build-'));
      await writeFile(
        join(source, 'Dockerfile'),
        'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL org.example.built-by=tekton\n',
      );
      await writeFile(join(source, 'hello.txt'), 'hello from the pipeline\n');
      const image = `${ref('harbor', 'built/app')}:2.0`;
      const r = await runTask(task('oci-build-push'), {
        params: { image, tlsVerify: 'false', buildArgs: ['--label', 'org.example.run=steps-test'] },
        workspaces: { source, 'registry-config': ws.harbor },
        env: containersEnv,
      });
      expect(r.results.IMAGE_URL).to.equal(image);
      expect(r.results.IMAGE_DIGEST).to.match(/^sha256:[0-9a-f]{64}$/);
      const config = JSON.parse(
        (
          await skopeo([
            'inspect',
            '--config',
            '--tls-verify=false',
            '--creds',
            `${ROBOT}:${DST_PASS}`,
            `docker://${new URL(dst.directUrl).host}/built/app@${r.results.IMAGE_DIGEST}`,
          ])
        ).stdout,
      );
      expect(config.config.Labels).to.deep.include({
        'org.example.built-by': 'tekton',
        'org.example.run': 'steps-test',
      });
      await expectNoCredentials([source, ...Object.values(ws)], r.envs);
    });
  });

  describe('afterwards', () => {
    it('no component logged a credential', () => {
      const text = logs.join('\n');
      expect(text.length).to.be.greaterThan(0);
      for (const s of SECRETS) expect(text).to.not.include(s);
    });
  });
});
