// Shared set-up for the class journeys: the real apiserver, a private system namespace, the real controller and
// proxy in-process, the built-in classes as `connectors up` installs them (local mode: the in-process proxy's
// address), and helpers to render a workload's files with the CSI driver's own NodePublishVolume (what
// `connectors render` runs), to run real clients with nothing but those files, and to check that a secret appears
// in no file, environment, argument or log line.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  cluster,
  type Cluster,
  eventually,
  objects,
  runCommand,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  installClasses,
} from '@connectors/test-support';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../proxy/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { KindClient } from '../../core/kube/resources.ts';
import { FEATURE_FLAGS_CONFIGMAP, PROXY_AUDIENCE, type Connector } from '../../core/api/index.ts';
import { startLocalNode } from '../../csi/index.ts';
import { setLogSink } from '../../core/observability/log.ts';

export interface ClientRun {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  stdout: string;
  stderr: string;
}

export interface Rendered {
  dir: string;
  /** The Pod's ServiceAccount token the files carry. */
  token: string;
  file(name: string): Promise<string>;
}

export interface ClassEnv {
  c: Cluster;
  ns: string;
  systemNs: string;
  proxy: RunningProxy;
  controller: RunningController;
  /** Log lines of the proxy and controller. */
  logs: string[];
  work: string;
  /** Every client run, with its arguments, environment and output. */
  runs: ClientRun[];
  apply(yaml: string, namespace?: string): Promise<void>;
  setFlag(flag: string, on: boolean): Promise<void>;
  /** A ServiceAccount of the test namespace allowed to `get` the given Connectors (what the proxy checks). */
  workload(name: string, connectors: string[]): Promise<void>;
  /** Waits for the Connector's Ready condition to be `status` (default True) and returns the Connector. */
  ready(name: string, status?: 'True' | 'False'): Promise<Connector>;
  condition(name: string, type: string): Promise<{ status: string; reason?: string; message?: string } | undefined>;
  /** The files of a CSI volume for the ServiceAccount, as `connectors render` writes them. */
  render(o: {
    connectors: string[];
    configuration: string;
    params?: object;
    serviceAccount: string;
  }): Promise<Rendered>;
  /** Runs a client; fails with its output on a non-zero exit. */
  run(cmd: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<ClientRun>;
  /** Fails if `secret` is in any file under `dirs`, any client's arguments, environment or output, or any log line. */
  expectNowhere(secret: string, dirs: string[]): Promise<void>;
  stop(): Promise<void>;
}

export function randomSecret(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex')}`;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

export async function setupClasses(
  prefix: string,
  o: {
    classes: string[];
    proxy?: ProxyOptions;
    flags?: string[];
    /** Addresses of in-process class API plugins by Service name (as `connectors up` passes them). */
    pluginAddresses?: Record<string, string>;
  },
): Promise<ClassEnv> {
  await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
  const c = await cluster();
  const ns = await c.createNamespace(prefix);
  const systemNs = await c.createNamespace(`${prefix}-sys`);
  const work = await mkdtemp(join(tmpdir(), `connectors-${prefix}-`));
  const logs: string[] = [];
  const restoreLogs = setLogSink((line) => logs.push(line));
  const apply = async (yaml: string, namespace = ns) => {
    await c.kubectl(['apply', '-n', namespace, '-f', '-'], { input: yaml });
  };
  // Server-side apply with a field manager per flag: each call owns its own key, so setting a second flag keeps
  // the first (a client-side apply of a one-key ConfigMap would remove the keys of the previous apply).
  const setFlag = async (flag: string, on: boolean) => {
    await c.kubectl(
      ['apply', '--server-side', '--force-conflicts', `--field-manager=flag-${flag}`, '-n', systemNs, '-f', '-'],
      {
        input: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${FEATURE_FLAGS_CONFIGMAP}}\ndata:\n  ${flag}: "${on}"\n`,
      },
    );
  };
  for (const f of o.flags ?? []) await setFlag(f, true);
  const proxy = await startProxy(c.kubeConfig, { host: '127.0.0.1', port: 0, systemNamespace: systemNs, ...o.proxy });
  const controller = await startController(c.kubeConfig, {
    systemNamespace: systemNs,
    leaderElect: false,
    probePeriodMs: 60_000,
  });
  const installed = await installClasses(
    c,
    'class-test',
    builtinClasses({
      systemNamespace: systemNs,
      proxyAddress: proxy.url,
      pluginAddresses: o.pluginAddresses,
      names: o.classes,
    }),
  );
  const connectors = new KindClient(c.kubeConfig, 'Connector');
  const local = await startLocalNode(c.kubeConfig, { proxyURL: proxy.url, systemNamespace: systemNs });
  const { node } = local;
  const kubeRest = local.manager.client;
  await local.synced;
  const runs: ClientRun[] = [];
  const condition = async (name: string, type: string) =>
    (await connectors.get(name, ns)).status?.conditions?.find((x) => x.type === type);
  let renders = 0;
  return {
    c,
    ns,
    systemNs,
    proxy,
    controller,
    logs,
    work,
    runs,
    apply,
    setFlag,
    async workload(name, names) {
      await c.createServiceAccount(ns, name).catch(() => {});
      await apply(
        objects.yaml(
          objects.connectorReader({ name: `${name}-get`, serviceAccount: name, saNamespace: ns, resourceNames: names }),
        ),
      );
    },
    condition,
    async ready(name, status = 'True') {
      try {
        await eventually(
          `Connector ${name} Ready=${status}`,
          async () => (await condition(name, 'Ready'))?.status === status,
          90_000,
          200,
        );
      } catch (err) {
        const conds = (await connectors.get(name, ns).catch(() => undefined))?.status?.conditions;
        throw new Error(`${(err as Error).message}; conditions: ${JSON.stringify(conds)}`, { cause: err });
      }
      return connectors.get(name, ns);
    },
    async render(r) {
      // What `connectors render` does (cli/commands/render.ts), in-process: the driver's own NodeServer publishes
      // the volume into a directory with a token minted for the ServiceAccount. In-process to spare a Node.js
      // start per volume; fixture.ts (github, gitlab, harbor, oci, sonarqube) runs the command itself.
      const dir = join(work, `render-${++renders}`);
      const review = await kubeRest.call<{ status: { token: string; expirationTimestamp: string } }>(
        'POST',
        `/api/v1/namespaces/${ns}/serviceaccounts/${r.serviceAccount}/token`,
        {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { audiences: [PROXY_AUDIENCE], expirationSeconds: 1800 },
          },
        },
      );
      const context: Record<string, string> = {
        'csi.storage.k8s.io/ephemeral': 'true',
        'csi.storage.k8s.io/pod.namespace': ns,
        'csi.storage.k8s.io/pod.name': 'connectors-render',
        'csi.storage.k8s.io/pod.uid': 'connectors-render',
        'csi.storage.k8s.io/serviceAccount.name': r.serviceAccount,
        'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({ [PROXY_AUDIENCE]: review.status }),
        connectors: r.connectors.map((n) => `${ns}/${n}`).join(','),
        'configuration.names': r.configuration,
      };
      if (r.params) context['configuration.params'] = JSON.stringify(r.params);
      await node.nodePublishVolume({
        volume_id: `render-${renders}`,
        target_path: dir,
        staging_target_path: '',
        volume_capability: {
          access_type: 'mount',
          mount: { fs_type: '', mount_flags: [], volume_mount_group: '' },
          block: null,
          access_mode: null,
        },
        readonly: true,
        secrets: {},
        volume_context: context,
        publish_context: {},
      });
      const token = await readFile(join(dir, 'context.token'), 'utf8');
      return { dir, token, file: (name) => readFile(join(dir, name), 'utf8') };
    },
    async run(cmd, args, ro) {
      try {
        const { stdout, stderr } = await runCommand(cmd, args, ro);
        const r = { cmd, args, env: ro.env, stdout, stderr };
        runs.push(r);
        return r;
      } catch (err) {
        runs.push({ cmd, args, env: ro.env, stdout: '', stderr: (err as Error).message });
        throw err;
      }
    },
    async expectNowhere(secret, dirs) {
      for (const d of dirs)
        for (const f of await filesUnder(d))
          expect((await readFile(f)).includes(secret), `the secret is in ${f}`).to.equal(false);
      for (const r of runs) {
        expect(JSON.stringify([r.cmd, r.args]), `the secret is in the arguments of ${r.cmd}`).to.not.include(secret);
        expect(JSON.stringify(r.env), `the secret is in the environment of ${r.cmd}`).to.not.include(secret);
        expect(r.stdout + r.stderr, `the secret is in the output of ${r.cmd}`).to.not.include(secret);
      }
      // Any process still running on the machine (the clients have exited; the peers hold the secret only in files).
      const { stdout } = await runCommand('sh', ['-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "']);
      expect(stdout.includes(secret), 'the secret is in a process argument').to.equal(false);
      expect(logs.join('\n'), 'the secret is in a log line').to.not.include(secret);
    },
    async stop() {
      await local.stop();
      restoreLogs();
      await controller.stop();
      await proxy.stop();
      await installed.restore();
      await c.deleteNamespace(ns);
      await c.deleteNamespace(systemNs);
      await rm(work, { recursive: true, force: true });
    },
  };
}

/**
 * The identity Connectors of the k8s class lend, against the test apiserver: Role `list-pods` (get and list Pods)
 * bound to ServiceAccount `pod-lister` of `ns`, and the apiserver's CA as Secret `apiserver-ca` for their
 * caCertSecretRef.
 */
export function podListerYaml(ns: string, apiserverCaPem: string): string {
  return objects.yaml(
    objects.role('list-pods', [objects.rule('', ['pods'], ['get', 'list'])]),
    objects.roleBinding('pod-lister-lists', 'list-pods', [objects.serviceAccountSubject('pod-lister', ns)]),
    objects.caCertSecret('apiserver-ca', apiserverCaPem),
  );
}

/** A basic-auth Secret and a Connector of `className` using it (no Secret when `data` is undefined). */
export function connectorYaml(o: {
  name: string;
  className: string;
  address: string;
  authName?: string;
  secretType?: string;
  data?: Record<string, string>;
  params?: Record<string, string>;
  /** spec.auth.params, e.g. the git class's repository. */
  authParams?: Record<string, string>;
  caSecret?: string;
}): string {
  const secretName = `${o.name}-auth`;
  return objects.yaml(
    o.data
      ? [objects.secret(secretName, { type: o.secretType ?? objects.SECRET_TYPES.basicAuth, stringData: o.data })]
      : [],
    objects.connector(o.name, {
      className: o.className,
      address: o.address,
      auth: o.authName
        ? { name: o.authName, secret: o.data ? secretName : undefined, params: o.authParams }
        : undefined,
      params: o.params,
      caSecret: o.caSecret,
    }),
  );
}

/** Writes `text` to `dir/name` and returns the path. */
export async function writeIn(dir: string, name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}
