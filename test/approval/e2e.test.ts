// Approval end to end with the real components: the controller, the CSI driver (NodePublishVolume as kubelet
// sends it), the proxy, a git server with basic auth, the real apiserver with kube-controller-manager. Pods
// are created but never run (no kubelet); "completing" one is a status update.
//   - no policy grants the Pod's ServiceAccount: a publish creates one AccessRequest (a second reuses it) and
//     fails Unavailable; approving the ApprovalTask grants the Pod; the next publish mounts, and git clones
//     through the proxy with that Pod's bound token; another Pod's token is refused;
//   - a rejection mounts only .error.json, with the reason;
//   - completing or deleting the Pod removes the Role and RoleBinding within seconds;
//   - defaultPermission lets every ServiceAccount of a namespace mount and clone with no AccessRequest;
//   - with approval off, a publish creates no AccessRequest.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  objects,
  eventually,
  gitClientEnv,
  startGitServer,
  type GitServer,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  installClasses,
  type InstalledClasses,
} from '@connectors/test-support';
import { csiClient, publishRequest, type CsiClient, type RpcError } from '../csi/client.ts';
import { jwtClaims } from '../csi/fixture.ts';
import { startProxy, type RunningProxy } from '../../proxy/index.ts';
import { startCsiDriver, type CsiDriver } from '../../csi/index.ts';
import { mountPoints, TmpfsMounter } from '../../csi/mounter.ts';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { KindClient } from '../../core/kube/resources.ts';
import { requestGrantName } from '../../controller/approval/request-reconciler.ts';
import {
  accessPolicy,
  APPROVAL_ON,
  conditionSummary,
  pipelineApproval,
  setupApproval,
  dumpLogsOnFailure,
  type ApprovalEnv,
} from './fixture.ts';

describe('approval end to end: CSI, controller, proxy and git', function () {
  this.timeout(240_000);
  let env: ApprovalEnv;
  let ns: string;
  let openNs: string;
  let git: GitServer;
  let proxy: RunningProxy;
  let driver: CsiDriver;
  let client: CsiClient;
  let dir: string;
  let gitClass: InstalledClasses | undefined;
  let proxyAddress: string;
  const USER = 'builder-bot';
  const PASS = 'pass-' + randomBytes(8).toString('hex');
  const REPO = 'your-org/your-repo.git';

  /** A namespace with a Secret, a git Connector of the test server and `get` on it for `default`. */
  async function gitNamespace(prefix: string, name: string): Promise<string> {
    const n = await env.c.createNamespace(prefix);
    await env.apply(n, [
      objects.basicAuthSecret('git-auth', USER, PASS),
      objects.connector(name, {
        className: 'git',
        address: git.url,
        auth: { name: 'basicAuth', secret: 'git-auth', params: { repository: REPO } },
      }),
    ]);
    await env.c.kubectl(['apply', '-n', n, '-f', '-'], {
      input: objects.yaml(
        objects.connectorReader({ name: 'read-connectors', serviceAccount: 'default', saNamespace: n }),
      ),
    });
    await env.c.kubectl(['wait', '--for=condition=Ready', `connector/${name}`, '-n', n, '--timeout=60s']);
    return n;
  }

  before(async () => {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    env = await setupApproval('e2e');
    dir = await mkdtemp(join(tmpdir(), 'approval-e2e-'));
    git = await startGitServer({
      users: { [USER]: PASS },
      repos: { [REPO]: { files: { 'README.md': 'approved hello\n' } } },
    });
    proxy = await startProxy(env.c.kubeConfig, { host: '127.0.0.1', port: 0, systemNamespace: env.systemNs });
    driver = await startCsiDriver(env.c.kubeConfig, {
      endpoint: `unix://${join(dir, 'csi.sock')}`,
      nodeId: 'approval-node',
      systemNamespace: env.systemNs,
      proxyURL: proxy.url,
    });
    await driver.synced;
    client = csiClient(driver.endpoint);
    gitClass = await installClasses(
      env.c,
      'approval-test',
      builtinClasses({ systemNamespace: env.systemNs, proxyAddress: proxy.url, names: ['git'] }),
    );
    ns = await gitNamespace('e2e-devops', 'git-connector');
    await env.apply(ns, [accessPolicy('git-approval', pipelineApproval({ names: ['git-connector'] }))]);
    const created = await new KindClient(env.c.kubeConfig, 'Connector').get('git-connector', ns);
    proxyAddress = created.status?.proxy?.httpAddress?.url ?? '';
  });

  afterEach(function () {
    dumpLogsOnFailure(this, env);
  });
  after(async () => {
    client?.close();
    await driver?.stop();
    await proxy?.stop();
    await git?.stop();
    if (env) {
      await gitClass?.restore();
      await env.stop();
      for (const n of [ns, openNs]) if (n) await env.c.deleteNamespace(n);
    }
    if (dir) {
      for (const m of await mountPoints())
        if (m.startsWith(dir + '/')) await new TmpfsMounter().unmount(m).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  const pods = new Map<string, { name: string; namespace: string; uid: string; serviceAccount: string }>();
  async function pod(namespace: string, name: string, run: string) {
    const p = await env.createPod(namespace, name, { labels: { 'tekton.dev/pipelineRun': run } });
    pods.set(`${namespace}/${name}`, p);
    return p;
  }
  const target = (name: string) => join(dir, 'pods', name, 'volumes', 'kubernetes.io~csi', 'git', 'mount');
  const attributes = (conn: string) => ({ connectors: conn, 'configuration.names': 'gitconfig' });
  /** One NodePublishVolume as kubelet sends it for the Pod's inline volume. */
  const publish = (p: { name: string; namespace: string; uid: string }, conn = 'git-connector') =>
    client.call(
      'Node',
      'NodePublishVolume',
      publishRequest(target(p.name), { ...p, serviceAccount: 'default' }, attributes(conn), {
        volumeId: `csi-${p.uid}`,
      }),
    );
  const publishError = (p: { name: string; namespace: string; uid: string }) =>
    publish(p).then(
      () => undefined,
      (e: RpcError) => e,
    );
  /** kubelet retries a failed mount: publish until it succeeds. */
  const publishEventually = (p: { name: string; namespace: string; uid: string }) =>
    eventually(`a mount for ${p.name}`, () => publish(p).then(() => true), 30_000, 250);
  const requestsIn = async (namespace: string) =>
    (await env.requests.list(namespace)).items.filter(
      (a) => a.metadata.labels?.['connectors.cpaas.io/contextObjectNamespace'] === namespace,
    );
  const clone = (home: string, into: string) =>
    runCommand('git', ['clone', `${git.url}/${REPO}`, into], { env: gitClientEnv(home), cwd: dir });
  const proxyStatus = async (token: string) => {
    proxy.clearAuthCache();
    const res = await fetch(`${proxyAddress}/${REPO}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.arrayBuffer();
    return res.status;
  };

  it("waits for approval (one AccessRequest, Unavailable), then mounts, and git clones with the Pod's bound token only", async () => {
    const p = await pod(ns, 'build-1', 'run-1');
    const first = await publishError(p);
    expect(first?.code, first?.details).to.equal(grpcStatus.UNAVAILABLE);
    expect(first!.details).to.match(/waiting for approval for serviceaccount ".*\/default" of pod "build-1"/);
    let ars = await requestsIn(ns);
    expect(ars).to.have.length(1);
    const ar = ars[0];
    expect(ar.metadata.labels).to.deep.equal({
      'connectors.cpaas.io/contextObjectKind': 'Pod',
      'connectors.cpaas.io/contextObjectName': 'build-1',
      'connectors.cpaas.io/contextObjectNamespace': ns,
      'connectors.cpaas.io/connector': 'git-connector',
    });
    expect(ar.spec).to.deep.equal({
      subject: { kind: 'ServiceAccount', name: 'default', namespace: ns },
      connectorRef: { name: 'git-connector' },
      context: { objectRef: { apiVersion: 'v1', kind: 'Pod', name: 'build-1', namespace: ns, uid: p.uid } },
    });
    await env.waitForRequest(
      ns,
      ar.metadata.name!,
      'pending',
      (a) => env.condition(a, 'AccessCheckReady')?.reason === 'Pending',
    );
    const second = await publishError(p);
    expect(second?.code).to.equal(grpcStatus.UNAVAILABLE);
    expect(second!.details).to.match(/waiting for an ApprovalTask with labels tekton\.dev\/pipelineRun=run-1/);
    ars = await requestsIn(ns);
    expect(
      ars.map((a) => a.metadata.uid),
      'the second publish reused it',
    ).to.deep.equal([ar.metadata.uid]);
    expect(await readdir(target('build-1')).catch(() => []), 'nothing mounted while pending').to.deep.equal([]);

    await env.approvalTask(ns, 'run-1-approve', 'run-1', 'approved');
    const granted = await env.waitForRequest(
      ns,
      ar.metadata.name!,
      'Ready',
      (a) => env.condition(a, 'Ready')?.status === 'True',
    );
    expect(conditionSummary(granted)).to.deep.include({ AccessPermissionSync: 'True/Synced' });
    await publishEventually(p);

    const mount = target('build-1');
    const token = await readFile(join(mount, 'context.token'), 'utf8');
    expect(jwtClaims(token)['kubernetes.io'].pod).to.include({ name: 'build-1', uid: p.uid });
    await clone(mount, join(dir, 'clone-1'));
    expect(await readFile(join(dir, 'clone-1', 'README.md'), 'utf8')).to.equal('approved hello\n');
    for (const r of (await git.requests()).filter((x) => x.path.startsWith(`/${REPO}/`))) expect(r.user).to.equal(USER);

    // Another Pod of the same ServiceAccount, not approved: its bound token is refused by the proxy, and a
    // clone with the mounted configuration carrying that token fails.
    const other = await pod(ns, 'build-2', 'run-2');
    const otherToken = await env.c.createToken(ns, 'default', {
      audience: 'connectors-proxy',
      boundPod: { name: other.name, uid: other.uid },
    });
    expect(await proxyStatus(token), 'the approved Pod').to.equal(200);
    expect(await proxyStatus(otherToken), 'another Pod').to.equal(403);
    const unbound = await env.c.createToken(ns, 'default', { audience: 'connectors-proxy' });
    expect(await proxyStatus(unbound), 'a token bound to no Pod').to.equal(403);
    const forged = await mkdtemp(join(dir, 'other-'));
    const gitconfig = await readFile(join(mount, '.gitconfig'), 'utf8');
    await writeFile(
      join(forged, '.gitconfig'),
      gitconfig.replace(Buffer.from(':' + token).toString('base64'), Buffer.from(':' + otherToken).toString('base64')),
    );
    const refused = await clone(forged, join(dir, 'clone-2')).then(
      () => 'cloned',
      (e: Error) => e.message,
    );
    expect(refused).to.match(/403|denied|fatal/i);

    for (const t of [token, otherToken, unbound]) expect(env.logs.join('\n')).to.not.include(t);
    expect(env.logs.join('\n')).to.not.include(PASS);
  });

  it('a rejection mounts only .error.json, a google.rpc.Status with the reason', async () => {
    const p = await pod(ns, 'build-3', 'run-3');
    await env.approvalTask(ns, 'run-3-approve', 'run-3', 'pending');
    await env.setTaskState(ns, 'run-3-approve', 'rejected', 'release freeze until Monday');
    await publishEventually(p);
    const mount = target('build-3');
    // The visible files (kubelet's AtomicWriter layout keeps its generations in `..`-prefixed entries).
    expect((await readdir(mount)).filter((f) => !f.startsWith('..'))).to.deep.equal(['.error.json']);
    const status = JSON.parse(await readFile(join(mount, '.error.json'), 'utf8'));
    expect(status.code).to.equal(7);
    expect(status.message).to.match(
      new RegExp(
        `access to connector "${ns}/git-connector" was rejected: ApprovalTask ${ns}/run-3-approve is rejected: release freeze until Monday`,
      ),
    );
    expect(status.details[0]).to.include({ reason: 'ACCESS_REQUEST_REJECTED', domain: 'connectors.alauda.io' });
  });

  it('completing or deleting the Pod removes the Role and RoleBinding within seconds; the proxy then refuses its token', async () => {
    const [ar1] = (await requestsIn(ns)).filter((a) => a.spec.context.objectRef.name === 'build-1');
    const grant1 = requestGrantName(ar1.metadata.name!);
    expect(await env.role(ns, grant1)).to.not.equal(undefined);
    const token = await readFile(join(target('build-1'), 'context.token'), 'utf8');
    let started = Date.now();
    await env.completePod(ns, 'build-1');
    await eventually(
      'the grant of build-1 removed',
      async () => !(await env.role(ns, grant1)) && !(await env.roleBinding(ns, grant1)),
      10_000,
    );
    expect(Date.now() - started).to.be.below(10_000);
    expect(await proxyStatus(token), 'the completed Pod').to.equal(403);

    const p = await pod(ns, 'build-4', 'run-4');
    await env.approvalTask(ns, 'run-4-approve', 'run-4', 'approved');
    expect((await publishError(p))?.code).to.equal(grpcStatus.UNAVAILABLE);
    await publishEventually(p);
    const [ar4] = (await requestsIn(ns)).filter((a) => a.spec.context.objectRef.name === 'build-4');
    const grant4 = requestGrantName(ar4.metadata.name!);
    expect(await env.role(ns, grant4)).to.not.equal(undefined);
    started = Date.now();
    await env.c.kubectl(['delete', 'pod', 'build-4', '-n', ns]);
    await eventually(
      'the grant of build-4 removed',
      async () => !(await env.role(ns, grant4)) && !(await env.roleBinding(ns, grant4)),
      10_000,
    );
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('defaultPermission: every ServiceAccount of the namespace mounts and clones, with no AccessRequest', async () => {
    openNs = await gitNamespace('e2e-open', 'git-open');
    await env.apply(openNs, [
      accessPolicy('everyone-here', {
        connector: { names: ['git-open'] },
        defaultPermission: {
          roleTemplate: { ref: { configMap: { name: 'connectors-use-connectors-proxy' } } },
          bindingTemplate: { serviceAccounts: [{ names: [], namespaceSelector: { names: [openNs] } }] },
        },
      }),
    ]);
    await env.waitForPolicy(openNs, 'everyone-here', 'Ready', (a) => env.condition(a, 'Ready')?.status === 'True');
    const p = await pod(openNs, 'job-1', 'none');
    await publish(p, 'git-open');
    expect(await requestsIn(openNs)).to.deep.equal([]);
    await clone(target('job-1'), join(dir, 'clone-open'));
    expect(await readFile(join(dir, 'clone-open', 'README.md'), 'utf8')).to.equal('approved hello\n');
  });

  it('with approval off, a publish creates no AccessRequest', async () => {
    await env.setFlags({ ...APPROVAL_ON, 'enable-connectors-approval': 'false' });
    const p = await pod(ns, 'build-off', 'run-off');
    await eventually('the driver sees the flag', () => publish(p).then(() => true), 10_000, 250);
    expect(await readdir(target('build-off'))).to.include('.gitconfig');
    expect((await requestsIn(ns)).filter((a) => a.spec.context.objectRef.name === 'build-off')).to.deep.equal([]);
    await env.setFlags(APPROVAL_ON);
  });
});
