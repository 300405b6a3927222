// Shared set-up of the class journeys: the real apiserver of the test run, a namespace and a private system
// namespace, the built-in classes as `connectors up` installs them (local mode: pointed at this file's
// in-process proxy), the controller, the proxy, and `connectors render` (the CSI driver's own publish path,
// run as the CLI) for the files a Pod would mount.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cluster, type Cluster, objects, eventually, runCommand } from '@connectors/test-support';
import { startProxy, type RunningProxy } from '../../proxy/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { KindClient } from '../../core/kube/resources.ts';
import { FEATURE_FLAGS_CONFIGMAP, LABELS, type Connector, type Condition } from '../../core/api/index.ts';
import { setLogSink } from '../../core/observability/log.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** A client process a test ran: what it was handed and what it printed. */
export interface ClientRun {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  output: string;
}

export interface ClassEnv {
  c: Cluster;
  ns: string;
  systemNs: string;
  proxy: RunningProxy;
  controller: RunningController;
  /** Every log line of the in-process components (proxy, controller) so far. */
  logs: string[];
  /** Output of every `connectors render` run so far. */
  cliOutput: string[];
  /** Every client run so far (env.run, env.record). */
  clientRuns: ClientRun[];
  /** Runs a client (fails with its output on a non-zero exit) and records its arguments, environment and output. */
  run(
    cmd: string,
    args: string[],
    o: { env: NodeJS.ProcessEnv; cwd?: string },
  ): Promise<{ stdout: string; stderr: string }>;
  /** Records a client run made by a helper (e.g. skopeo() of test/support/peers/registry.ts). */
  record(run: ClientRun): void;
  dir: string;
  apply(yaml: string): Promise<void>;
  connector(name: string): Promise<Connector>;
  /** Waits until the Connector's conditions match, e.g. {Ready: 'True'} or {AuthReady: ['False', 'AuthenticationFailed']}. */
  waitConditions(name: string, want: Record<string, string | [string, string]>, timeoutMs?: number): Promise<Connector>;
  /** `connectors render` of a Connector's configuration(s) for the namespace's ServiceAccount `sa`: the directory. */
  render(connector: string, configurations: string, sa?: string): Promise<string>;
  /** Every file of a rendered directory, name → content. */
  files(dir: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface ClassEnvOptions {
  classes: string[];
  /** A CA the proxy (upstream TLS) and the controller (probes, as a global CA Secret) trust: for TLS stand-ins. */
  trustCaPem?: string;
}

export async function classEnv(prefix: string, o: ClassEnvOptions): Promise<ClassEnv> {
  const c = await cluster();
  const ns = await c.createNamespace(prefix);
  const systemNs = await c.createNamespace(`${prefix}-sys`);
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const logs: string[] = [];
  const cliOutput: string[] = [];
  const clientRuns: ClientRun[] = [];
  const restoreLogs = setLogSink((l) => logs.push(l));
  if (o.trustCaPem) {
    await c.kubectl(['apply', '-n', systemNs, '-f', '-'], {
      input: `${objects.yaml(objects.caCertSecret('stand-in-ca', o.trustCaPem, { labels: { [LABELS.caCert]: 'true' } }))}---
apiVersion: v1
kind: ConfigMap
metadata: {name: ${FEATURE_FLAGS_CONFIGMAP}}
data: {enable-custom-ca-certs: "true"}
`,
    });
  }
  const proxy = await startProxy(c.kubeConfig, {
    host: '127.0.0.1',
    port: 0,
    systemNamespace: systemNs,
    ...(o.trustCaPem ? { upstream: { caPem: o.trustCaPem } } : {}),
  });
  const controller = await startController(c.kubeConfig, {
    systemNamespace: systemNs,
    leaderElect: false,
    probePeriodMs: 60_000,
  });
  const classes = new KindClient(c.kubeConfig, 'ConnectorClass');
  const previous = new Map<string, unknown>();
  for (const cls of builtinClasses({ systemNamespace: systemNs, proxyAddress: proxy.url, names: o.classes })) {
    previous.set(cls.metadata.name!, await classes.get(cls.metadata.name!).catch(() => undefined));
    await c.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=class-tests', '-f', '-'], {
      input: JSON.stringify(cls),
    });
  }
  await c.kubectl(['apply', '-n', ns, '-f', '-'], {
    input: objects.yaml(
      objects.connectorReader({ name: 'default-uses-connectors', serviceAccount: 'default', saNamespace: ns }),
    ),
  });
  const connectors = new KindClient(c.kubeConfig, 'Connector');
  const env: ClassEnv = {
    c,
    ns,
    systemNs,
    proxy,
    controller,
    logs,
    cliOutput,
    clientRuns,
    async run(cmd, args, ro) {
      try {
        const r = await runCommand(cmd, args, ro);
        clientRuns.push({ cmd, args, env: ro.env, output: r.stdout + r.stderr });
        return r;
      } catch (err) {
        clientRuns.push({ cmd, args, env: ro.env, output: (err as Error).message });
        throw err;
      }
    },
    record: (r) => void clientRuns.push(r),
    dir,
    apply: async (yaml) => void (await c.kubectl(['apply', '-n', ns, '-f', '-'], { input: yaml })),
    connector: (name) => connectors.get(name, ns),
    async waitConditions(name, want, timeoutMs = 60_000) {
      let last: Connector | undefined;
      const matches = (conds: Condition[]) =>
        Object.entries(want).every(([type, w]) => {
          const cond = conds.find((x) => x.type === type);
          const [status, reason] = Array.isArray(w) ? w : [w, undefined];
          return cond?.status === status && (reason === undefined || cond.reason === reason);
        });
      try {
        return await eventually(
          `connector ${name} ${JSON.stringify(want)}`,
          async () => {
            last = await connectors.get(name, ns);
            return matches(last.status?.conditions ?? []) ? last : undefined;
          },
          timeoutMs,
          200,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\nlast conditions: ${JSON.stringify(last?.status?.conditions)}`, {
          cause: err,
        });
      }
    },
    async render(connector, configurations, sa = 'default') {
      const out = await mkdtemp(join(dir, 'render-'));
      const args = [
        join(ROOT, 'cli/connectors.js'),
        'render',
        '--kubeconfig',
        c.kubeconfigPath,
        '--connector',
        connector.includes('/') ? connector : `${ns}/${connector}`,
        '--configuration',
        configurations,
        '--service-account',
        sa,
        '--proxy-url',
        proxy.url,
        '--out',
        out,
      ];
      const { code, output } = await new Promise<{ code: number | null; output: string }>((done, fail) => {
        const child = spawn(process.execPath, args, {
          env: { ...process.env, CONNECTORS_SYSTEM_NAMESPACE: systemNs },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const chunks: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => chunks.push(d));
        child.stderr.on('data', (d: Buffer) => chunks.push(d));
        child.on('error', fail);
        child.on('close', (code) => done({ code, output: Buffer.concat(chunks).toString() }));
      });
      cliOutput.push(output);
      if (code !== 0) throw new Error(`connectors render exited ${code}: ${output}`);
      return out;
    },
    async files(d) {
      const out: Record<string, string> = {};
      for (const f of await readdir(d, { withFileTypes: true }))
        if (f.isFile() || f.isSymbolicLink()) out[f.name] = await readFile(join(d, f.name), 'utf8').catch(() => '');
      return out;
    },
    async stop() {
      await controller.stop();
      await proxy.stop();
      restoreLogs();
      for (const [name, prev] of previous) {
        if (prev)
          await c
            .kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=class-tests', '-f', '-'], {
              input: JSON.stringify({ ...prev, metadata: { name }, status: undefined }),
            })
            .catch(() => {});
        else await classes.delete(name).catch(() => {});
      }
      await c.deleteNamespace(ns);
      await c.deleteNamespace(systemNs);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * Every place a secret must never appear: log lines of the components, `connectors render` output, every file
 * under `dirs` (rendered volumes, client homes), the arguments, environment and output of every client run, and the
 * arguments of every process running on the machine. Returns the places it does.
 */
export async function leaksOf(env: ClassEnv, secret: string, dirs: string[] = []): Promise<string[]> {
  const found: string[] = [];
  env.logs.forEach((l, i) => l.includes(secret) && found.push(`log line ${i}: ${l.slice(0, 200)}`));
  env.cliOutput.forEach((l) => l.includes(secret) && found.push(`connectors render output`));
  for (const d of dirs) for (const f of await filesUnder(d)) if ((await readFile(f)).includes(secret)) found.push(f);
  for (const r of env.clientRuns) {
    if (JSON.stringify([r.cmd, r.args]).includes(secret)) found.push(`arguments of ${r.cmd}`);
    if (JSON.stringify(r.env).includes(secret)) found.push(`environment of ${r.cmd}`);
    if (r.output.includes(secret)) found.push(`output of ${r.cmd}`);
  }
  const { stdout } = await runCommand('sh', ['-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "']);
  if (stdout.includes(secret)) found.push('arguments of a running process');
  return found;
}
