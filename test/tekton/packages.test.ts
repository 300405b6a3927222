// The maven, npm, pip and kubectl Tasks' steps, run on this machine with the real tools (Debian's mvn, the npm of
// the project's Node.js, Debian's python3 venv and pip, the pinned kubectl) against real servers (a Maven
// repository server, verdaccio, pypiserver behind the repository server, the test apiserver), through the
// Connectors proxy, with the workspaces `connectors render` writes for Connectors of the built-in maven, npm,
// pypi and k8s classes. The set-up is the class journeys' (test/classes/packages-fixture.ts).
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensureBinary } from '../../core/peers/index.ts';
import { bundledTasks } from '../../tasks/index.ts';
import {
  cluster,
  MAKE_WHEEL,
  startPypiServer,
  type PypiServer,
  NEXUS_PYPI,
  startRepoServer,
  type RepoServer,
  MAVEN_DEPENDENCY_PLUGIN,
  MAVEN_DEPLOY_PLUGIN,
  mavenSeedRepository,
  pythonToolsBin,
  startVerdaccio,
  type Verdaccio,
  runCommand,
} from '@connectors/test-support';
import { seedMavenArtifact } from '../classes/clients.ts';
import {
  connectorYaml,
  podListerYaml,
  randomSecret,
  setupClasses,
  type ClassEnv,
} from '../classes/packages-fixture.ts';
import { runTask, type RunResult } from './run-step.ts';

const task = (name: string) => bundledTasks().find((t) => t.name === name)!.task;
/** The project's Node.js (with its npm) and the system's tools. */
const PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;

describe('tekton: maven, npm, pip and kubectl Task steps on the host, through the Connectors proxy', function () {
  this.timeout(600_000);
  let env: ClassEnv;
  let repo: RepoServer;
  let verdaccio: Verdaccio;
  let pypi: PypiServer;
  let pypiFront: RepoServer;
  const MAVEN_PASS = randomSecret('maven-pass');
  const NPM_PASS = randomSecret('npm-pass');
  const PYPI_PASS = randomSecret('pypi-pass');
  let connectorToken: string;
  const runs: RunResult[] = [];
  const run = async (...args: Parameters<typeof runTask>) => {
    const r = await runTask(...args);
    runs.push(r);
    return r;
  };

  before(async () => {
    const cp = (await cluster()).controlPlane;
    // The proxy trusts the apiserver's CA for the k8s Connector's upstream, as in test/classes/k8s.test.ts.
    env = await setupClasses('task-packages', {
      classes: ['maven', 'npm', 'pypi', 'k8s'],
      proxy: { upstream: { caPem: cp.caPem } },
      flags: ['enable-custom-ca-certs', 'enable-multi-connector'],
    });
    [repo, verdaccio, pypi] = await Promise.all([
      (async () =>
        startRepoServer({
          users: { 'maven-user': MAVEN_PASS },
          maven: { 'maven-public': await mavenSeedRepository(), 'maven-releases': null },
        }))(),
      startVerdaccio({ users: { 'npm-user': NPM_PASS } }),
      startPypiServer({ users: { 'pypi-user': PYPI_PASS } }),
    ]);
    pypiFront = await startRepoServer({ users: { 'pypi-user': PYPI_PASS }, pypi: pypi.url });
    await seedMavenArtifact(repo.mavenDir('maven-public'), 'com.example', 'greeting', '1.0', 'greeting 1.0\n');

    await env.c.createServiceAccount(env.ns, 'pod-lister');
    await env.apply(podListerYaml(env.ns, cp.caPem));
    connectorToken = await env.c.createToken(env.ns, 'pod-lister', { expirationSeconds: 3600 });
    await env.apply(
      [
        connectorYaml({
          name: 'maven-mirror',
          className: 'maven',
          address: `${repo.url}/repository/maven-public`,
          authName: 'basicAuth',
          data: { username: 'maven-user', password: MAVEN_PASS },
          params: { useAsMirror: 'true' },
        }),
        connectorYaml({
          name: 'maven-deploy',
          className: 'maven',
          address: `${repo.url}/repository/maven-releases`,
          authName: 'basicAuth',
          data: { username: 'maven-user', password: MAVEN_PASS },
        }),
        connectorYaml({
          name: 'npm-connector',
          className: 'npm',
          address: verdaccio.url,
          authName: 'basicAuth',
          data: { username: 'npm-user', password: NPM_PASS },
          params: { registryType: 'all' },
        }),
        connectorYaml({
          name: 'pypi-connector',
          className: 'pypi',
          address: `${pypiFront.url}${NEXUS_PYPI.replace(/\/$/, '')}`,
          authName: 'basicAuth',
          data: { username: 'pypi-user', password: PYPI_PASS },
        }),
        connectorYaml({
          name: 'k8s-connector',
          className: 'k8s',
          address: env.c.server,
          authName: 'bearerTokenAuth',
          secretType: 'connectors.cpaas.io/bearer-token',
          data: { token: connectorToken },
          caSecret: 'apiserver-ca',
        }),
      ].join('---\n'),
    );
    await env.c.core.createNamespacedPod({
      namespace: env.ns,
      body: {
        metadata: { name: 'listed-pod' },
        spec: { containers: [{ name: 'c', image: 'registry.invalid/none:1' }] },
      },
    });
    const connectors = ['maven-mirror', 'maven-deploy', 'npm-connector', 'pypi-connector', 'k8s-connector'];
    await env.workload('pipeline', connectors);
    for (const name of connectors) await env.ready(name);
  });
  after(async () => {
    await env?.stop();
    await Promise.all([repo?.stop(), verdaccio?.stop(), pypiFront?.stop()]);
    await pypi?.stop();
  });

  it('maven resolves through the mirror Connector and deploys through the deploy Connector, both in its workspace', async () => {
    // Two Connectors in one volume, as the MavenRepository interface merges them (enable-multi-connector).
    const settings = await env.render({
      connectors: ['maven-mirror', 'maven-deploy'],
      configuration: 'settings',
      serviceAccount: 'pipeline',
    });
    const source = await mkdtemp(join(env.work, 'maven-src-'));
    const home = await mkdtemp(join(env.work, 'maven-home-'));
    await writeFile(join(source, 'built.jar'), 'built by the maven Task\n');
    await repo.clearRequests();
    const got = await run(task('maven'), {
      params: {
        goals: [`${MAVEN_DEPENDENCY_PLUGIN}:get`, '-Dartifact=com.example:greeting:1.0', '-Dtransitive=false'],
        userHome: home,
      },
      workspaces: { source, 'maven-settings': settings.dir },
      env: { PATH, LANG: 'C.UTF-8' },
    });
    expect(got.output).to.include('BUILD SUCCESS');
    expect(await readFile(join(home, '.m2/repository/com/example/greeting/1.0/greeting-1.0.jar'), 'utf8')).to.equal(
      'greeting 1.0\n',
    );
    // The proxy CA went into a copy of the JVM trust store in HOME, not into the image's.
    expect(existsSync(join(home, '.m2/cacerts'))).to.equal(true);

    const deployed = await run(task('maven'), {
      params: {
        goals: [
          `${MAVEN_DEPLOY_PLUGIN}:deploy-file`,
          `-Dfile=${join(source, 'built.jar')}`,
          '-DgroupId=com.example',
          '-DartifactId=built',
          '-Dversion=1.0',
          '-Dpackaging=jar',
          `-Durl=${repo.url}/repository/maven-releases`,
          '-DrepositoryId=maven-releases',
        ],
        userHome: home,
      },
      workspaces: { source, 'maven-settings': settings.dir },
      env: { PATH, LANG: 'C.UTF-8' },
    });
    expect(deployed.output).to.include('BUILD SUCCESS');
    expect(
      await readFile(join(repo.mavenDir('maven-releases'), 'com/example/built/1.0/built-1.0.jar'), 'utf8'),
    ).to.equal('built by the maven Task\n');
    // Every request reached the repositories through the proxy with the repository user's credentials.
    const reqs = (await repo.requests()).filter((q) => q.path.startsWith('/repository/'));
    expect(reqs.some((q) => q.method === 'PUT' && q.status === 201)).to.equal(true);
    const basic = `Basic ${Buffer.from(`maven-user:${MAVEN_PASS}`).toString('base64')}`;
    for (const q of reqs) expect(q.headers.authorization, `${q.method} ${q.path}`).to.equal(basic);
    await env.expectNowhere(MAVEN_PASS, [settings.dir, source, home]);
  });

  it('npm publishes and installs through the npm Connector with the .npmrc of its workspace', async () => {
    const npmrc = await env.render({
      connectors: ['npm-connector'],
      configuration: 'npmrc',
      serviceAccount: 'pipeline',
    });
    const work = await mkdtemp(join(env.work, 'npm-'));
    const pkg = join(work, 'pkg');
    const app = join(work, 'app');
    await mkdir(pkg);
    await mkdir(app);
    await writeFile(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'task-greeting', version: '1.0.0', license: 'MIT' }),
    );
    await writeFile(join(pkg, 'index.js'), "module.exports = 'hello from the npm Task';\n");
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { 'task-greeting': '1.0.0' } }),
    );
    const common = {
      workspaces: { source: work, 'npm-config': npmrc.dir },
      env: { PATH, npm_config_update_notifier: 'false' },
    };
    const published = await run(task('npm'), {
      params: { args: ['publish'], subdirectory: 'pkg', userHome: join(work, 'home') },
      ...common,
    });
    expect(published.output).to.include('+ task-greeting@1.0.0');
    await run(task('npm'), {
      params: { args: ['install', '--prefer-online'], subdirectory: 'app', userHome: join(work, 'home') },
      ...common,
    });
    expect(await readFile(join(app, 'node_modules/task-greeting/index.js'), 'utf8')).to.include(
      'hello from the npm Task',
    );
    await env.expectNowhere(NPM_PASS, [npmrc.dir, work]);
  });

  it('pip installs from the pypi Connector with the pip.conf of its workspace, in the venv the step makes', async () => {
    // The package to install, uploaded beforehand with the index's own credentials.
    const bin = await pythonToolsBin();
    const work = await mkdtemp(join(env.work, 'pip-'));
    const dist = join(work, 'dist');
    await mkdir(dist);
    const wheel = (
      await env.run(join(bin, 'python'), [MAKE_WHEEL, 'task-greeting', '1.0', dist], { env: { PATH } })
    ).stdout.trim();
    // Not through env.run: the class journeys' leak checks look at every recorded client, and this one holds the
    // index password on purpose (in its environment, never in its arguments).
    await runCommand(
      join(bin, 'twine'),
      ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${pypi.url}/`, wheel],
      {
        env: {
          PATH,
          HOME: work,
          TWINE_USERNAME: 'pypi-user',
          TWINE_PASSWORD: PYPI_PASS,
          PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
        },
      },
    );
    expect(await pypi.packages()).to.include('task_greeting-1.0-py3-none-any.whl');

    const pipconf = await env.render({
      connectors: ['pypi-connector'],
      configuration: 'pipconf',
      serviceAccount: 'pipeline',
    });
    const target = join(work, 'site');
    await pypiFront.clearRequests();
    await run(task('pip'), {
      params: {
        args: ['install', '--no-deps', '--no-cache-dir', '--target', target, 'task-greeting==1.0'],
        venv: join(work, 'venv'),
      },
      workspaces: { source: work, 'pip-config': pipconf.dir },
      env: { PATH: '/usr/bin:/bin' },
    });
    expect(await readFile(join(target, 'task_greeting.py'), 'utf8')).to.include('hello from task-greeting 1.0');
    const reqs = await pypiFront.requests();
    expect(reqs.some((q) => q.path.startsWith(`${NEXUS_PYPI}packages/task_greeting-1.0`))).to.equal(true);
    for (const q of reqs)
      expect(q.headers.authorization, `${q.method} ${q.path}`).to.equal(
        `Basic ${Buffer.from(`pypi-user:${PYPI_PASS}`).toString('base64')}`,
      );
    await env.expectNowhere(PYPI_PASS, [pipconf.dir, join(work, 'site'), join(work, 'venv')]);
  });

  it("kubectl reaches the cluster of the k8s Connector with its token, which the workload's own cannot", async () => {
    const kube = await env.render({
      connectors: ['k8s-connector'],
      configuration: 'kubeconfig',
      serviceAccount: 'pipeline',
    });
    const kubectlDir = dirname(await ensureBinary('kubectl'));
    const r = await run(task('kubectl'), {
      params: { args: ['get', 'pods', '-n', env.ns, '-o', 'name'] },
      workspaces: { kubeconfig: kube.dir },
      env: { PATH: `${kubectlDir}:/usr/bin:/bin` },
    });
    expect(r.output).to.include('pod/listed-pod');
    // The workload's own ServiceAccount may not list Pods: the Connector's token does, through the proxy.
    const own = await env.c
      .kubectl(['get', 'pods', '-n', env.ns], {
        kubeconfigPath: await writeKubeconfig(await env.c.createToken(env.ns, 'pipeline')),
      })
      .then(
        () => 'listed',
        (e: Error) => e.message,
      );
    expect(own).to.match(/forbidden/i);
    await env.expectNowhere(connectorToken, [kube.dir]);
  });

  describe('afterwards', () => {
    it('no step environment held a repository password or the cluster token', () => {
      const secrets = [MAVEN_PASS, NPM_PASS, PYPI_PASS, connectorToken];
      expect(runs.length, 'two maven, two npm, one pip and one kubectl run').to.equal(6);
      for (const r of runs)
        for (const e of r.envs)
          for (const [k, v] of Object.entries(e)) for (const s of secrets) expect(v.includes(s), k).to.equal(false);
    });
  });

  async function writeKubeconfig(token: string): Promise<string> {
    const p = join(env.work, `own-${Date.now()}.kubeconfig`);
    await writeFile(p, env.c.tokenKubeconfig(token));
    return p;
  }
});
