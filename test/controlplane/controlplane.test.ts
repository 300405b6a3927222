// The embedded control plane against the real etcd, kube-apiserver and kube-controller-manager.
import { eventually, cluster, kubectlWith } from '@connectors/test-support';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  AdmissionregistrationV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../controlplane/index.ts';
import { canBind } from '../../controlplane/ports.ts';
import { pidAlive } from '../../controlplane/supervisor.ts';
import * as pki from '../../core/pki/index.ts';
import { ensureBinary } from '../../core/peers/index.ts';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Processes whose command line mentions `needle` (the control plane's state dir is in every one). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle) && pidAlive(Number(entry)))
        out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** TCP ports in LISTEN state on this machine (/proc/net/tcp{,6}: local address, state 0A). */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A') ports.add(parseInt(fields[1].split(':').at(-1) as string, 16));
    }
  }
  return ports;
}

const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.throwaway.test.connectors.local
spec:
  group: throwaway.test.connectors.local
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.throwaway.test.connectors.local
spec:
  group: throwaway.test.connectors.local
  scope: Cluster
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

describe('controlplane: a dedicated control plane (no controller manager)', function () {
  this.timeout(90_000);
  let cp: ControlPlane;
  let crdDir: string;
  let startMs: number;

  before(async () => {
    crdDir = await mkdtemp(join(tmpdir(), 'connectors-crd-test-'));
    await writeFile(join(crdDir, 'widgets.yaml'), WIDGET_CRD);
    await writeFile(join(crdDir, 'ignored.txt'), 'not yaml');
    const t0 = Date.now();
    cp = await startControlPlane({ crdDir, controllerManager: false });
    startMs = Date.now() - t0;
  });

  after(async () => {
    await cp?.stop();
    await rm(crdDir, { recursive: true, force: true });
  });

  it('becomes ready within 15 seconds of being started', () => {
    expect(startMs, `start-to-ready took ${startMs}ms`).to.be.below(15_000);
    expect(cp.server).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cp.serviceAccountIssuer).to.equal(cp.server);
    expect(existsSync(cp.kubeconfigPath)).to.equal(true);
    expect(readFileSync(cp.kubeconfigPath, 'utf8')).to.equal(cp.kubeconfigYaml);
    expect(cp.processes.map((p) => p.name)).to.deep.equal(['etcd', 'kube-apiserver']);
  });

  it('installs every CRD of the CRD directory and they are Established and served', async () => {
    const kubectl = (args: string[], input?: string) => kubectlWith(cp.kubeconfigPath, args, { input });
    const out = await kubectl([
      'get',
      'crd',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
    ]);
    expect(out.trim().split('\n').sort()).to.deep.equal([
      'gadgets.throwaway.test.connectors.local=True',
      'widgets.throwaway.test.connectors.local=True',
    ]);
    await kubectl(
      ['apply', '-n', 'default', '-f', '-'],
      'apiVersion: throwaway.test.connectors.local/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n',
    );
    expect(await kubectl(['get', 'widgets', '-n', 'default', '-o', 'name'])).to.equal(
      'widget.throwaway.test.connectors.local/w1\n',
    );
    const invalid = await kubectl(
      ['apply', '-n', 'default', '-f', '-'],
      'apiVersion: throwaway.test.connectors.local/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 0}\n',
    ).then(
      () => '',
      (err: Error) => err.message,
    );
    expect(invalid).to.contain('spec.size');
  });

  it('stop() leaves no process, no listening port and no state directory', async () => {
    const pids = [...cp.processes.map((p) => p.pid), cp.watchdogPid];
    const ports = Object.values(cp.ports);
    const stateDir = cp.stateDir;
    expect(pids.every(pidAlive)).to.equal(true);
    expect(processesMentioning(stateDir)).to.have.length(2);
    expect(ports.filter((p) => listeningPorts().has(p))).to.have.members(ports);
    const t0 = Date.now();
    await cp.stop();
    const stopMs = Date.now() - t0;
    expect(stopMs, `stop took ${stopMs}ms`).to.be.below(15_000);
    expect(pids.filter(pidAlive), 'live pids').to.deep.equal([]);
    expect(processesMentioning(stateDir), 'processes mentioning the state dir').to.deep.equal([]);
    expect(
      ports.filter((p) => listeningPorts().has(p)),
      'ports still listening',
    ).to.deep.equal([]);
    for (const port of ports) expect(await canBind(port), `port ${port} can be bound again`).to.equal(true);
    expect(existsSync(stateDir)).to.equal(false);
  });
});

interface ChildInfo {
  pids: number[];
  watchdog: number;
  ports: number[];
  stateDir: string;
}

/** A child Node process that starts a control plane, prints its processes, then `then` (or idles). */
async function startInChild(
  dir: string,
  controllerManager: boolean,
  then: string,
): Promise<{ child: ChildProcess; info: ChildInfo; exited: Promise<{ code: number | null; signal: string | null }> }> {
  const script = join(dir, 'child.ts');
  await writeFile(
    script,
    `import { startControlPlane } from ${JSON.stringify(join(repo, 'controlplane/index.ts'))};
const cp = await startControlPlane({ crdFiles: [], controllerManager: ${controllerManager} });
const started = { pids: cp.processes.map((p) => p.pid), watchdog: cp.watchdogPid, ports: Object.values(cp.ports), stateDir: cp.stateDir };
process.stdout.write(JSON.stringify(started) + '\\n');
setInterval(() => {}, 1000);
${then}
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const info = await new Promise<ChildInfo>((resolveInfo, reject) => {
    let buf = '';
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolveInfo(JSON.parse(buf.slice(0, nl)) as ChildInfo);
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`child exited (${code ?? signal}) before the control plane was ready: ${stderr}`)),
    );
  });
  return { child, info, exited };
}

describe('controlplane: starting', function () {
  this.timeout(60_000);

  it('retries with new ports when a port is taken between choosing it and binding it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'connectors-bindrace-test-'));
    const etcd = await ensureBinary('etcd');
    // An etcd that loses the race once (as if another process took its port), then is the real etcd.
    const wrapper = join(dir, 'etcd');
    await writeFile(
      wrapper,
      `#!/bin/sh\nif [ ! -e ${dir}/lost-once ]; then touch ${dir}/lost-once; echo ` +
        `'{"level":"fatal","error":"listen tcp 127.0.0.1:1: bind: address already in use"}' >&2; exit 1; ` +
        `fi\nexec ${etcd} "$@"\n`,
      { mode: 0o755 },
    );
    const lines: string[] = [];
    const cp = await startControlPlane({
      crdFiles: [],
      controllerManager: false,
      binaries: { etcd: wrapper },
      log: (l) => lines.push(l),
    });
    try {
      expect(existsSync(join(dir, 'lost-once'))).to.equal(true);
      expect(
        lines.some((l) => /retrying with new ports/.test(l)),
        lines.join('\n'),
      ).to.equal(true);
      expect(await kubectlWith(cp.kubeconfigPath, ['get', 'namespace', 'default', '-o', 'name'])).to.equal(
        'namespace/default\n',
      );
    } finally {
      await cp.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with the tail of the failing process log', async () => {
    const started = Date.now();
    const err = await startControlPlane({
      crdFiles: [],
      controllerManager: false,
      apiserverArgs: ['--service-account-lookup=maybe'],
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message)
      .to.contain('kube-apiserver exited')
      .and.contain('invalid argument "maybe" for "--service-account-lookup"');
    expect(Date.now() - started).to.be.below(10_000);
  });
});

describe('controlplane: the parent goes away without calling stop()', function () {
  this.timeout(90_000);
  const cases: {
    how: string;
    controllerManager: boolean;
    then: string;
    end: (child: ChildProcess) => void;
    expectExit: { code: number | null; signal: string | null } | undefined;
  }[] = [
    {
      how: 'killed with SIGKILL',
      controllerManager: true,
      then: '',
      end: (c) => c.kill('SIGKILL'),
      expectExit: { code: null, signal: 'SIGKILL' },
    },
    {
      how: 'sent SIGTERM',
      controllerManager: false,
      then: '',
      end: (c) => c.kill('SIGTERM'),
      expectExit: { code: null, signal: 'SIGTERM' },
    },
    {
      how: 'sent SIGINT (Ctrl-C)',
      controllerManager: false,
      then: '',
      end: (c) => c.kill('SIGINT'),
      expectExit: { code: null, signal: 'SIGINT' },
    },
    {
      how: 'calling process.exit()',
      controllerManager: false,
      then: 'setTimeout(() => process.exit(3), 300);',
      end: () => {},
      expectExit: { code: 3, signal: null },
    },
  ];
  for (const tc of cases) {
    it(`when ${tc.how}, leaves no orphan process, port or state directory within a few seconds`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'connectors-orphan-test-'));
      let info: ChildInfo | undefined;
      try {
        const started = await startInChild(dir, tc.controllerManager, tc.then);
        info = started.info;
        const all = [...info.pids, info.watchdog];
        expect(info.pids).to.have.length(tc.controllerManager ? 3 : 2);
        expect(all.every(pidAlive)).to.equal(true);
        const endedAt = Date.now();
        tc.end(started.child);
        expect(await started.exited).to.deep.equal(tc.expectExit);
        await eventually('every control-plane process gone', () => all.every((p) => !pidAlive(p)) || undefined, 15_000);
        await eventually('the state dir removed', () => !existsSync((info as ChildInfo).stateDir) || undefined, 5_000);
        const goneMs = Date.now() - endedAt;
        expect(goneMs, `orphans lived ${goneMs}ms`).to.be.below(10_000);
        expect(processesMentioning(info.stateDir)).to.deep.equal([]);
        expect(
          info.ports.filter((p) => listeningPorts().has(p)),
          'ports still listening',
        ).to.deep.equal([]);
        for (const port of info.ports) expect(await canBind(port), `port ${port} free`).to.equal(true);
      } finally {
        for (const p of info?.pids ?? []) {
          try {
            process.kill(-p, 'SIGKILL');
          } catch {
            // gone, as it should be
          }
        }
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('controlplane: the shared test control plane', function () {
  this.timeout(60_000);

  it('issues TokenRequest tokens that TokenReview accepts only for their audience', async () => {
    const c = await cluster();
    const ns = await c.createNamespace('tokens');
    await c.createServiceAccount(ns, 'robot');
    const authn = c.kubeConfig.makeApiClient(AuthenticationV1Api);
    const review = async (token: string, audiences?: string[]) =>
      (await authn.createTokenReview({ body: { spec: { token, audiences } } })).status;

    const tokenA = await c.createToken(ns, 'robot', { audience: 'audience-a', expirationSeconds: 600 });
    const ok = await review(tokenA, ['audience-a']);
    expect(ok?.authenticated).to.equal(true);
    expect(ok?.user?.username).to.equal(`system:serviceaccount:${ns}:robot`);
    expect(ok?.audiences).to.deep.equal(['audience-a']);
    const wrong = await review(tokenA, ['audience-b']);
    expect(wrong?.authenticated ?? false).to.equal(false);
    expect(wrong?.error).to.match(/audience/i);

    // Without an audience the token is for the API server itself (the issuer).
    const apiToken = await c.createToken(ns, 'robot');
    const api = await review(apiToken);
    expect(api?.authenticated).to.equal(true);
    expect(api?.audiences).to.deep.equal([c.controlPlane.serviceAccountIssuer]);
    const claims = JSON.parse(Buffer.from(apiToken.split('.')[1], 'base64url').toString()) as { iss: string };
    expect(claims.iss).to.equal(c.controlPlane.serviceAccountIssuer);
  });

  it('RBAC denies an unprivileged ServiceAccount until a RoleBinding allows it', async () => {
    const c = await cluster();
    const ns = await c.createNamespace('rbac');
    await c.createServiceAccount(ns, 'reader');
    const user = `system:serviceaccount:${ns}:reader`;
    const authz = c.kubeConfig.makeApiClient(AuthorizationV1Api);
    const allowed = async () =>
      (
        await authz.createSubjectAccessReview({
          body: {
            spec: {
              user,
              groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
              resourceAttributes: { namespace: ns, verb: 'list', resource: 'configmaps' },
            },
          },
        })
      ).status;
    const denied = await allowed();
    expect(denied?.allowed).to.equal(false);

    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'visible' } } });
    const token = await c.createToken(ns, 'reader');
    const asReader = join(await mkdtemp(join(tmpdir(), 'connectors-rbac-')), 'kubeconfig');
    await writeFile(asReader, c.tokenKubeconfig(token), { mode: 0o600 });
    try {
      const forbidden = await c.kubectl(['get', 'configmaps', '-n', ns], { kubeconfigPath: asReader }).then(
        () => '',
        (err: Error) => err.message,
      );
      expect(forbidden).to.match(/forbidden/i);

      const rbac = c.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRole({
        namespace: ns,
        body: {
          metadata: { name: 'cm-reader' },
          rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
        },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name: 'cm-reader' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cm-reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
        },
      });
      await eventually(
        'SubjectAccessReview allowed after the RoleBinding',
        async () => (await allowed())?.allowed || undefined,
        10_000,
      );
      const listed = await c.kubectl(['get', 'configmaps', '-n', ns, '-o', 'name'], { kubeconfigPath: asReader });
      expect(listed).to.contain('configmap/visible');
    } finally {
      await rm(resolve(asReader, '..'), { recursive: true, force: true });
    }
  });

  it('calls a mutating webhook at https://127.0.0.1:<port> and applies its patch', async () => {
    const c = await cluster();
    const ns = await c.createNamespace('webhook');
    const ca = await pki.createCA({ commonName: 'webhook-test-ca' });
    const serving = await pki.issueServingCert(ca, { ipAddresses: ['127.0.0.1'] });
    const calls: { uid: string; name: string; namespace: string }[] = [];
    const server: Server = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const review = JSON.parse(body) as {
          request: {
            uid: string;
            name: string;
            namespace: string;
            object: { metadata: { labels?: Record<string, string> } };
          };
        };
        calls.push({ uid: review.request.uid, name: review.request.name, namespace: review.request.namespace });
        const patch = [
          ...(review.request.object.metadata.labels ? [] : [{ op: 'add', path: '/metadata/labels', value: {} }]),
          { op: 'add', path: '/metadata/labels/mutated-by', value: 'test-webhook' },
        ];
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: 'JSONPatch',
              patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
            },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const admission = c.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const name = `${ns}-mutate`;
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name: 'mutate.test.connectors.local',
            clientConfig: {
              url: `https://127.0.0.1:${port}/mutate`,
              caBundle: Buffer.from(ca.certPem).toString('base64'),
            },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            objectSelector: { matchLabels: { 'webhook-test': 'yes' } },
            failurePolicy: 'Fail',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 5,
          },
        ],
      },
    });
    try {
      // The apiserver picks up a new webhook configuration asynchronously: create until it applies.
      let i = 0;
      const cm = await eventually(
        'a ConfigMap mutated by the webhook',
        async () => {
          const created = await c.core.createNamespacedConfigMap({
            namespace: ns,
            body: { metadata: { name: `cm-${i++}`, labels: { 'webhook-test': 'yes' } }, data: { a: 'b' } },
          });
          return created.metadata?.labels?.['mutated-by'] === 'test-webhook' ? created : undefined;
        },
        15_000,
      );
      expect(cm.metadata?.labels).to.include({ 'webhook-test': 'yes', 'mutated-by': 'test-webhook' });
      expect(calls.some((call) => call.name === cm.metadata?.name && call.namespace === ns)).to.equal(true);
      const stored = await c.core.readNamespacedConfigMap({ name: cm.metadata?.name as string, namespace: ns });
      expect(stored.metadata?.labels?.['mutated-by']).to.equal('test-webhook');
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name });
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    }
  });

  it('with the controller manager, a new namespace gets a default ServiceAccount', async () => {
    const c = await cluster();
    expect(c.controllerManager, 'the shared control plane runs kube-controller-manager').to.equal(true);
    const ns = await c.createNamespace('default-sa');
    await c.waitForServiceAccount(ns, 'default', 15_000);
    // ...so the walkthroughs' `kubectl create token default -n X` works.
    const token = await c.kubectl(['create', 'token', 'default', '-n', ns]);
    expect(token.trim().split('.')).to.have.length(3);
  });

  it('with the controller manager, owner references cascade and namespaces finish deleting', async () => {
    const c = await cluster();
    const ns = await c.createNamespace('gc');
    const owner = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    await c.core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid as string }],
        },
      },
    });
    await c.core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
    await eventually(
      'the dependent ConfigMap garbage-collected',
      async () =>
        c.core.readNamespacedConfigMap({ name: 'dependent', namespace: ns }).then(
          () => undefined,
          (err: { code?: number }) => (err.code === 404 ? true : undefined),
        ),
      30_000,
    );
    await c.deleteNamespace(ns);
    await eventually(
      'the namespace deleted',
      async () =>
        c.core.readNamespace({ name: ns }).then(
          () => undefined,
          (err: { code?: number }) => (err.code === 404 ? true : undefined),
        ),
      40_000,
    );
  });
});
