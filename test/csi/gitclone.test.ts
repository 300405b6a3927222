// Seed 000 end to end with the real components: the built-in git ConnectorClass, the controller (which sets
// the Connector's proxy address), the proxy (reverse mode, credential injection), this CSI driver, the real
// apiserver and a real git http-backend with basic auth. The Pod of the seed's "How It Works" step (its
// volumeAttributes passed as kubelet passes them) gets a .gitconfig byte for byte in the seed's documented
// form, and `git clone` of the ORIGINAL repository URL with HOME at the volume, and nothing else, works.
import {
  objects,
  cluster,
  type Cluster,
  FIXTURES_DIR,
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  installClasses,
  type InstalledClasses,
} from '@connectors/test-support';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { startProxy, type RunningProxy } from '../../proxy/index.ts';
import { readProxyCA } from '../../proxy/ca.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { KindClient } from '../../core/kube/resources.ts';
import { setLogSink } from '../../core/observability/log.ts';
import { startCsiDriver, type CsiDriver } from '../../csi/index.ts';
import { mountPoints, TmpfsMounter } from '../../csi/mounter.ts';
import { csiClient, publishRequest, type CsiClient } from './client.ts';

describe('csi: the Git quick start clone through the CSI volume, with the real components', function () {
  this.timeout(240_000);
  let c: Cluster;
  let ns: string;
  let systemNs: string;
  let git: GitServer;
  let proxy: RunningProxy;
  let controller: RunningController;
  let driver: CsiDriver;
  let client: CsiClient;
  let dir: string;
  let gitClass: InstalledClasses | undefined;
  const logs: string[] = [];
  let restoreLogs: () => void;
  const GIT_USER = 'seed-user';
  const GIT_PASS = 'seed-pass-' + randomBytes(6).toString('hex');

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    c = await cluster();
    ns = await c.createNamespace('git-connector-demo');
    systemNs = await c.createNamespace('csi-git-sys');
    dir = await mkdtemp(join(tmpdir(), 'csi-git-'));
    restoreLogs = setLogSink((l) => logs.push(l));
    git = await startGitServer({
      users: { [GIT_USER]: GIT_PASS },
      repos: { 'your-org/your-repo.git': { files: { 'README.md': 'private hello\n', 'src/main.txt': 'main\n' } } },
    });
    proxy = await startProxy(c.kubeConfig, { host: '127.0.0.1', port: 0, systemNamespace: systemNs });
    controller = await startController(c.kubeConfig, {
      systemNamespace: systemNs,
      leaderElect: false,
      probePeriodMs: 60_000,
    });
    driver = await startCsiDriver(c.kubeConfig, {
      endpoint: `unix://${join(dir, 'csi.sock')}`,
      nodeId: 'seed-node',
      systemNamespace: systemNs,
      proxyURL: proxy.url,
    });
    client = csiClient(driver.endpoint);

    // The built-in git class as `connectors up` installs it (local mode: the in-process proxy's address).
    gitClass = await installClasses(
      c,
      'csi-test',
      builtinClasses({ systemNamespace: systemNs, proxyAddress: proxy.url, names: ['git'] }),
    );

    // Seed 000 step 2, pointed at the test git server; step 3's RBAC for the Pod's ServiceAccount.
    const seed = (await readFile(join(FIXTURES_DIR, '000-1-git-connector.yaml'), 'utf8'))
      .replaceAll('namespace: git-connector-demo', `namespace: ${ns}`)
      .replace('username: your-username', `username: ${GIT_USER}`)
      .replace('password: your-token', `password: ${GIT_PASS}`)
      .replace('address: https://github.com', `address: ${git.url}`);
    await c.kubectl(['apply', '-f', '-'], { input: seed });
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.connectorReader({
          name: 'use-git-connector',
          serviceAccount: 'default',
          saNamespace: ns,
          resourceNames: ['git-connector'],
        }),
      ),
    });
  });

  after(async () => {
    client?.close();
    await driver?.stop();
    await controller?.stop();
    await proxy?.stop();
    await git?.stop();
    restoreLogs?.();
    await gitClass?.restore();
    if (dir) {
      for (const m of await mountPoints())
        if (m.startsWith(dir + '/')) await new TmpfsMounter().unmount(m).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
    if (ns) await c.deleteNamespace(ns);
    if (systemNs) await c.deleteNamespace(systemNs);
  });

  it('mounts the seed .gitconfig byte for byte and git clones the private repository through the proxy', async () => {
    // The controller gives the Connector its proxy address.
    const connectors = new KindClient(c.kubeConfig, 'Connector');
    let proxyAddress = '';
    for (const deadline = Date.now() + 60_000; !proxyAddress; await sleep(100)) {
      proxyAddress = (await connectors.get('git-connector', ns)).status?.proxy?.httpAddress?.url ?? '';
      if (Date.now() > deadline) throw new Error('the controller did not set status.proxy.httpAddress.url');
    }
    expect(proxyAddress).to.equal(`${proxy.url}/namespaces/${ns}/connectors/git-connector`);

    // The seed's inspect Pod; kubelet hands its volumeAttributes plus the pod info to NodePublishVolume.
    const podDoc = parseAllDocuments(
      await readFile(join(FIXTURES_DIR, '000-3-inspect-git-config-pod.yaml'), 'utf8'),
    )[0].toJS();
    podDoc.metadata.namespace = ns;
    const pod = await c.core.createNamespacedPod({ namespace: ns, body: podDoc });
    const volume = podDoc.spec.volumes.find((v: { name: string }) => v.name === 'gitconfig');
    expect(volume.csi).to.deep.include({ driver: 'connectors-csi', readOnly: true });
    const target = join(dir, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~csi', 'gitconfig', 'mount');
    const req = publishRequest(
      target,
      { name: pod.metadata!.name!, namespace: ns, uid: pod.metadata!.uid!, serviceAccount: 'default' },
      volume.csi.volumeAttributes,
      { readonly: volume.csi.readOnly },
    );
    await client.call('Node', 'NodePublishVolume', req);

    const token = await readFile(join(target, 'context.token'), 'utf8');
    const connector = parseYaml(await c.kubectl(['get', 'connector', 'git-connector', '-n', ns, '-o', 'yaml']));
    const expected = `[http]
    extraHeader = Authorization: Basic ${Buffer.from(':' + token).toString('base64')}
[url "${connector.status.proxy.httpAddress.url}"]
    insteadOf = ${connector.spec.address}
`;
    expect(await readFile(join(target, '.gitconfig'), 'utf8')).to.equal(expected);

    // git clone of the original URL, HOME = the volume, no other configuration.
    const work = await mkdtemp(join(dir, 'clone-'));
    await runCommand('git', ['clone', '--progress', `${git.url}/your-org/your-repo.git`, join(work, 'repo')], {
      env: gitClientEnv(target),
      cwd: work,
    });
    expect(await readFile(join(work, 'repo', 'README.md'), 'utf8')).to.equal('private hello\n');
    expect(await readdir(join(work, 'repo', 'src'))).to.deep.equal(['main.txt']);

    // The git server saw the Connector's credentials, injected by the proxy, never the pod's token.
    const reqs = await git.requests();
    const cloneReqs = reqs.filter((r) => r.path.startsWith('/your-org/your-repo.git/'));
    expect(cloneReqs.length).to.be.greaterThan(0);
    for (const r of cloneReqs) {
      expect(r.user).to.equal(GIT_USER);
      for (const v of Object.values(r.headers)) expect(v).to.not.include(token);
    }
    // Without the volume's configuration the same clone is refused by the git server.
    const bare = await mkdtemp(join(dir, 'bare-'));
    const denied = await runCommand('git', ['clone', `${git.url}/your-org/your-repo.git`, join(work, 'denied')], {
      env: gitClientEnv(bare),
      cwd: work,
    }).then(
      () => false,
      () => true,
    );
    expect(denied).to.equal(true);

    // The proxy's CA, as the proxy published it, in all three CA files.
    const ca = await readProxyCA(c.kubeConfig, systemNs);
    expect(ca).to.match(/^-----BEGIN CERTIFICATE-----/);
    for (const f of ['ca.crt', 'ca.cert', 'context.proxy.caCert'])
      expect(await readFile(join(target, f), 'utf8'), f).to.equal(ca);

    expect(logs.join('\n')).to.not.include(token);
    await client.call('Node', 'NodeUnpublishVolume', { volume_id: req.volume_id, target_path: target });
  });
});
