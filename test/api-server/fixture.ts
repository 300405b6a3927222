// Shared set-up for the Connectors API tests: the real apiserver of the test run, a namespace for Connectors and
// ServiceAccounts, a private system namespace (feature flags, compiled policies), the controller (class and
// Connector status), the git plugin and the API, all in this process; ServiceAccount tokens from `kubectl create
// token`, requests with curl.
import { cluster, type Cluster, eventually, runCommand, installClasses, objects } from '@connectors/test-support';
import { startApi, type ApiOptions, type RunningApi } from '../../api/index.ts';
import { startGitPlugin, type RunningGitPlugin } from '../../plugins/git/index.ts';
import { startController, type RunningController } from '../../controller/index.ts';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { setLogSink } from '../../core/observability/log.ts';
import { FEATURE_FLAGS, FEATURE_FLAGS_CONFIGMAP, GROUP } from '../../core/api/index.ts';

export interface Rule {
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  json(): any;
}

export interface CurlOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface ApiEnv {
  c: Cluster;
  ns: string;
  sys: string;
  api: RunningApi;
  plugin: RunningGitPlugin;
  controller: RunningController;
  logs: string[];
  /** kubectl apply into `namespace` (default the test namespace). */
  apply(yaml: string, namespace?: string): Promise<void>;
  /** Sets feature flags in the system namespace's connectors-config (the rest off) and waits until the API sees them. */
  setFlags(on: string[]): Promise<void>;
  /** A ServiceAccount with a Role of `rules` (group connectors.alauda.io) in the test namespace; its token from kubectl. */
  serviceAccount(name: string, rules: Rule[]): Promise<string>;
  /** A token of a ServiceAccount bound to a ClusterRole by a ClusterRoleBinding. */
  clusterServiceAccount(name: string, clusterRole: string): Promise<string>;
  /** curl against the API (path relative to its URL). */
  curl(path: string, opts?: CurlOptions): Promise<CurlResult>;
  /** The API path of a Connector of the test namespace (short form, as status.api.path). */
  path(connector: string, apiPath: string): string;
  stop(): Promise<void>;
}

/** `curl -i` against `url`: status, headers (lower-case names, last value) and body. */
export async function curl(url: string, o: CurlOptions = {}): Promise<CurlResult> {
  const method = o.method ?? 'GET';
  const args = ['-sS', '-i', '--max-time', '30', '--path-as-is'];
  if (method === 'HEAD') args.push('--head');
  else if (method !== 'GET' || o.body !== undefined) args.push('-X', method);
  if (o.token !== undefined) args.push('-H', `Authorization: Bearer ${o.token}`);
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (o.body !== undefined) args.push('--data-binary', '@-');
  args.push(url);
  const { stdout } = await runCommand('curl', args, { input: o.body ?? '' });
  // A 100 Continue head may come first.
  let text = stdout;
  while (/^HTTP\/1\.1 100 /.test(text)) text = text.slice(text.indexOf('\r\n\r\n') + 4);
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const body = end === -1 ? '' : text.slice(end + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const colon = l.indexOf(':');
    if (colon > 0) headers[l.slice(0, colon).toLowerCase()] = l.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body,
    json: () => JSON.parse(body),
  };
}

/** Role `name` with the rules (on connectors.alauda.io) and its RoleBinding to ServiceAccount `name` of `saNamespace`. */
export function roleYaml(name: string, saNamespace: string, rules: Rule[]): string {
  const policyRules = rules.map((r) => objects.rule(GROUP, r.resources, r.verbs, r.resourceNames));
  return objects.yaml(objects.roleFor(name, policyRules, { serviceAccount: name, saNamespace }));
}

export async function setupApi(prefix: string, opts: ApiOptions = {}): Promise<ApiEnv> {
  const c = await cluster();
  const ns = await c.createNamespace(prefix, { waitForDefaultServiceAccount: false });
  const sys = await c.createNamespace(`${prefix}-sys`, { waitForDefaultServiceAccount: false });
  const logs: string[] = [];
  const restoreLogs = setLogSink((line) => logs.push(line));
  const plugin = await startGitPlugin({ host: '127.0.0.1', port: 0 });
  // The built-in git class as `connectors up` installs it, pointing at this test's plugin.
  const gitClass = await installClasses(
    c,
    'api-test',
    builtinClasses({ systemNamespace: sys, pluginAddresses: { 'connectors-git-plugin': plugin.url }, names: ['git'] }),
  );
  const controller = await startController(c.kubeConfig, { systemNamespace: sys, leaderElect: false, healthPort: 0 });
  await controller.synced;
  const api = await startApi(c.kubeConfig, {
    host: '127.0.0.1',
    port: 0,
    healthPort: 0,
    systemNamespace: sys,
    ...opts,
  });
  const apply = async (yaml: string, namespace = ns) => {
    await c.kubectl(['apply', '-n', namespace, '-f', '-'], { input: yaml });
  };
  const kubectlToken = async (namespace: string, sa: string) =>
    (await c.kubectl(['create', 'token', sa, '-n', namespace, '--duration', '1h'])).trim();
  let flagsReader: string | undefined;
  const env: ApiEnv = {
    c,
    ns,
    sys,
    api,
    plugin,
    controller,
    logs,
    apply,
    async setFlags(on) {
      const data = FEATURE_FLAGS.map((f) => `  ${f}: "${on.includes(f)}"`).join('\n');
      await apply(
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${FEATURE_FLAGS_CONFIGMAP}}\ndata:\n${data}\n`,
        sys,
      );
      const admin = (flagsReader ??= await env.clusterServiceAccount('flags-reader', 'cluster-admin'));
      await eventually(
        `the API to see flags ${on.join(', ') || '(none)'}`,
        async () => {
          const flags = (await curl(`${api.url}/connectors-operator/featureflags`, { token: admin })).json();
          return FEATURE_FLAGS.every((f) => flags[f] === String(on.includes(f)));
        },
        20_000,
        50,
      );
    },
    async serviceAccount(name, rules) {
      await c.kubectl(['create', 'serviceaccount', name, '-n', ns]).catch((err) => {
        if (!/already exists/.test(err.message)) throw err;
      });
      if (rules.length) await apply(roleYaml(name, ns, rules));
      api.clearAuthCache();
      return kubectlToken(ns, name);
    },
    async clusterServiceAccount(name, clusterRole) {
      await c.kubectl(['create', 'serviceaccount', name, '-n', ns]).catch((err) => {
        if (!/already exists/.test(err.message)) throw err;
      });
      await c
        .kubectl([
          'create',
          'clusterrolebinding',
          `${ns}-${name}`,
          `--clusterrole=${clusterRole}`,
          `--serviceaccount=${ns}:${name}`,
        ])
        .catch((err) => {
          if (!/already exists/.test(err.message)) throw err;
        });
      return kubectlToken(ns, name);
    },
    curl: (path, o) => curl(api.url + path, o),
    path: (connector, apiPath) => `/connectors/v1alpha1/${ns}/${connector}/path${apiPath}`,
    async stop() {
      restoreLogs();
      await api.stop();
      await controller.stop();
      await plugin.stop();
      await gitClass.restore();
      const bindings = await c.kubectl(['get', 'clusterrolebindings', '-o', 'name']);
      for (const b of bindings
        .split('\n')
        .filter((l) => l.startsWith(`clusterrolebinding.rbac.authorization.k8s.io/${ns}-`)))
        await c.kubectl(['delete', b]);
      await c.deleteNamespace(ns);
      await c.deleteNamespace(sys);
    },
  };
  return env;
}
