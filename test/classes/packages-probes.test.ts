// The probes of the package-registry classes and git, against the real servers of the journeys (probes.test.ts has
// the other classes with an auth probe; auth-probe-tables.ts lists both): the right credentials make AuthReady
// True; a wrong password (or token) makes it False with AuthenticationFailed and the Connector not Ready; an address
// where nothing listens makes LivenessReady (and Ready) False with ConnectionFailed.
import { expect } from 'chai';
import {
  cluster,
  eventually,
  startGitServer,
  type GitServer,
  freePort,
  startPypiServer,
  type PypiServer,
  NEXUS_PYPI,
  startRepoServer,
  type RepoServer,
  startVerdaccio,
  type Verdaccio,
  objects,
} from '@connectors/test-support';
import { startGitPlugin, type RunningGitPlugin } from '../../plugins/git/index.ts';
import { AUTH_PROBE_TABLES } from './auth-probe-tables.ts';
import { connectorYaml, randomSecret, setupClasses, type ClassEnv } from './packages-fixture.ts';

interface ProbeCase {
  cls: string;
  address: () => string;
  /** An address on the same scheme where nothing listens. */
  down: (port: number) => string;
  authName: string;
  secretType?: string;
  authParams?: Record<string, string>;
  good: () => Record<string, string>;
  bad: () => Record<string, string>;
}

describe('classes: probes — AuthenticationFailed for a wrong password, ConnectionFailed for an unreachable address', function () {
  this.timeout(300_000);
  let env: ClassEnv;
  let repo: RepoServer;
  let registry: Verdaccio;
  let index: PypiServer;
  let git: GitServer;
  let gitPlugin: RunningGitPlugin;
  let k8sToken: string;
  let closedPort: number;
  const password = randomSecret('probe-pass');
  const users = { 'probe-user': password };
  const basic = (p: string) => ({ username: 'probe-user', password: p });

  const CASES: ProbeCase[] = [
    {
      // git's auth probe reads the repository's refs with the credentials (spec.auth.params repository).
      cls: 'git',
      address: () => git.url,
      down: (port) => `http://127.0.0.1:${port}`,
      authName: 'basicAuth',
      authParams: { repository: 'team/app.git' },
      good: () => basic(password),
      bad: () => basic('wrong-' + password),
    },
    {
      cls: 'k8s',
      address: () => env.c.server,
      down: (port) => `https://127.0.0.1:${port}`,
      authName: 'bearerTokenAuth',
      secretType: 'connectors.cpaas.io/bearer-token',
      good: () => ({ token: k8sToken }),
      bad: () => ({ token: k8sToken.slice(0, -8) + 'AAAAAAAA' }),
    },
    {
      cls: 'maven',
      address: () => `${repo.url}/repository/maven-releases`,
      down: (port) => `http://127.0.0.1:${port}/repository/maven-releases`,
      authName: 'basicAuth',
      good: () => basic(password),
      bad: () => basic('wrong-' + password),
    },
    {
      cls: 'npm',
      address: () => registry.url,
      down: (port) => `http://127.0.0.1:${port}`,
      authName: 'basicAuth',
      good: () => basic(password),
      bad: () => basic('wrong-' + password),
    },
    {
      cls: 'pypi',
      address: () => `${repo.url}${NEXUS_PYPI.replace(/\/$/, '')}`,
      down: (port) => `http://127.0.0.1:${port}/repository/pypi-hosted`,
      authName: 'basicAuth',
      good: () => basic(password),
      bad: () => basic('wrong-' + password),
    },
    ...['nexus', 'jfrog'].map((cls): ProbeCase => ({
      cls,
      address: () => repo.url,
      down: (port) => `http://127.0.0.1:${port}`,
      authName: 'basicAuth',
      good: () => basic(password),
      bad: () => basic('wrong-' + password),
    })),
  ];

  before(async () => {
    const cp = (await cluster()).controlPlane;
    // The git class is Ready only with its API plugin reachable, as `connectors up` runs it.
    gitPlugin = await startGitPlugin({ host: '127.0.0.1', port: 0 });
    env = await setupClasses('class-probes', {
      classes: CASES.map((c) => c.cls),
      flags: ['enable-custom-ca-certs'],
      pluginAddresses: { 'connectors-git-plugin': gitPlugin.url },
    });
    registry = await startVerdaccio({ users });
    index = await startPypiServer({ users });
    repo = await startRepoServer({ users, maven: { 'maven-releases': null }, pypi: index.url });
    git = await startGitServer({ users, repos: { 'team/app.git': { files: { 'README.md': 'app\n' } } } });
    closedPort = await freePort();
    await env.c.createServiceAccount(env.ns, 'api-user');
    k8sToken = await env.c.createToken(env.ns, 'api-user', { expirationSeconds: 3600 });
    let yaml = objects.yaml(objects.caCertSecret('apiserver-ca', cp.caPem)) + '---\n';
    for (const c of CASES)
      for (const [suffix, address, data] of [
        ['good', c.address(), c.good()],
        ['bad', c.address(), c.bad()],
        ['down', c.down(closedPort), c.good()],
      ] as const)
        yaml +=
          connectorYaml({
            name: `${c.cls}-${suffix}`,
            className: c.cls,
            address,
            authName: c.authName,
            secretType: c.secretType,
            authParams: c.authParams,
            data,
            caSecret: c.cls === 'k8s' ? 'apiserver-ca' : undefined,
          }) + '---\n';
    await env.apply(yaml);
  });
  after(async () => {
    await env?.stop();
    await repo?.stop();
    await registry?.stop();
    await index?.stop();
    await git?.stop();
    await gitPlugin?.stop();
  });

  it('covers the classes auth-probe-tables.ts gives this table', () => {
    expect(CASES.map((c) => c.cls).sort()).to.deep.equal([...AUTH_PROBE_TABLES.packages].sort());
  });

  const settled = (name: string, type: string, status: string) =>
    eventually(
      `${name} ${type}=${status}`,
      async () => {
        const c = await env.condition(name, type);
        return c?.status === status && c;
      },
      90_000,
      200,
    );

  for (const c of CASES) {
    describe(c.cls, () => {
      it('the right credentials: LivenessReady and AuthReady True, Ready', async () => {
        await settled(`${c.cls}-good`, 'AuthReady', 'True');
        expect(await env.condition(`${c.cls}-good`, 'LivenessReady')).to.include({ status: 'True' });
        await env.ready(`${c.cls}-good`);
      });

      it('a wrong password: AuthReady False with AuthenticationFailed, not Ready', async () => {
        const auth = await settled(`${c.cls}-bad`, 'AuthReady', 'False');
        expect(auth.reason).to.equal('AuthenticationFailed');
        expect(auth.message).to.not.include(password);
        expect(await env.condition(`${c.cls}-bad`, 'Ready')).to.include({
          status: 'False',
          reason: 'AuthenticationFailed',
        });
      });

      it('nothing listening at the address: LivenessReady False with ConnectionFailed, not Ready', async () => {
        const live = await settled(`${c.cls}-down`, 'LivenessReady', 'False');
        expect(live.reason).to.equal('ConnectionFailed');
        expect(live.message).to.include(`127.0.0.1:${closedPort}`);
        expect(await env.condition(`${c.cls}-down`, 'Ready')).to.include({
          status: 'False',
          reason: 'ConnectionFailed',
        });
      });
    });
  }
});
