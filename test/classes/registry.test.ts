// The harbor, oci and sonarqube classes end to end with the real components and only the rendered files:
// - harbor: skopeo pushes and pulls through the proxy with the rendered registry-config (config.json) against
//   the real distribution registry (token auth) behind a Harbor stand-in that answers the Harbor API
//   (/api/v2.0/ping, /api/v2.0/users/current) and relays /v2/ to the registry (no Harbor runs here); the
//   harbor-cli context's forward proxy (.env) reaches the Harbor API with the account; a Pod labelled
//   connectors.cpaas.io/proxy-inject and annotated with the harbor Connector gets its image rewritten by the
//   real webhook, and that image pulls through the proxy with the pull-secret credentials (u:<token>);
// - oci: the legacy docker-config configuration works as registry-config with skopeo;
// - sonarqube: the rendered sonar-project.properties, parsed back, sends a scanner's request through the
//   forward proxy (proxyHost/proxyPort/proxyUser/proxyPassword) to a SonarQube stand-in, which gets the
//   Connector's token.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import {
  eventually,
  buildOciLayout,
  skopeo,
  startRegistry,
  type Registry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import { classEnv, leaksOf, type ClassEnv } from './fixture.ts';
import { credentialOf, json, startStandIn, type StandIn } from './standins.ts';

const ROBOT = 'robot$ci';
const ROBOT_SECRET = 'Harbor' + randomBytes(10).toString('hex');
const SONAR_TOKEN = 'squ_' + randomBytes(12).toString('hex');
const TEST_LABEL = 'connectors.test/class-registry';

describe('classes: harbor, oci and sonarqube with skopeo, the webhook and the forward proxy', function () {
  this.timeout(300_000);
  let env: ClassEnv;
  let registry: Registry;
  let ociRegistry: Registry;
  let harbor: StandIn;
  let sonar: StandIn;
  let webhook: RunningWebhook;
  const webhookState = mkdtempSync(join(tmpdir(), 'class-webhook-'));
  const id = randomBytes(4).toString('hex');
  let layout: Awaited<ReturnType<typeof buildOciLayout>>;
  // skopeo() (test/support/peers/registry.ts) gives skopeo PATH, HOME and REGISTRY_AUTH_FILE=/dev/null only.
  const sk = async (args: string[]) => {
    const r = await skopeo(args);
    env.record({ cmd: 'skopeo', args, env: {}, output: r.stdout + r.stderr });
    return r;
  };

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    registry = await startRegistry({ auth: 'token', users: { [ROBOT]: ROBOT_SECRET } });
    ociRegistry = await startRegistry({ auth: 'htpasswd', users: { robot: ROBOT_SECRET } });
    harbor = await startStandIn({
      relay: registry.url,
      route: (r, res) => {
        if (!r.path.startsWith('/api/v2.0/')) return false;
        if (r.path === '/api/v2.0/ping') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('Pong');
          return true;
        }
        const c = credentialOf(r.headers);
        if (c.scheme !== 'basic' || c.user !== ROBOT || c.secret !== ROBOT_SECRET)
          return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized' }] });
        if (r.path === '/api/v2.0/users/current') return json(res, 200, { user_id: 3, username: ROBOT });
        if (r.path === '/api/v2.0/projects') return json(res, 200, [{ project_id: 1, name: 'library' }]);
        return json(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
      },
    });
    sonar = await startStandIn({
      route: (r, res) => {
        if (r.path === '/api/system/status') return json(res, 200, { id: 'x', version: '10.6', status: 'UP' });
        const c = credentialOf(r.headers);
        if (r.path === '/api/authentication/validate')
          return json(res, 200, { valid: c.scheme === 'bearer' && c.secret === SONAR_TOKEN });
        if (r.path === '/api/server/version') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('10.6.0.92116');
          return true;
        }
        return json(res, 404, { errors: [{ msg: 'Unknown url' }] });
      },
    });
    env = await classEnv('class-registry', { classes: ['harbor', 'oci', 'sonarqube'] });
    await env.c.kubectl(['label', 'namespace', env.ns, `${TEST_LABEL}=${id}`]);
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('harbor-secret', ROBOT, ROBOT_SECRET),
        objects.connector('harbor-connector', {
          className: 'harbor',
          address: harbor.url,
          auth: { name: 'basicAuth', secret: 'harbor-secret' },
        }),
        objects.registryTokenSecret('oci-secret', 'robot', ROBOT_SECRET),
        objects.connector('oci-connector', {
          className: 'oci',
          address: ociRegistry.url,
          auth: { name: 'tokenAuth', secret: 'oci-secret' },
        }),
        objects.bearerTokenSecret('sonarqube-token-secret', SONAR_TOKEN),
        objects.connector('sonarqube-connector', {
          className: 'sonarqube',
          address: `${sonar.url}/`,
          auth: { name: 'tokenAuth', secret: 'sonarqube-token-secret' },
        }),
      ),
    );
    for (const name of ['harbor-connector', 'oci-connector', 'sonarqube-connector'])
      await env.waitConditions(name, { Ready: 'True' });
    layout = await buildOciLayout(await mkdtemp(join(env.dir, 'layout-')), { tag: 'v1' });
  });

  after(async () => {
    await webhook?.stop();
    rmSync(webhookState, { recursive: true, force: true });
    await env?.stop();
    await harbor?.stop();
    await sonar?.stop();
    await registry?.stop();
    await ociRegistry?.stop();
  });

  const proxyRef = async (connector: string) =>
    (await env.connector(connector)).status!.proxy!.httpAddress!.url!.replace(/^https?:\/\//, '');

  for (const k of [
    { cls: 'harbor', connector: 'harbor-connector', configuration: 'registry-config', upstream: () => registry },
    { cls: 'oci', connector: 'oci-connector', configuration: 'docker-config', upstream: () => ociRegistry },
  ]) {
    it(`${k.cls}: skopeo pushes and pulls through the proxy with only the rendered ${k.configuration} config.json`, async () => {
      const dir = await env.render(k.connector, k.configuration);
      const authfile = join(dir, 'config.json');
      const ref = `${await proxyRef(k.connector)}/library/app:v1`;
      k.upstream().clearRequests();
      await sk([
        'copy',
        '--dest-tls-verify=false',
        '--dest-authfile',
        authfile,
        `oci:${layout.dir}:v1`,
        `docker://${ref}`,
      ]);
      const pulled = await mkdtemp(join(env.dir, 'pulled-'));
      await sk(['copy', '--src-tls-verify=false', '--src-authfile', authfile, `docker://${ref}`, `oci:${pulled}:v1`]);
      const index = JSON.parse(await readFile(join(pulled, 'index.json'), 'utf8'));
      expect(index.manifests[0].digest).to.equal(layout.digest);
      // The registry saw the pushed manifest under the unprefixed repository, with the Connector's credentials.
      const puts = k.upstream().requests.filter((r) => r.method === 'PUT' && r.path === '/v2/library/app/manifests/v1');
      expect(puts).to.have.length(1);
      const token = await readFile(join(dir, 'context.token'), 'utf8');
      for (const r of k.upstream().requests)
        for (const v of Object.values(r.headers)) expect(String(v)).to.not.include(token);
    });
  }

  it('harbor: harbor-cli-config — the context is the original Harbor URL, and through the forward proxy (.env) the Harbor API gets the account', async () => {
    const dir = await env.render('harbor-connector', 'harbor-cli-config');
    const config = parseYaml(await readFile(join(dir, 'config.yaml'), 'utf8'));
    const context = config.credentials.find((c: { name: string }) => c.name === config['current-credential-name']);
    expect(context).to.include({
      name: `${env.ns}/harbor-connector`,
      serveraddress: harbor.url,
      username: 'connector-proxy',
    });
    // What harbor-cli's HTTP client does with the .env: the original URL through http_proxy, its own dummy Basic.
    const dotenv = await readFile(join(dir, '.env'), 'utf8');
    const httpProxy = /^http_proxy=(.*)$/m.exec(dotenv)![1];
    harbor.clear();
    const r = await env.run(
      'curl',
      ['-sS', '--noproxy', '', '-u', 'connector-proxy:ConnectorProxy1', `${context.serveraddress}/api/v2.0/projects`],
      { env: { PATH: process.env.PATH, http_proxy: httpProxy } },
    );
    expect(JSON.parse(r.stdout)).to.deep.equal([{ project_id: 1, name: 'library' }]);
    const seen = harbor.requests.find((q) => q.path === '/api/v2.0/projects')!;
    expect(credentialOf(seen.headers)).to.include({ user: ROBOT, secret: ROBOT_SECRET });
    expect(seen.headers['proxy-authorization']).to.equal(undefined);
  });

  it("harbor: the webhook rewrites a labelled Pod's image to the harbor Connector's proxy, and the rewritten image pulls", async () => {
    const scope = [{ key: TEST_LABEL, operator: 'In' as const, values: [id] }];
    webhook = await startWebhook(env.c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      register: true,
      stateDir: webhookState,
      systemNamespace: env.systemNs,
      configName: `connectors-webhook-classes-${id}`,
      namespaceRequirements: scope,
      objectRequirements: scope,
    });
    await env.c.kubectl(['apply', '-n', env.systemNs, '-f', '-'], {
      input:
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: connectors-config}\ndata: {enable-pod-image-pull-via-connector: "true"}\n',
    });
    await eventually('the webhook to see the flag', () => webhook.flags.enabled('enable-pod-image-pull-via-connector'));
    const harborHost = new URL(harbor.url).host;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'app',
        labels: { 'connectors.cpaas.io/proxy-inject': 'true' },
        annotations: { 'connectors.cpaas.io/connector': `${env.ns}/harbor-connector` },
      },
      spec: { containers: [{ name: 'app', image: `${harborHost}/library/app:v1` }] },
    };
    await env.c.kubectl(['create', '-n', env.ns, '-f', '-'], { input: JSON.stringify(pod) });
    const stored = JSON.parse(await env.c.kubectl(['get', 'pod', 'app', '-n', env.ns, '-o', 'json']));
    const image = stored.spec.containers[0].image;
    expect(image).to.equal(`${await proxyRef('harbor-connector')}/library/app:v1`);
    // What kubelet does with the documented pull secret (user u, the ServiceAccount token as password).
    const token = await env.c.createToken(env.ns, 'default', { audience: 'connectors-proxy' });
    const { stdout } = await sk(['inspect', '--tls-verify=false', '--creds', `u:${token}`, `docker://${image}`]);
    expect(JSON.parse(stdout).Digest).to.equal(layout.digest);
  });

  it('sonarqube: the rendered sonar-project.properties, parsed back, takes a scanner request through the forward proxy with the token injected', async () => {
    const dir = await env.render('sonarqube-connector', 'sonar-scanner');
    const props = Object.fromEntries(
      (await readFile(join(dir, 'sonar-project.properties'), 'utf8'))
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const proxyUrl = new URL((await env.connector('sonarqube-connector')).status!.proxy!.httpAddress!.url!);
    expect(props).to.deep.equal({
      'sonar.host.url': sonar.url,
      'sonar.scanner.proxyHost': proxyUrl.hostname,
      'sonar.scanner.proxyPort': proxyUrl.port,
      'sonar.scanner.proxyUser': `${env.ns}%2Fsonarqube-connector`,
      'sonar.scanner.proxyPassword': await readFile(join(dir, 'context.token'), 'utf8'),
    });
    // As the scanner's JVM sends it: Proxy-Authorization Basic with proxyUser and proxyPassword as written.
    sonar.clear();
    const proxyAuth = Buffer.from(
      `${props['sonar.scanner.proxyUser']}:${props['sonar.scanner.proxyPassword']}`,
    ).toString('base64');
    const r = await env.run(
      'curl',
      [
        '-sS',
        '--noproxy',
        '',
        '-x',
        `http://${props['sonar.scanner.proxyHost']}:${props['sonar.scanner.proxyPort']}`,
        '-H',
        `Proxy-Authorization: Basic ${proxyAuth}`,
        `${props['sonar.host.url']}/api/authentication/validate`,
      ],
      { env: { PATH: process.env.PATH } },
    );
    expect(JSON.parse(r.stdout)).to.deep.equal({ valid: true });
    const seen = sonar.requests.find((q) => q.path === '/api/authentication/validate')!;
    expect(seen.headers.authorization).to.equal(`Bearer ${SONAR_TOKEN}`);
    // Without proxy credentials the proxy answers 407 (the scanner then retries with them).
    const bare = await env.run(
      'curl',
      [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--noproxy',
        '',
        '-x',
        `http://${props['sonar.scanner.proxyHost']}:${props['sonar.scanner.proxyPort']}`,
        `${props['sonar.host.url']}/api/server/version`,
      ],
      { env: { PATH: process.env.PATH } },
    );
    expect(bare.stdout).to.equal('407');
  });

  it(
    'no registry secret or SonarQube token in any file the tests wrote, client argument, environment or ' +
      'output, process argument, CLI output or log line',
    async () => {
      expect(env.clientRuns.map((r) => r.cmd)).to.include.members(['skopeo', 'curl']);
      for (const secret of [ROBOT_SECRET, SONAR_TOKEN]) expect(await leaksOf(env, secret, [env.dir])).to.deep.equal([]);
    },
  );
});
