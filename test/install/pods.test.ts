// The chart's pods as a kubelet would run them, without a kubelet: after `helm install` (every feature flag on)
// into a control plane of its own, every container of the chart's Deployments and DaemonSet that runs the
// Connectors image is started from the image's unpacked layers with what its pod template gives it — args and env
// (fieldRefs and `$(VAR)` expanded), the user and groups (65532 and fsGroup; root for the CSI driver), a read-only
// root filesystem, the emptyDir at /tmp, its Secrets and hostPaths mounted as declared, and the token of its own
// ServiceAccount where in-cluster configuration reads it. So each component runs with exactly the chart's RBAC,
// flags and filesystem, and then does its job once, in the order of the approval walkthrough: the controller makes
// the git class and a Connector Ready and grants an approved AccessRequest; the CSI driver mounts a volume (first
// refused, waiting for approval); the proxy serves a git fetch with the mounted token; the API lists the
// repository's branches through the git plugin; the webhook answers an admission review. No component may log a
// refusal of the Kubernetes API, and every one stays ready.
//
// What differs from a cluster, and why: every pod shares this machine's network (there is no cluster network
// here), so each `--*port=N` argument gets a free port instead, Service names resolve through the pods'
// /etc/hosts to 127.0.0.1, and the git class's `spec.api.ref.address` names the plugin's port; the apiserver
// cannot reach a Service either, so the webhook configurations are removed and the webhook is sent an
// AdmissionReview directly, over TLS verified with the chart's CA for the webhook Service's name. Mount points are
// created in the unpacked image before it is mounted read-only, as a container runtime does. node-driver-registrar
// (another image) is not run.
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { GROUP } from '../../core/api/index.ts';
import { startControlPlane, type ControlPlane } from '../../controlplane/index.ts';
import { CHART_DIR, ROOT, runHelm } from '../../deploy/generate.ts';
import type { BuiltImage } from '../../image/build.ts';
import {
  kubectlWith,
  eventually,
  startGitServer,
  type GitServer,
  freePort,
  spawnPeer,
  type PeerProcess,
  ensureSystemPackages,
  objects,
} from '@connectors/test-support';
import { csiClient, publishRequest, type CsiClient } from '../csi/client.ts';
import { imageEnv, sharedImage, sharedRootfs } from './image-fixture.ts';
import { objects as manifestObjects, podTemplates, type K8sObject, type PodTemplateOf } from './render.ts';

const NS = 'connectors-system';
const APP = 'app';
const NODE = 'node-1';
const FLAGS = [
  'enable-connector-apis-permissions',
  'enable-connector-apis-write-passthrough',
  'enable-connector-proxy-permissions',
  'enable-connectors-approval',
  'enable-multi-connector',
  'enable-custom-ca-certs',
  'enable-pod-image-pull-via-connector',
];
/** Service names the pods reach one another by (their /etc/hosts). */
const SERVICE_NAMES = [
  `connectors-git-plugin.${NS}.svc`,
  `connectors-proxy-service.${NS}.svc`,
  `connectors-proxy-service.${NS}.svc.cluster.local`,
  `connectors-api.${NS}.svc`,
  `connectors-webhook.${NS}.svc`,
];
/** A Kubernetes API refusal of one of the chart's ServiceAccounts, as the apiserver words it. */
const REFUSED = new RegExp(`forbidden: User \\\\?"system:serviceaccount:${NS}:connectors-`);

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface RunningPod {
  name: string;
  container: Record<string, any>;
  proc: PeerProcess;
  /** Everything the container wrote (JSON log lines). */
  logs(): string;
  /** Port numbers of the pod template → the free ports used instead. */
  ports: Map<number, number>;
  /** A named container port, as the test reaches it. */
  port(name: string): number;
  /** The pod's root as its processes see it (/proc/<pid>/root). */
  root(): string;
  rssMiB(): number;
}

describe('install: the chart’s pods, run from the image with the chart’s RBAC', function () {
  this.timeout(600_000);
  let cp: ControlPlane;
  let image: BuiltImage;
  let rootfs: string;
  let work: string;
  let git: GitServer;
  let csi: CsiClient | undefined;
  let gitconfig = '';
  const pods = new Map<string, RunningPod>();
  const kubectl = (args: string[], input?: string) => kubectlWith(cp.kubeconfigPath, args, { input });
  const getJson = async (args: string[]) => JSON.parse(await kubectl(['get', ...args, '-o', 'json']));
  /** Waits for condition Ready=True; on timeout fails with the object's conditions. */
  const ready = async (args: string[]) => {
    let conditions: Array<{ type: string; status: string }> = [];
    await eventually(
      `${args.join(' ')} Ready`,
      async () => {
        conditions = (await getJson(args)).status?.conditions ?? [];
        return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      60_000,
      250,
    ).catch((err: Error) => expect.fail(`${err.message}\n${JSON.stringify(conditions, null, 1)}`));
  };

  /** A directory on this machine holding `files`, owned root:fsGroup with `mode` as kubelet writes volumes. */
  const volumeDir = (name: string, files: Record<string, Buffer | string>, mode: number, fsGroup?: number) => {
    const dir = join(work, 'volumes', name);
    mkdirSync(dir, { recursive: true });
    for (const [f, data] of Object.entries(files)) {
      writeFileSync(join(dir, f), data);
      chmodSync(join(dir, f), mode);
      if (fsGroup !== undefined) chownSync(join(dir, f), 0, fsGroup);
    }
    chmodSync(dir, 0o755);
    return dir;
  };

  async function runPod(t: PodTemplateOf, serviceAccounts: K8sObject[]): Promise<RunningPod> {
    const name = t.owner.metadata.name;
    const [container] = t.spec.containers.filter((c) => String(c.image).includes('/connectors'));
    const psc = t.spec.securityContext ?? {};
    const sc = container.securityContext ?? {};
    const uid = sc.runAsUser ?? psc.runAsUser ?? 0;
    const gid = sc.runAsGroup ?? psc.runAsGroup ?? 0;
    const fsGroup: number | undefined = psc.fsGroup;

    // Environment: the image's, then the kubelet's service variables, then the container's own.
    const env: Record<string, string> = {
      ...imageEnv(image),
      HOSTNAME: `${name}-0`,
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(cp.ports.apiserver),
    };
    const field = (path: string) =>
      ({ 'metadata.namespace': NS, 'metadata.name': `${name}-0`, 'spec.nodeName': NODE })[path];
    for (const e of container.env ?? [])
      env[e.name] = e.value ?? field(e.valueFrom?.fieldRef?.fieldPath) ?? expect.fail(`${name}: env ${e.name}`);
    const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);

    // Ports: the same flags, free port numbers (every pod shares this machine's network).
    const ports = new Map<number, number>();
    const args: string[] = [];
    for (const a of container.args as string[]) {
      const m = /^(--[a-z-]*port)=(\d+)$/.exec(a);
      if (!m) {
        args.push(expand(a));
        continue;
      }
      const free = await freePort();
      ports.set(Number(m[2]), free);
      args.push(`${m[1]}=${free}`);
    }

    // Mounts: volumes as kubelet makes them, the ServiceAccount token, /etc/hosts, /dev and /proc.
    const mounts: Array<{ source: string; target: string; readOnly: boolean; proc?: boolean }> = [];
    for (const m of container.volumeMounts ?? []) {
      const v = (t.spec.volumes ?? []).find((x) => x.name === m.name)!;
      let source: string;
      if (v.emptyDir) {
        source = join(work, 'volumes', `${name}-${v.name}`);
        mkdirSync(source, { recursive: true });
        chmodSync(source, 0o777);
      } else if (v.secret) {
        const secret = await getJson(['secret', v.secret.secretName, '-n', NS]);
        const keys: Array<{ key: string; path: string }> =
          v.secret.items ?? Object.keys(secret.data).map((k) => ({ key: k, path: k }));
        const files = Object.fromEntries(keys.map((i) => [i.path, Buffer.from(secret.data[i.key], 'base64')]));
        source = volumeDir(`${name}-${v.name}`, files, v.secret.defaultMode ?? 0o644, fsGroup);
      } else if (v.hostPath) {
        source = join(work, 'host', v.hostPath.path);
        mkdirSync(source, { recursive: true });
      } else throw new Error(`${name}: volume ${v.name} of a kind this test does not make`);
      mounts.push({ source, target: m.mountPath, readOnly: Boolean(m.readOnly) });
    }
    const sa = serviceAccounts.find((s) => s.metadata.name === t.spec.serviceAccountName);
    const automount = (t.spec as any).automountServiceAccountToken ?? (sa as any)?.automountServiceAccountToken ?? true;
    if (automount) {
      const token = JSON.parse(
        await kubectl(['create', 'token', t.spec.serviceAccountName!, '-n', NS, '--duration=1h', '-o', 'json']),
      ).status.token as string;
      const dir = volumeDir(`${name}-token`, { token, 'ca.crt': cp.caPem, namespace: NS }, 0o644);
      mounts.push({ source: dir, target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    }
    const hosts = volumeDir(`${name}-hosts`, { hosts: `127.0.0.1 localhost ${SERVICE_NAMES.join(' ')}\n` }, 0o644);
    mounts.push({ source: join(hosts, 'hosts'), target: '/etc/hosts', readOnly: true });
    mounts.push({ source: '/dev', target: '/dev', readOnly: false });
    mounts.push({ source: 'proc', target: '/proc', readOnly: false, proc: true });
    // Mount points, made in the image's directory as a runtime makes them in the container's root.
    for (const m of mounts) {
      const at = join(rootfs, m.target);
      if (m.target === '/etc/hosts') {
        if (!existsSync(at)) writeFileSync(at, '');
      } else mkdirSync(at, { recursive: true });
    }

    const podRoot = join(work, 'roots', name);
    mkdirSync(podRoot, { recursive: true });
    const script = [
      'set -e',
      `mount --bind ${q(rootfs)} ${q(podRoot)}`,
      ...(sc.readOnlyRootFilesystem ? [`mount -o remount,bind,ro ${q(podRoot)}`] : []),
      ...mounts.flatMap((m) => {
        const at = q(join(podRoot, m.target));
        if (m.proc) return [`mount -t proc proc ${at}`];
        return [`mount --rbind ${q(m.source)} ${at}`, ...(m.readOnly ? [`mount -o remount,bind,ro ${at}`] : [])];
      }),
      `cd ${q(podRoot)}`,
      `exec chroot --userspec=${uid}:${gid}${fsGroup !== undefined ? ` --groups=${fsGroup}` : ''} ${q(podRoot)} ${[
        ...(JSON.parse(image.config.toString()).config.Entrypoint as string[]),
        ...args,
      ]
        .map(q)
        .join(' ')}`,
    ].join('\n');
    // The environment is the pod's alone (the image's PATH finds mount and chroot here too); chroot passes it on.
    const proc = spawnPeer('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { env });
    let logs = '';
    proc.child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    proc.child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    const containerPorts = new Map<string, number>(
      (container.ports ?? []).map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    );
    const pod: RunningPod = {
      name,
      container,
      proc,
      logs: () => logs,
      ports,
      port(portName) {
        const declared = containerPorts.get(portName);
        const mapped = declared === undefined ? undefined : ports.get(declared);
        if (mapped === undefined) throw new Error(`${name}: no port ${portName}`);
        return mapped;
      },
      root: () => `/proc/${nodePid(proc)}/root`,
      rssMiB: () => {
        const status = readFileSync(`/proc/${nodePid(proc)}/status`, 'utf8');
        return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
      },
    };
    return pod;
  }

  before(async function () {
    this.timeout(900_000);
    await ensureSystemPackages(['git', 'apache2', 'apache2-utils']);
    [image, rootfs, cp] = await Promise.all([
      sharedImage(),
      sharedRootfs(),
      startControlPlane({ crdFiles: [], controllerManager: false }),
    ]);
    work = mkdtempSync(join(tmpdir(), 'connectors-pods-'));
    git = await startGitServer({ users: { demo: 'demo-password' } });
    await git.createRepo('your-org/your-repo.git', { files: { 'README.md': '# Cloned through the proxy\n' } });

    await kubectl(['create', 'namespace', NS]);
    await runHelm([
      'install',
      'connectors',
      CHART_DIR,
      '--namespace',
      NS,
      '--kubeconfig',
      cp.kubeconfigPath,
      '--set',
      'controller.replicas=1',
      ...FLAGS.flatMap((f) => ['--set', `featureFlags.${f}=true`]),
    ]);
    // The apiserver reaches no Service here: the webhook is called directly instead (see the top).
    await kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', 'connectors-webhook']);
    await kubectl(['apply', '-f', join(ROOT, 'test/fixtures/approval/approvaltask-crd.yaml')]);

    const manifest = manifestObjects(
      await runHelm(['get', 'manifest', 'connectors', '--namespace', NS, '--kubeconfig', cp.kubeconfigPath]),
    );
    const serviceAccounts = manifest.filter((o) => o.kind === 'ServiceAccount');
    for (const t of podTemplates(manifest)) pods.set(t.owner.metadata.name, await runPod(t, serviceAccounts));
  });

  after(async () => {
    csi?.close();
    await Promise.all([...pods.values()].map((p) => p.proc.stop()));
    await git?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs every component of the chart from the image until it is ready and live', async () => {
    expect([...pods.keys()].sort()).to.deep.equal([
      'connectors-api',
      'connectors-controller-manager',
      'connectors-csi',
      'connectors-git-plugin',
      'connectors-proxy',
      'connectors-webhook',
    ]);
    for (const pod of pods.values()) {
      const probe = (path: string) => httpGet(pod.port('health'), path);
      await eventually(
        `${pod.name} ready`,
        async () => {
          if (pod.proc.child.exitCode !== null) throw new Error(`${pod.name} exited:\n${pod.logs()}`);
          return (await probe(pod.container.readinessProbe.httpGet.path)) === 200;
        },
        90_000,
        250,
      ).catch((err: Error) => expect.fail(`${err.message}\n${pod.logs()}`));
      expect(await probe(pod.container.livenessProbe.httpGet.path), pod.name).to.equal(200);
    }
  });

  it('runs every pod with a read-only root filesystem, as its non-root user (root only for the CSI driver)', () => {
    for (const pod of pods.values()) {
      const root = readFileSync(`/proc/${nodePid(pod.proc)}/mounts`, 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[1] === '/');
      expect(root?.split(' ')[3].split(','), pod.name).to.include('ro');
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${nodePid(pod.proc)}/status`, 'utf8'))![1];
      expect(uid, pod.name).to.equal(pod.name === 'connectors-csi' ? '0' : '65532');
    }
  });

  it('the controller leads, and makes the git class (its API: the plugin) and a Connector Ready', async () => {
    const plugin = pods.get('connectors-git-plugin')!;
    await kubectl([
      'patch',
      'connectorclass',
      'git',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { api: { ref: { address: `https://connectors-git-plugin.${NS}.svc:${plugin.port('https')}` } } },
      }),
    ]);
    await kubectl(['create', 'namespace', APP]);
    await kubectl(
      ['apply', '-f', '-'],
      objects.yaml(
        objects.serviceAccount('default', { namespace: APP }),
        objects.basicAuthSecret('git-auth', 'demo', 'demo-password', { namespace: APP }),
        objects.connector('git-connector', {
          namespace: APP,
          className: 'git',
          address: git.url,
          auth: { name: 'basicAuth', secret: 'git-auth', params: { repository: 'your-org/your-repo.git' } },
        }),
      ),
    );
    const lease = await getJson(['lease', 'connectors-controller', '-n', NS]);
    expect(lease.spec.holderIdentity).to.be.a('string').and.not.equal('');
    await ready(['connectorclass', 'git']);
    await ready(['connector', 'git-connector', '-n', APP]);
  });

  it('the CSI driver mounts the Connector for a Pod once the controller grants its approved AccessRequest', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: connectors.alauda.io/v1alpha1
kind: AccessPolicy
metadata: {name: git-approval, namespace: ${APP}}
spec:
  connector: {names: [git-connector]}
  checkGrantedPermission:
    spec:
      checks:
      - name: manual-approval
        ref: {configMap: {name: connectors-approvals-in-pipeline}}
      roleTemplate: {ref: {configMap: {name: connectors-use-connectors-proxy-in-pod}}}
---
${objects.yaml(objects.connectorReader({ name: 'read-connectors', serviceAccount: 'default', saNamespace: APP, namespace: APP }))}---
apiVersion: v1
kind: Pod
metadata: {name: build-1, namespace: ${APP}, labels: {tekton.dev/pipelineRun: release-1}}
spec: {serviceAccountName: default, containers: [{name: build, image: registry.invalid/build:1}]}
`,
    );
    await ready(['accesspolicy', 'git-approval', '-n', APP]);
    const pod = await getJson(['pod', 'build-1', '-n', APP]);
    const kubelet = join(work, 'host', '/var/lib/kubelet');
    const target = join('/var/lib/kubelet/pods', pod.metadata.uid, 'volumes/kubernetes.io~csi/gitconfig/mount');
    mkdirSync(join(work, 'host', dirname(target)), { recursive: true });
    csi = csiClient(`unix://${join(kubelet, 'plugins/connectors-csi/csi.sock')}`);
    const identity = { name: 'build-1', namespace: APP, uid: pod.metadata.uid, serviceAccount: 'default' };
    const request = publishRequest(target, identity, {
      'connector.name': 'git-connector',
      'configuration.names': 'gitconfig',
    });
    const refused = await csi.call('Node', 'NodePublishVolume', request).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refused).to.match(/UNAVAILABLE: waiting for approval/);
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: openshift-pipelines.org/v1alpha1
kind: ApprovalTask
metadata: {name: release-1-approval, namespace: ${APP}, labels: {tekton.dev/pipelineRun: release-1}}
spec: {approvers: [{name: alice, type: User}], numberOfApprovalsRequired: 1}
`,
    );
    await kubectl([
      'patch',
      'approvaltask',
      'release-1-approval',
      '-n',
      APP,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"approved"}}',
    ]);
    await kubectl([
      'wait',
      '--for=condition=Ready',
      'accessrequest',
      '-l',
      'connectors.cpaas.io/contextObjectName=build-1',
      '-n',
      APP,
      '--timeout=60s',
    ]);
    await csi.call('Node', 'NodePublishVolume', request);
    const volume = join(pods.get('connectors-csi')!.root(), target);
    gitconfig = readFileSync(join(volume, '.gitconfig'), 'utf8');
    expect(readFileSync(join(volume, 'context.token'), 'utf8')).to.match(/^ey/);
  });

  it('the proxy serves a git fetch with the mounted token, adding the Connector’s credentials', async () => {
    const proxyUrl = new URL(/\[url "([^"]+)"\]/.exec(gitconfig)![1]);
    const authorization = /extraHeader = Authorization: (.+)/.exec(gitconfig)![1].trim();
    const path = `${proxyUrl.pathname.replace(/\/$/, '')}/your-org/your-repo.git/info/refs?service=git-upload-pack`;
    const res = await send({
      port: pods.get('connectors-proxy')!.port('http'),
      path,
      headers: { host: proxyUrl.host, authorization },
    });
    expect(res.status, res.body).to.equal(200);
    expect(res.body).to.include('refs/heads/main');
  });

  it('the API lists the branches through the git plugin, which it reaches with the chart-made certificate', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      objects.yaml(
        objects.serviceAccount('ui', { namespace: APP }),
        objects.roleFor('ui', [objects.rule(GROUP, ['connectors', 'connectors/apis'], ['get'])], {
          serviceAccount: 'ui',
          saNamespace: APP,
          namespace: APP,
        }),
        objects.clusterRole('ui-list-classes', [objects.rule(GROUP, ['connectorclasses'], ['list'])]),
        objects.clusterRoleBinding('ui-list-classes', 'ui-list-classes', [objects.serviceAccountSubject('ui', APP)]),
      ),
    );
    const token = (await kubectl(['create', 'token', 'ui', '-n', APP])).trim();
    const apiPath = (await getJson(['connector', 'git-connector', '-n', APP])).status.api.path as string;
    const port = pods.get('connectors-api')!.port('http');
    const repositoryUrl = encodeURIComponent(`${git.url}/your-org/your-repo.git`);
    const refs = await send({
      port,
      path: `${apiPath}/git/gitrefs?repositoryUrl=${repositoryUrl}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refs.status, refs.body).to.equal(200);
    expect(JSON.parse(refs.body).items.map((r: { name: string }) => r.name)).to.deep.equal(['refs/heads/main']);
    const flags = await send({
      port,
      path: '/connectors-operator/featureflags',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(flags.status, flags.body).to.equal(200);
    for (const f of FLAGS) expect(flags.body, f).to.include(f);
  });

  it('the webhook reviews a Connector (reading its Secret), over TLS verified with the chart’s CA for its Service', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      objects.yaml(
        objects.secret('ssh-key', {
          namespace: APP,
          type: objects.SECRET_TYPES.sshAuth,
          stringData: { 'ssh-privatekey': 'not-a-key' },
        }),
      ),
    );
    const ca = Buffer.from((await getJson(['secret', 'connectors-webhook-tls', '-n', NS])).data['ca.crt'], 'base64');
    const review = (secret: string) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: randomUUID(),
        kind: { group: 'connectors.alauda.io', version: 'v1alpha1', kind: 'Connector' },
        resource: { group: 'connectors.alauda.io', version: 'v1alpha1', resource: 'connectors' },
        namespace: APP,
        operation: 'CREATE',
        userInfo: { username: 'alice' },
        object: objects.connector('c', {
          namespace: APP,
          className: 'git',
          address: git.url,
          auth: { name: 'basicAuth', secret },
        }),
      },
    });
    const port = pods.get('connectors-webhook')!.port('https');
    const answer = async (secret: string) => {
      const res = await send({
        port,
        path: '/validate/connectors',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(review(secret)),
        tls: { ca, servername: `connectors-webhook.${NS}.svc` },
      });
      expect(res.status, res.body).to.equal(200);
      return JSON.parse(res.body).response as { allowed: boolean; status?: { message?: string } };
    };
    expect((await answer('git-auth')).allowed).to.equal(true);
    const refused = await answer('ssh-key');
    expect(refused.allowed).to.equal(false);
    expect(refused.status?.message).to.match(/spec\.auth\.secretRef: .*kubernetes\.io\/ssh-auth/);
  });

  it('no component was refused by the Kubernetes API; each is still running, within its memory limit', () => {
    for (const pod of pods.values()) {
      expect(pod.proc.child.exitCode, `${pod.name}:\n${pod.logs()}`).to.equal(null);
      const refusals = pod
        .logs()
        .split('\n')
        .filter((l) => REFUSED.test(l));
      expect(refusals, pod.name).to.deep.equal([]);
      const limit = mebibytes(pod.container.resources.limits.memory);
      expect(pod.rssMiB(), `${pod.name}: RSS (MiB) against its limit`).to.be.below(limit);
    }
  });
});

function nodePid(p: PeerProcess): number {
  // The watchdog shell's child: unshare, which became sh, then chroot, then node (one process, exec'd).
  const children = readFileSync(`/proc/${p.child.pid}/task/${p.child.pid}/children`, 'utf8').trim().split(/\s+/);
  return Number(children[0]);
}

function httpGet(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`memory quantity ${quantity}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

function send(o: {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  tls?: { ca: Buffer; servername: string };
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: o.port, path: o.path, method: o.method ?? 'GET', headers: o.headers };
    const req = o.tls ? httpsRequest({ ...options, ca: o.tls.ca, servername: o.tls.servername }) : httpRequest(options);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from 127.0.0.1:${o.port}${o.path}`)));
    req.end(o.body);
  });
}
