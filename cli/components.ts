// The components `connectors up` runs in one process, in start order. Each entry names the module that
// implements it and how to start it; a component whose module is not in this checkout yet is skipped,
// so later components plug in by adding one entry.
//
// The components that talk to Kubernetes (proxy, controller, webhook, CSI driver, API) share one manager
// (core/kube): one REST client, one watch per resource type for all of them (Connectors, ConnectorClasses,
// Secrets, Namespaces, the system namespace's ConfigMaps are each listed and watched once, and each object is
// held once), one feature-flag cache and one health server. Leader election there gates only the controller's
// reconcilers.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubeAccess } from '../core/kube/client.ts';
import type { Manager } from '../core/kube/manager.ts';
// Type-only imports: erased at run time, so a component whose module is absent is still skipped.
import type * as ProxyModule from '../proxy/index.ts';
import type * as GitPluginModule from '../plugins/git/index.ts';
import type * as ControllerModule from '../controller/index.ts';
import type * as WebhookModule from '../webhook/index.ts';
import type * as CsiModule from '../csi/index.ts';
import type * as ApiModule from '../api/index.ts';

export interface UpContext {
  kc: KubeAccess;
  /** The manager the components share. */
  manager: Manager;
  /** Whether `up` runs its own control plane (then everything listens on 127.0.0.1). */
  embedded: boolean;
  systemNamespace: string;
  stateDir: string;
  /** Addresses published by components started earlier (e.g. the proxy's URL for the classes). */
  published: Record<string, string>;
  log: (line: string) => void;
}

export interface RunningComponent {
  /** One line for the banner, e.g. `proxy  http://127.0.0.1:41234`. */
  summary: string;
  stop(): Promise<void>;
}

export interface ComponentEntry {
  name: string;
  /** Module path relative to the repository root. */
  module: string;
  /** Starts the component from its loaded module (the namespace object `import()` returned). */
  start(mod: unknown, ctx: UpContext): Promise<RunningComponent>;
}

/** An entry whose `start` sees the module with the type of the file it names. */
function component<M>(
  name: string,
  module: string,
  start: (mod: M, ctx: UpContext) => Promise<RunningComponent>,
): ComponentEntry {
  return { name, module, start: (mod, ctx) => start(mod as M, ctx) };
}

const repoPath = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

export const COMPONENTS: ComponentEntry[] = [
  component<typeof ProxyModule>('proxy', 'proxy/index.ts', async (mod, ctx) => {
    const proxy = await mod.startProxy(ctx.manager, {
      host: ctx.embedded ? '127.0.0.1' : '0.0.0.0',
      port: ctx.embedded ? 0 : 8080,
    });
    ctx.published.proxyURL = proxy.url;
    return { summary: `proxy       ${proxy.url}`, stop: () => proxy.stop() };
  }),
  component<typeof GitPluginModule>('git-plugin', 'plugins/git/index.ts', async (mod, ctx) => {
    // Loopback only, also against a real cluster: its requests carry Connector credentials.
    const plugin = await mod.startGitPlugin({ host: '127.0.0.1', port: 0 });
    ctx.published.gitPluginURL = plugin.url;
    return { summary: `git-plugin  ${plugin.url}`, stop: () => plugin.stop() };
  }),
  component<typeof ControllerModule>('controller', 'controller/index.ts', async (mod, ctx) => {
    const controller = await mod.startController(ctx.manager, { leaderElect: !ctx.embedded });
    return { summary: `controller  reconciling ConnectorClasses and Connectors`, stop: () => controller.stop() };
  }),
  component<typeof WebhookModule>('webhook', 'webhook/index.ts', async (mod, ctx) => {
    const webhook = await mod.startWebhook(ctx.manager, {
      host: '127.0.0.1',
      port: 0,
      register: ctx.embedded,
      stateDir: ctx.stateDir,
    });
    return { summary: `webhook     ${webhook.url}`, stop: () => webhook.stop() };
  }),
  component<typeof CsiModule>('csi', 'csi/index.ts', async (mod, ctx) => {
    const csi = await mod.startCsiDriver(ctx.manager, {
      endpoint: `unix://${ctx.stateDir}/csi.sock`,
      nodeId: 'local',
      proxyURL: ctx.published.proxyURL,
    });
    return { summary: `csi         ${csi.endpoint}`, stop: () => csi.stop() };
  }),
  component<typeof ApiModule>('api', 'api/index.ts', async (mod, ctx) => {
    const api = await mod.startApi(ctx.manager, {
      host: ctx.embedded ? '127.0.0.1' : '0.0.0.0',
      port: ctx.embedded ? 0 : 8081,
    });
    ctx.published.apiURL = api.url;
    return { summary: `api         ${api.url}`, stop: () => api.stop() };
  }),
];

/** Components whose published addresses the built-in classes carry in local mode: classes are installed after them. */
export const CLASS_ADDRESS_COMPONENTS = ['proxy', 'git-plugin'];

export function availableComponents(): ComponentEntry[] {
  return COMPONENTS.filter((c) => existsSync(repoPath(c.module)));
}

export async function startComponent(entry: ComponentEntry, ctx: UpContext): Promise<RunningComponent> {
  const mod: unknown = await import(repoPath(entry.module));
  return entry.start(mod, ctx);
}
