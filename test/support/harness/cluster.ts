// One real control plane (etcd + kube-apiserver + kube-controller-manager) per mocha process, started
// lazily by the first `await cluster()` and stopped by the root hook in hooks.ts (and, failing that,
// on process exit by the control plane's own cleanup and watchdog). Each test uses its own namespace.
//
//   const c = await cluster();
//   const ns = await c.createNamespace('my-test');
//   await c.kubectl(['apply', '-n', ns, '-f', '-'], { input: yaml });
//
// CONNECTORS_TEST_CONTROLLER_MANAGER=0 runs without kube-controller-manager (faster start; no default
// ServiceAccounts, namespace deletion or garbage collection).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, CoreV1Api, type V1ServiceAccount } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../../controlplane/index.ts';
import { ensureBinary } from '../../../core/peers/index.ts';

export interface TokenOptions {
  audience?: string | string[];
  expirationSeconds?: number;
  /** Bind the token to a Pod (it becomes invalid when the Pod is deleted). */
  boundPod?: { name: string; uid: string };
}

export interface KubectlOptions {
  input?: string;
  /** Run as another kubeconfig (e.g. one holding a ServiceAccount token). */
  kubeconfigPath?: string;
  timeoutMs?: number;
}

export interface Cluster {
  controlPlane: ControlPlane;
  server: string;
  kubeconfigPath: string;
  kubeconfigYaml: string;
  /** Admin KubeConfig (system:masters); `kubeConfig.makeApiClient(CoreV1Api)` etc. */
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  controllerManager: boolean;
  /** Run the pinned kubectl with the admin kubeconfig; resolves to stdout, rejects with stderr. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** A fresh namespace named `<prefix>-<random>`; with kube-controller-manager it also waits (by default)
   * for its `default` ServiceAccount, so pods can be created in it right away. */
  createNamespace(prefix?: string, opts?: { waitForDefaultServiceAccount?: boolean }): Promise<string>;
  deleteNamespace(name: string): Promise<void>;
  createServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount>;
  /** A ServiceAccount token from the TokenRequest API. */
  createToken(namespace: string, serviceAccount: string, opts?: TokenOptions): Promise<string>;
  /** Wait until a ServiceAccount exists (e.g. `default`, created by kube-controller-manager). */
  waitForServiceAccount(namespace: string, name?: string, timeoutMs?: number): Promise<void>;
  /** A kubeconfig YAML that authenticates with a bearer token against this control plane. */
  tokenKubeconfig(token: string): string;
}

let starting: Promise<Cluster> | undefined;
let current: Cluster | undefined;

function controllerManagerWanted(): boolean {
  return !['0', 'false', 'no'].includes((process.env.CONNECTORS_TEST_CONTROLLER_MANAGER ?? '').toLowerCase());
}

/** The shared control plane of this test process, started on first use. */
export function cluster(): Promise<Cluster> {
  starting ??= build().then(
    (c) => (current = c),
    (err) => {
      starting = undefined;
      throw err;
    },
  );
  return starting;
}

/** Stop the shared control plane (the root hook calls this). */
export async function stopCluster(): Promise<void> {
  const pending = starting;
  starting = undefined;
  current = undefined;
  if (!pending) return;
  const c = await pending.catch(() => undefined);
  await c?.controlPlane.stop();
}

function runKubectl(bin: string, args: string[], kubeconfigPath: string, opts: KubectlOptions): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env };
    delete env.KUBECONFIG;
    const child = spawn(bin, [`--kubeconfig=${opts.kubeconfigPath ?? kubeconfigPath}`, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolvePromise(stdout);
      else
        reject(
          Object.assign(
            new Error(
              `kubectl ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`,
            ),
            { stdout, stderr, code },
          ),
        );
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

async function build(): Promise<Cluster> {
  const controllerManager = controllerManagerWanted();
  const [cp, kubectlBin] = await Promise.all([
    startControlPlane({
      controllerManager,
      log: process.env.CONNECTORS_TEST_VERBOSE ? (l) => process.stderr.write(l + '\n') : undefined,
    }),
    ensureBinary('kubectl'),
  ]);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(cp.kubeconfigYaml);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  const waitForServiceAccount = async (namespace: string, name = 'default', timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await core.readNamespacedServiceAccount({ name, namespace });
        return;
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      if (Date.now() > deadline)
        throw new Error(`ServiceAccount ${namespace}/${name} did not appear within ${timeoutMs}ms`);
      await sleep(50);
    }
  };

  const c: Cluster = {
    controlPlane: cp,
    server: cp.server,
    kubeconfigPath: cp.kubeconfigPath,
    kubeconfigYaml: cp.kubeconfigYaml,
    kubeConfig,
    core,
    controllerManager,
    kubectl: (args, opts = {}) => runKubectl(kubectlBin, args, cp.kubeconfigPath, opts),
    async createNamespace(prefix = 'test', opts = {}) {
      const base =
        prefix
          .toLowerCase()
          .replace(/[^a-z0-9-]+/g, '-')
          .replace(/^-+|-+$/g, '')
          .slice(0, 50) || 'test';
      const name = `${base}-${randomBytes(4).toString('hex')}`;
      await core.createNamespace({ body: { metadata: { name, labels: { 'connectors.test/harness': 'true' } } } });
      // Pods need the `default` ServiceAccount (ServiceAccount admission) before they can be created.
      if (opts.waitForDefaultServiceAccount ?? controllerManager) {
        if (!controllerManager)
          throw new Error(
            'waitForDefaultServiceAccount needs kube-controller-manager (CONNECTORS_TEST_CONTROLLER_MANAGER is off)',
          );
        await waitForServiceAccount(name);
      }
      return name;
    },
    async deleteNamespace(name) {
      try {
        await core.deleteNamespace({ name });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    },
    async createServiceAccount(namespace, name) {
      return core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    },
    async createToken(namespace, serviceAccount, opts = {}) {
      const audiences =
        opts.audience === undefined ? undefined : Array.isArray(opts.audience) ? opts.audience : [opts.audience];
      const res = await core.createNamespacedServiceAccountToken({
        name: serviceAccount,
        namespace,
        body: {
          spec: {
            audiences: audiences as string[],
            expirationSeconds: opts.expirationSeconds,
            boundObjectRef: opts.boundPod
              ? { apiVersion: 'v1', kind: 'Pod', name: opts.boundPod.name, uid: opts.boundPod.uid }
              : undefined,
          },
        },
      });
      const token = res.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
      return token;
    },
    waitForServiceAccount,
    tokenKubeconfig(token) {
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: local',
        '  cluster:',
        `    server: ${cp.server}`,
        `    certificate-authority-data: ${Buffer.from(cp.caPem).toString('base64')}`,
        'users:',
        '- name: token',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: local',
        '  context: {cluster: local, user: token}',
        'current-context: local',
        '',
      ].join('\n');
    },
  };
  return c;
}

// Shorthands over the shared cluster.

export async function kubeconfigPath(): Promise<string> {
  return (await cluster()).kubeconfigPath;
}

export async function kubeConfig(): Promise<KubeConfig> {
  return (await cluster()).kubeConfig;
}

export async function kubectl(args: string[], opts?: KubectlOptions): Promise<string> {
  return (await cluster()).kubectl(args, opts);
}

export async function createNamespace(
  prefix?: string,
  opts?: { waitForDefaultServiceAccount?: boolean },
): Promise<string> {
  return (await cluster()).createNamespace(prefix, opts);
}

export async function createServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount> {
  return (await cluster()).createServiceAccount(namespace, name);
}

export async function createToken(namespace: string, serviceAccount: string, opts?: TokenOptions): Promise<string> {
  return (await cluster()).createToken(namespace, serviceAccount, opts);
}

/** Run the pinned kubectl against any kubeconfig, without starting the shared cluster. */
export async function kubectlWith(
  kubeconfig: string,
  args: string[],
  opts: Omit<KubectlOptions, 'kubeconfigPath'> = {},
): Promise<string> {
  return runKubectl(await ensureBinary('kubectl'), args, kubeconfig, opts);
}

/** The cluster if it has been started in this process (for hooks that must not start one). */
export function startedCluster(): Cluster | undefined {
  return current;
}
