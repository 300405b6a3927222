// The embedded local control plane: etcd + kube-apiserver (+ optionally kube-controller-manager) on
// loopback with free ports, their own PKI, ServiceAccount tokens, RBAC, the project's CRDs installed,
// and a teardown that leaves no process, port or directory behind even when the parent dies abruptly
// (see supervisor.ts). Used by the tests (test/support/harness/cluster.ts), `connectors controlplane` and
// `connectors up`.
import { mkdtemp, mkdir, readdir, readFile, writeFile, rm, chmod } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { ensureBinary } from '../core/peers/index.ts';
import { kubeClient, type KubeClient } from '../core/kube/client.ts';
import { resourcePath, resources } from '../core/kube/resources.ts';
import * as pki from '../core/pki/index.ts';
import { allocatePorts, releasePorts, waitPortsFree } from './ports.ts';
import {
  Watchdog,
  startComponent,
  stopComponent,
  signalGroup,
  registerLive,
  unregisterLive,
  type Component,
  type Stoppable,
} from './supervisor.ts';

/** deploy/crds of this repository. */
export const DEFAULT_CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'crds');

export interface ControlPlaneOptions {
  /** Where PKI, etcd data, kubeconfig and logs go. Default: a fresh temp dir, removed on stop. A given
   * directory is kept on stop and reused (etcd data and PKI) on the next start. */
  stateDir?: string;
  /** CRD YAML files to install (each may hold several documents). Overrides `crdDir`. */
  crdFiles?: string[];
  /** Directory whose `*.yaml` / `*.yml` files are installed. Default: deploy/crds of this repository. */
  crdDir?: string;
  /** Run kube-controller-manager (namespace, serviceaccount, garbage collector, ... controllers). Default true. */
  controllerManager?: boolean;
  /** Progress lines (also receives the binary build progress). */
  log?: (line: string) => void;
  /** Maximum time from start to ready, in ms (default 120 s; binaries are built before this starts). */
  readyTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace per process on stop, in ms (default 10 s). */
  stopGraceMs?: number;
  /** Stop everything on SIGINT/SIGTERM/SIGHUP of this process (default true). */
  handleSignals?: boolean;
  /** Use these binaries instead of the pinned, cached ones. */
  binaries?: { etcd?: string; kubeApiserver?: string; kubeControllerManager?: string };
  /** Extra kube-apiserver flags (`--name=value`), appended last. */
  apiserverArgs?: string[];
}

export interface ControlPlaneProcess {
  name: string;
  pid: number;
  logFile: string;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  kubeconfigPath: string;
  kubeconfigYaml: string;
  /** CA of the apiserver's serving and client certificates. */
  caPem: string;
  /** The admin client certificate (group system:masters). */
  adminCertPem: string;
  adminKeyPem: string;
  serviceAccountIssuer: string;
  stateDir: string;
  ports: { apiserver: number; etcdClient: number; etcdPeer: number };
  processes: ControlPlaneProcess[];
  /** The watchdog `sh` that stops the processes if this Node process dies without stopping them. */
  watchdogPid: number;
  /** Milliseconds from the first process start to ready. */
  readyMs: number;
  /** Install more CRDs and wait until they are Established. */
  installCRDs(files: string[]): Promise<string[]>;
  /** Stop every process (SIGTERM, SIGKILL after the grace), wait for the ports to be free, remove a temp state dir. */
  stop(): Promise<void>;
}

interface Pki {
  ca: pki.CertificateAuthority;
  serving: { certPem: string; keyPem: string };
  admin: { certPem: string; keyPem: string };
  controllerManager: { certPem: string; keyPem: string };
  saKeyPem: string;
  saPubPem: string;
}

async function loadOrCreatePki(dir: string, reuse: boolean): Promise<Pki> {
  const files = [
    'ca.crt',
    'ca.key',
    'apiserver.crt',
    'apiserver.key',
    'admin.crt',
    'admin.key',
    'controller-manager.crt',
    'controller-manager.key',
    'sa.key',
    'sa.pub',
  ];
  if (reuse && files.every((f) => existsSync(join(dir, f)))) {
    const r = (f: string) => readFileSync(join(dir, f), 'utf8');
    return {
      ca: await pki.loadCA(r('ca.crt'), r('ca.key')),
      serving: { certPem: r('apiserver.crt'), keyPem: r('apiserver.key') },
      admin: { certPem: r('admin.crt'), keyPem: r('admin.key') },
      controllerManager: { certPem: r('controller-manager.crt'), keyPem: r('controller-manager.key') },
      saKeyPem: r('sa.key'),
      saPubPem: r('sa.pub'),
    };
  }
  const ca = await pki.createCA({ commonName: 'connectors-local-ca' });
  const [serving, admin, cm, sa] = await Promise.all([
    pki.issueServingCert(ca, {
      commonName: 'kube-apiserver',
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      ipAddresses: ['127.0.0.1', '::1', '10.0.0.1'],
      validitySeconds: 3650 * 86_400,
    }),
    pki.issueClientCert(ca, {
      commonName: 'connectors-admin',
      organizations: ['system:masters'],
      validitySeconds: 3650 * 86_400,
    }),
    pki.issueClientCert(ca, {
      commonName: 'system:kube-controller-manager',
      organizations: ['system:masters'],
      validitySeconds: 3650 * 86_400,
    }),
    // RSA for the ServiceAccount issuer: RS256 is what every OIDC consumer verifies.
    pki.generateKeyPair('rsa-2048'),
  ]);
  const out: Pki = {
    ca,
    serving: { certPem: serving.certPem + ca.certPem, keyPem: serving.keyPem },
    admin: { certPem: admin.certPem, keyPem: admin.keyPem },
    controllerManager: { certPem: cm.certPem, keyPem: cm.keyPem },
    saKeyPem: await pki.privateKeyToPem(sa.privateKey),
    saPubPem: await pki.publicKeyToPem(sa.publicKey),
  };
  const contents: Record<string, string> = {
    'ca.crt': ca.certPem,
    'ca.key': ca.keyPem,
    'apiserver.crt': out.serving.certPem,
    'apiserver.key': out.serving.keyPem,
    'admin.crt': out.admin.certPem,
    'admin.key': out.admin.keyPem,
    'controller-manager.crt': out.controllerManager.certPem,
    'controller-manager.key': out.controllerManager.keyPem,
    'sa.key': out.saKeyPem,
    'sa.pub': out.saPubPem,
  };
  await Promise.all(Object.entries(contents).map(([f, text]) => writeFile(join(dir, f), text, { mode: 0o600 })));
  return out;
}

export function kubeconfigYaml(
  server: string,
  caPem: string,
  certPem: string,
  keyPem: string,
  user = 'connectors-admin',
  context = 'connectors',
): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${context}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(certPem)}`,
    `    client-key-data: ${b64(keyPem)}`,
    'contexts:',
    `- name: ${context}`,
    '  context:',
    `    cluster: ${context}`,
    `    user: ${user}`,
    `current-context: ${context}`,
    '',
  ].join('\n');
}

/** The REST client (core/kube) with the admin certificate; every bootstrap call has its own timeout. */
function adminClient(server: string, tls: { ca: string; cert: string; key: string }): KubeClient {
  return kubeClient({
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: (o) => {
      o.ca = tls.ca;
      o.cert = tls.cert;
      o.key = tls.key;
      return Promise.resolve();
    },
  });
}

const timeout = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) });

class StartupError extends Error {
  readonly bindRace: boolean;
  constructor(message: string, bindRace: boolean) {
    super(message);
    this.bindRace = bindRace;
  }
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Every `*.yaml`/`*.yml` file in a directory (sorted), or none if it does not exist. */
async function yamlFilesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(dir, f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

class LocalControlPlane implements ControlPlane, Stoppable {
  server = '';
  kubeconfigPath = '';
  kubeconfigYaml = '';
  caPem = '';
  adminCertPem = '';
  adminKeyPem = '';
  serviceAccountIssuer = '';
  stateDir = '';
  ports = { apiserver: 0, etcdClient: 0, etcdPeer: 0 };
  readyMs = 0;
  components: Component[] = [];
  watchdog: Watchdog | undefined;
  client: KubeClient | undefined;
  tempStateDir = false;
  private stopping: Promise<void> | undefined;
  private readonly opts: ControlPlaneOptions;
  private readonly log: (line: string) => void;

  constructor(opts: ControlPlaneOptions) {
    this.opts = opts;
    this.log = opts.log ?? (() => {});
  }

  get watchdogPid(): number {
    return this.watchdog?.process.pid ?? -1;
  }

  get processes(): ControlPlaneProcess[] {
    return this.components.map((c) => ({ name: c.name, pid: c.pid, logFile: c.logFile }));
  }

  async installCRDs(files: string[]): Promise<string[]> {
    const client = this.client;
    if (!client) throw new Error('control plane not started');
    const names: string[] = [];
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
        const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
        if (!obj) continue;
        if (obj.kind !== 'CustomResourceDefinition' || !obj.metadata?.name)
          throw new Error(
            `${file}: expected CustomResourceDefinitions only, found ${obj.kind ?? 'a document without kind'}`,
          );
        const name = obj.metadata.name;
        try {
          await client.call('PATCH', resourcePath(resources.CustomResourceDefinition, { name }), {
            body: obj,
            contentType: 'application/apply-patch+yaml',
            query: { fieldManager: 'connectors-controlplane', force: 'true' },
            ...timeout(),
          });
        } catch (err) {
          throw new Error(`installing CRD ${name} from ${file}: ${(err as Error).message}`, { cause: err });
        }
        names.push(name);
      }
    }
    const deadline = Date.now() + 30_000;
    for (const name of names) {
      for (;;) {
        const crd = (await client
          .call('GET', resourcePath(resources.CustomResourceDefinition, { name }), timeout())
          .catch(() => undefined)) as { status?: { conditions?: { type: string; status: string }[] } } | undefined;
        const conditions = crd?.status?.conditions ?? [];
        if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) break;
        if (Date.now() > deadline)
          throw new Error(`CRD ${name} not Established after 30s: ${JSON.stringify(conditions)}`);
        await sleep(50);
      }
    }
    return names;
  }

  async start(): Promise<void> {
    const opts = this.opts;
    // One after the other: on a cold machine each is a Go build that wants every core and GBs of memory.
    const etcdBin = opts.binaries?.etcd ?? (await ensureBinary('etcd', this.log));
    const apiserverBin = opts.binaries?.kubeApiserver ?? (await ensureBinary('kube-apiserver', this.log));
    const cmBin =
      opts.controllerManager === false
        ? undefined
        : (opts.binaries?.kubeControllerManager ?? (await ensureBinary('kube-controller-manager', this.log)));
    this.tempStateDir = !opts.stateDir;
    this.stateDir = opts.stateDir ? resolve(opts.stateDir) : await mkdtemp(join(tmpdir(), 'connectors-controlplane-'));
    await mkdir(this.stateDir, { recursive: true });
    const started = Date.now();
    this.watchdog = new Watchdog({ logFile: join(this.stateDir, 'watchdog.log') });
    if (this.tempStateDir) this.watchdog.removeDirOnExit(this.stateDir);
    registerLive(this, opts.handleSignals !== false);
    try {
      const pkiDir = join(this.stateDir, 'pki');
      await mkdir(pkiDir, { recursive: true, mode: 0o700 });
      await mkdir(join(this.stateDir, 'logs'), { recursive: true });
      const keys = await loadOrCreatePki(pkiDir, !this.tempStateDir);
      this.caPem = keys.ca.certPem;
      this.adminCertPem = keys.admin.certPem;
      this.adminKeyPem = keys.admin.keyPem;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.startProcesses(etcdBin, apiserverBin, cmBin, keys, pkiDir, started);
          break;
        } catch (err) {
          if (!(err instanceof StartupError && err.bindRace) || attempt >= 4) throw err;
          this.log(`controlplane: a port was taken while starting (attempt ${attempt}); retrying with new ports`);
          await this.stopComponents(false, 1000); // the port that was taken is someone else's now
        }
      }
      // Written only once ready, so its presence means the control plane can be used.
      this.kubeconfigPath = join(this.stateDir, 'admin.kubeconfig');
      await writeFile(this.kubeconfigPath, this.kubeconfigYaml, { mode: 0o600 });
      await chmod(this.kubeconfigPath, 0o600);
      this.readyMs = Date.now() - started;
      this.log(
        `controlplane: ready at ${this.server} in ${(this.readyMs / 1000).toFixed(1)}s (state in ${this.stateDir})`,
      );
    } catch (err) {
      await this.stop().catch(() => {});
      throw err;
    }
  }

  private async startProcesses(
    etcdBin: string,
    apiserverBin: string,
    cmBin: string | undefined,
    keys: Pki,
    pkiDir: string,
    started: number,
  ): Promise<void> {
    const watchdog = this.watchdog as Watchdog;
    const [apiserverPort, etcdClient, etcdPeer] = await allocatePorts(3);
    this.ports = { apiserver: apiserverPort, etcdClient, etcdPeer };
    this.server = `https://127.0.0.1:${apiserverPort}`;
    this.serviceAccountIssuer = this.server;
    const logs = join(this.stateDir, 'logs');
    const deadline = started + (this.opts.readyTimeoutMs ?? 120_000);

    const etcd = startComponent(
      'etcd',
      etcdBin,
      [
        '--name=default',
        `--data-dir=${join(this.stateDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
        '--quota-backend-bytes=4294967296',
      ],
      { logFile: join(logs, 'etcd.log'), watchdog },
    );
    this.components.push(etcd);

    const controllerManager = Boolean(cmBin);
    const apiserver = startComponent(
      'kube-apiserver',
      apiserverBin,
      [
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiserverPort}`,
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        `--cert-dir=${pkiDir}`,
        `--tls-cert-file=${join(pkiDir, 'apiserver.crt')}`,
        `--tls-private-key-file=${join(pkiDir, 'apiserver.key')}`,
        `--client-ca-file=${join(pkiDir, 'ca.crt')}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${this.serviceAccountIssuer}`,
        `--service-account-key-file=${join(pkiDir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(pkiDir, 'sa.key')}`,
        `--api-audiences=${this.serviceAccountIssuer}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        // Without kube-controller-manager nobody creates `default` ServiceAccounts, which the
        // ServiceAccount admission plugin would require of every pod (envtest does the same).
        ...(controllerManager ? [] : ['--disable-admission-plugins=ServiceAccount']),
        ...(this.opts.apiserverArgs ?? []),
      ],
      { logFile: join(logs, 'kube-apiserver.log'), watchdog },
    );
    this.components.push(apiserver);
    this.log(
      `controlplane: started etcd (pid ${etcd.pid}, 127.0.0.1:${etcdClient}) and kube-apiserver (pid ${apiserver.pid}, ${this.server})`,
    );

    await this.client?.close();
    this.client = adminClient(this.server, {
      ca: keys.ca.certPem,
      cert: keys.admin.certPem,
      key: keys.admin.keyPem,
    });
    this.kubeconfigYaml = kubeconfigYaml(this.server, keys.ca.certPem, keys.admin.certPem, keys.admin.keyPem);

    await this.waitFor('kube-apiserver /readyz', deadline, [etcd, apiserver], async () => {
      const client = this.client!;
      return client.call('GET', '/readyz', timeout(2000)).then(
        () => true,
        () => false,
      );
    });

    if (cmBin) {
      const cmKubeconfig = join(pkiDir, 'controller-manager.kubeconfig');
      await writeFile(
        cmKubeconfig,
        kubeconfigYaml(
          this.server,
          keys.ca.certPem,
          keys.controllerManager.certPem,
          keys.controllerManager.keyPem,
          'system:kube-controller-manager',
        ),
        { mode: 0o600 },
      );
      const cm = startComponent(
        'kube-controller-manager',
        cmBin,
        [
          `--kubeconfig=${cmKubeconfig}`,
          '--controllers=serviceaccount,serviceaccount-token,namespace,garbagecollector,root-ca-cert-publisher,clusterrole-aggregation',
          `--service-account-private-key-file=${join(pkiDir, 'sa.key')}`,
          `--root-ca-file=${join(pkiDir, 'ca.crt')}`,
          '--use-service-account-credentials=false',
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          '--concurrent-gc-syncs=5',
          '--concurrent-namespace-syncs=5',
        ],
        { logFile: join(logs, 'kube-controller-manager.log'), watchdog },
      );
      this.components.push(cm);
      this.log(`controlplane: started kube-controller-manager (pid ${cm.pid})`);
    }

    await this.waitFor('the default namespace', deadline, this.components, async () => {
      const path = resourcePath(resources.Namespace, { name: 'default' });
      return this.client!.call('GET', path, timeout()).then(
        () => true,
        () => false,
      );
    });

    const crdFiles = this.opts.crdFiles ?? (await yamlFilesIn(this.opts.crdDir ?? DEFAULT_CRD_DIR));
    if (crdFiles.length) {
      const names = await this.installCRDs(crdFiles);
      this.log(`controlplane: installed ${names.length} CRDs`);
    }

    if (cmBin) {
      await this.waitFor(
        'kube-controller-manager (the default ServiceAccount)',
        deadline,
        this.components,
        async () => {
          const path = resourcePath(resources.ServiceAccount, { namespace: 'default', name: 'default' });
          return this.client!.call('GET', path, timeout()).then(
            () => true,
            () => false,
          );
        },
      );
    }
  }

  /** Poll `check` until true, failing early (with the log tail) if a component exits. */
  private async waitFor(
    what: string,
    deadline: number,
    watched: Component[],
    check: () => Promise<boolean>,
  ): Promise<void> {
    let exited: Component | undefined;
    for (const c of watched) void c.exited.then(() => (exited ??= c));
    let lastError: string;
    for (;;) {
      if (exited) {
        const log = tail(exited.logFile);
        const bindRace = /address already in use|bind: address/i.test(log);
        throw new StartupError(
          `${exited.name} exited while waiting for ${what} (exit ${exited.child.exitCode ?? exited.child.signalCode}); last lines of its log:\n${log}`,
          bindRace,
        );
      }
      try {
        if (await check()) return;
        lastError = '';
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) {
        const logs = watched.map((c) => `--- last lines of the ${c.name} log:\n${tail(c.logFile, 20)}`).join('\n');
        throw new StartupError(`timed out waiting for ${what}${lastError ? ` (${lastError})` : ''}\n${logs}`, false);
      }
      await sleep(100);
    }
  }

  private async stopComponents(waitForPorts = true, grace = this.opts.stopGraceMs ?? 10_000): Promise<void> {
    // Reverse order: the controller manager, then the apiserver (which needs etcd to shut down), then etcd.
    for (const c of [...this.components].reverse()) {
      await stopComponent(c, grace);
      try {
        this.watchdog?.forgetGroup(c.pid);
      } catch {
        // watchdog closed
      }
    }
    const ports = [this.ports.apiserver, this.ports.etcdClient, this.ports.etcdPeer].filter((p) => p > 0);
    const busy = waitForPorts ? await waitPortsFree(ports, 5000) : [];
    releasePorts(ports);
    this.components = [];
    this.ports = { apiserver: 0, etcdClient: 0, etcdPeer: 0 };
    if (busy.length) throw new Error(`ports still in use after stop: ${busy.join(', ')}`);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.client?.close();
      try {
        await this.stopComponents();
      } finally {
        // The watchdog removes a temp state dir once everything is gone; wait for it, then make sure.
        await this.watchdog?.close();
        if (this.tempStateDir && this.stateDir) await rm(this.stateDir, { recursive: true, force: true });
        else if (this.kubeconfigPath) await rm(this.kubeconfigPath, { force: true }); // it names ports no longer served
        unregisterLive(this);
      }
    })();
    return this.stopping;
  }

  killSync(): void {
    for (const c of this.components) signalGroup(c.pid, 'SIGTERM');
    // The watchdog sees its pipe close when this process is gone and escalates to SIGKILL.
  }
}

/** Start etcd + kube-apiserver (+ kube-controller-manager) on loopback; resolves once ready. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const cp = new LocalControlPlane(opts);
  await cp.start();
  return cp;
}
