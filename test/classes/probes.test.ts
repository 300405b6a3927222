// The probes of the built-in classes github, gitlab, harbor, sonarqube and oci, run by the real controller
// against real servers: the distribution registry (htpasswd and token auth) for oci, and for the others
// stand-ins that answer the endpoints the reference documents (GitHub /user, GitLab /api/v4/user, Harbor
// /api/v2.0/ping and /api/v2.0/users/current, SonarQube /api/system/status and /api/authentication/validate),
// because no GitHub, GitLab, Harbor or SonarQube server runs here. For every class, table-driven:
// the right credential → Ready; a wrong one → AuthReady False/AuthenticationFailed; an address where nothing
// listens → LivenessReady False/ConnectionFailed (and Ready False for that reason).
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  freePort,
  startRegistry,
  type Registry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import { restFor, waitClassCondition } from '../controller/helpers.ts';
import { AUTH_PROBE_TABLES } from './auth-probe-tables.ts';
import { classEnv, leaksOf, type ClassEnv } from './fixture.ts';
import { credentialOf, json, startStandIn, testCA, type StandIn } from './standins.ts';

const GOOD = 'good-' + randomBytes(8).toString('hex');
const WRONG = 'wrong-' + randomBytes(8).toString('hex');

interface ClassCase {
  cls: string;
  /** Address of the running server. */
  address: () => string;
  addressExtensions?: () => Record<string, string>;
  authName: string;
  secretType: string;
  /** stringData of the Secret holding `credential`. */
  secret: (credential: string) => Record<string, string>;
  /** The requests of the server that must have carried the good credential (the auth probe's). */
  probed: () => Array<{ path: string; carries: string }>;
}

describe('classes: liveness and auth probes against real servers and stand-ins', function () {
  this.timeout(300_000);
  let env: ClassEnv;
  let github: StandIn;
  let githubApi: StandIn;
  let gitlab: StandIn;
  let harbor: StandIn;
  let sonar: StandIn;
  let registries: Record<'htpasswd' | 'token', Registry>;
  let closedPort: number;

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    const ca = await testCA();
    const tls = { ca, host: '127.0.0.1' };
    github = await startStandIn({
      tls,
      route: (r, res) => {
        if (r.path === '/') return json(res, 200, {});
        if (r.path !== '/api/v3/user') return json(res, 404, { message: 'Not Found' });
        const c = credentialOf(r.headers);
        return c.scheme === 'bearer' && c.secret === GOOD
          ? json(res, 200, { login: 'octocat', id: 1 })
          : json(res, 401, { message: 'Bad credentials' });
      },
    });
    // github.com's layout: the API on its own origin, here under a path prefix.
    githubApi = await startStandIn({
      tls,
      route: (r, res) => {
        if (r.path !== '/gh-api/user') return json(res, 404, { message: 'Not Found' });
        const c = credentialOf(r.headers);
        return c.scheme === 'bearer' && c.secret === GOOD
          ? json(res, 200, { login: 'octocat', id: 1 })
          : json(res, 401, { message: 'Bad credentials' });
      },
    });
    gitlab = await startStandIn({
      route: (r, res) => {
        if (r.path === '/') return json(res, 200, {});
        if (r.path !== '/api/v4/user') return json(res, 404, { message: '404 Not Found' });
        return r.headers['private-token'] === GOOD
          ? json(res, 200, { id: 1, username: 'root' })
          : json(res, 401, { message: '401 Unauthorized' });
      },
    });
    harbor = await startStandIn({
      route: (r, res) => {
        if (r.path === '/api/v2.0/ping') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('Pong');
          return true;
        }
        if (r.path !== '/api/v2.0/users/current') return json(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
        const c = credentialOf(r.headers);
        return c.scheme === 'basic' && c.user === 'robot$ci' && c.secret === GOOD
          ? json(res, 200, { user_id: 3, username: 'robot$ci' })
          : json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized' }] });
      },
    });
    sonar = await startStandIn({
      route: (r, res) => {
        if (r.path === '/api/system/status') return json(res, 200, { id: 'x', version: '10.6', status: 'UP' });
        if (r.path !== '/api/authentication/validate') return json(res, 404, { errors: [{ msg: 'Unknown url' }] });
        const c = credentialOf(r.headers);
        // SonarQube answers 200 either way; `valid` says whether the token is.
        return json(res, 200, { valid: c.scheme === 'bearer' && c.secret === GOOD });
      },
    });
    registries = {
      htpasswd: await startRegistry({ auth: 'htpasswd', users: { robot: GOOD } }),
      token: await startRegistry({ auth: 'token', users: { robot: GOOD } }),
    };
    closedPort = await freePort();
    env = await classEnv('class-probes', {
      classes: ['github', 'gitlab', 'harbor', 'sonarqube', 'oci'],
      trustCaPem: ca.certPem,
    });
  });

  after(async () => {
    await env?.stop();
    for (const s of [github, githubApi, gitlab, harbor, sonar]) await s?.stop();
    for (const r of Object.values(registries ?? {})) await r.stop();
  });

  it('the five classes are Ready: proxy reachable, every Rego policy compiled by the real opa', async () => {
    const rest = await restFor(env.c);
    try {
      for (const cls of ['github', 'gitlab', 'harbor', 'sonarqube', 'oci']) {
        const ready = await waitClassCondition(rest, cls, 'Ready', { status: 'True' }, 60_000);
        expect(ready.status?.conditions?.find((c) => c.type === 'PoliciesReady')?.status, cls).to.equal('True');
      }
    } finally {
      await rest.close();
    }
  });

  const CASES: ClassCase[] = [
    {
      cls: 'github',
      address: () => github.url,
      authName: 'patAuth',
      secretType: 'Opaque',
      secret: (token) => ({ token }),
      probed: () => [{ path: '/api/v3/user', carries: `Bearer ${GOOD}` }],
    },
    {
      cls: 'github',
      address: () => github.url,
      addressExtensions: () => ({ api: `${githubApi.url}/gh-api` }),
      authName: 'patAuth',
      secretType: 'Opaque',
      secret: (token) => ({ token }),
      probed: () => [{ path: '/gh-api/user', carries: `Bearer ${GOOD}` }],
    },
    {
      cls: 'gitlab',
      address: () => gitlab.url,
      authName: 'patAuth',
      secretType: 'connectors.cpaas.io/gitlab-pat-auth',
      secret: (token) => ({ token }),
      probed: () => [{ path: '/api/v4/user', carries: GOOD }],
    },
    {
      cls: 'harbor',
      address: () => harbor.url,
      authName: 'basicAuth',
      secretType: 'kubernetes.io/basic-auth',
      secret: (password) => ({ username: 'robot$ci', password }),
      probed: () => [
        { path: '/api/v2.0/users/current', carries: 'Basic ' + Buffer.from(`robot$ci:${GOOD}`).toString('base64') },
      ],
    },
    {
      cls: 'sonarqube',
      address: () => sonar.url,
      authName: 'tokenAuth',
      secretType: 'connectors.cpaas.io/bearer-token',
      secret: (token) => ({ token }),
      probed: () => [{ path: '/api/authentication/validate', carries: `Bearer ${GOOD}` }],
    },
    ...(['htpasswd', 'token'] as const).map((mode): ClassCase => ({
      cls: 'oci',
      address: () => registries[mode].url,
      authName: 'tokenAuth',
      secretType: 'cpaas.io/distribution-registry-token',
      secret: (password) => ({ username: 'robot', password }),
      probed: () => [],
    })),
  ];

  it('covers the classes auth-probe-tables.ts gives this table', () => {
    expect([...new Set(CASES.map((c) => c.cls))].sort()).to.deep.equal([...AUTH_PROBE_TABLES.services].sort());
  });

  const connectorYaml = (name: string, k: ClassCase, address: string, credential: string) =>
    objects.yaml(
      objects.secret(`${name}-secret`, { type: k.secretType, stringData: k.secret(credential) }),
      objects.connector(name, {
        className: k.cls,
        address,
        addressExtensions: k.addressExtensions?.(),
        auth: { name: k.authName, secret: `${name}-secret` },
      }),
    );

  CASES.forEach((k, i) => {
    const registry = k.cls === 'oci' ? ` (${i === CASES.length - 1 ? 'token' : 'htpasswd'} registry)` : '';
    const label = `${k.cls}${k.addressExtensions ? ' (api address extension)' : ''}${registry}`;
    it(`${label}: the right credential is Ready, a wrong one AuthenticationFailed, an unreachable address ConnectionFailed`, async () => {
      const base = `${k.cls}-${i}`;
      const closed = new URL(k.address());
      closed.port = String(closedPort);
      await env.apply(connectorYaml(`${base}-good`, k, k.address(), GOOD));
      await env.apply(connectorYaml(`${base}-wrong`, k, k.address(), WRONG));
      await env.apply(connectorYaml(`${base}-down`, k, closed.toString().replace(/\/$/, ''), GOOD));

      const good = await env.waitConditions(`${base}-good`, {
        LivenessReady: 'True',
        AuthReady: 'True',
        Ready: 'True',
      });
      expect(good.status?.conditions?.find((c) => c.type === 'AuthReady')?.reason ?? '').to.not.equal('NonAuthProbe');
      const wrong = await env.waitConditions(`${base}-wrong`, {
        LivenessReady: 'True',
        AuthReady: ['False', 'AuthenticationFailed'],
        Ready: ['False', 'AuthenticationFailed'],
      });
      const down = await env.waitConditions(`${base}-down`, {
        LivenessReady: ['False', 'ConnectionFailed'],
        Ready: ['False', 'ConnectionFailed'],
      });
      expect(down.status?.conditions?.find((c) => c.type === 'LivenessReady')?.message).to.include(
        'connection refused',
      );
      for (const p of k.probed()) {
        const seen = [github, githubApi, gitlab, harbor, sonar]
          .flatMap((s) => s.requests)
          .filter((r) => r.path === p.path)
          .map((r) => r.headers.authorization ?? r.headers['private-token']);
        expect(seen, `${p.path} received the Secret's credential`).to.include(p.carries);
      }
      // Conditions never carry a credential.
      const statuses = JSON.stringify([good.status, wrong.status, down.status]);
      expect(statuses).to.not.include(GOOD);
      expect(statuses).to.not.include(WRONG);
    });
  });

  it('the token registry checked the credentials at its token service, as docker login does', () => {
    const users = registries.token.tokenRequests.map((r) => [r.status, r.user ?? null]);
    expect(users).to.deep.include([200, 'robot']);
    expect(users.filter(([s]) => s === 401).length).to.be.greaterThan(0);
  });

  it('no credential in any log line of the controller or the proxy', async () => {
    expect(await leaksOf(env, GOOD)).to.deep.equal([]);
    expect(await leaksOf(env, WRONG)).to.deep.equal([]);
  });
});
