// The pypi class end to end: pypiserver (a real index) requiring basic auth for listing, download and upload,
// behind the repository server at a Nexus-style repository path (whose simple pages link relatively, as Nexus'
// do), one pypi Connector, `connectors render` of pipconf and pypirc for a workload ServiceAccount, then twine
// upload (HOME = the rendered .pypirc) and pip install (PIP_CONFIG_FILE = the rendered pip.conf) through the
// REVERSE proxy at the Connector's proxy address, which takes the Pod's token as the Basic password and injects
// the index credentials.
import { expect } from 'chai';
import {
  startPypiServer,
  type PypiServer,
  NEXUS_PYPI,
  startRepoServer,
  type RepoServer,
} from '@connectors/test-support';
import { twineUploadAndPipInstall } from './clients.ts';
import { connectorYaml, randomSecret, setupClasses, type ClassEnv } from './packages-fixture.ts';

describe('classes: pypi — twine upload and pip install through the proxy with the rendered .pypirc/pip.conf', function () {
  this.timeout(600_000);
  let env: ClassEnv;
  let index: PypiServer;
  let front: RepoServer;
  const password = randomSecret('pypi-pass');

  before(async () => {
    env = await setupClasses('class-pypi', { classes: ['pypi'] });
    const users = { 'pypi-user': password };
    index = await startPypiServer({ users });
    front = await startRepoServer({ users, pypi: index.url });
    await env.apply(
      connectorYaml({
        name: 'pypi-connector',
        className: 'pypi',
        address: `${front.url}${NEXUS_PYPI.replace(/\/$/, '')}`,
        authName: 'basicAuth',
        data: { username: 'pypi-user', password },
      }),
    );
    await env.workload('builder', ['pypi-connector']);
  });
  after(async () => {
    await env?.stop();
    await front?.stop();
    await index?.stop();
  });

  it('is Ready: its auth probe passes with the real credentials', async () => {
    await env.ready('pypi-connector');
    expect(await env.condition('pypi-connector', 'AuthReady')).to.include({ status: 'True' });
  });

  it('uploads with twine and installs with pip, the index credentials injected by the proxy', async () => {
    const connector = await env.ready('pypi-connector');
    const proxyAddress = connector.status!.proxy!.httpAddress!.url!;
    const r = await env.render({
      connectors: ['pypi-connector'],
      configuration: 'pipconf,pypirc',
      serviceAccount: 'builder',
    });
    const u = new URL(proxyAddress);
    expect(await r.file('pip.conf')).to.equal(
      `[global]\nindex-url = http://${env.ns}-pypi-connector:${r.token}@${u.host}${u.pathname}/simple/\ntimeout = 30\n\n[install]\ntrusted-host = ${u.host}\n`,
    );
    expect(await r.file('.pypirc')).to.include(`repository = ${proxyAddress}/\n`);

    await front.clearRequests();
    await twineUploadAndPipInstall(env, { pypircHome: r.dir, pipConf: `${r.dir}/pip.conf`, name: 'greeting-py' });
    expect(await index.packages()).to.deep.equal(['greeting_py-1.0-py3-none-any.whl']);
    const reqs = await front.requests();
    expect(reqs.some((q) => q.method === 'POST' && q.path === NEXUS_PYPI)).to.equal(true);
    expect(reqs.some((q) => q.method === 'GET' && q.path.startsWith(`${NEXUS_PYPI}packages/greeting_py-1.0`))).to.equal(
      true,
    );
    for (const q of reqs) {
      expect(q.headers.authorization, `${q.method} ${q.path}`).to.equal(
        `Basic ${Buffer.from(`pypi-user:${password}`).toString('base64')}`,
      );
    }
    await env.expectNowhere(password, [r.dir, env.work]);
  });
});
