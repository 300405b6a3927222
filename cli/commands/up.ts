// `connectors up` (what `npm start` runs): every component in one process, against KUBECONFIG if set,
// else against an embedded local control plane that it starts, prepares and stops.
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.ts';
import {
  availableComponents,
  CLASS_ADDRESS_COMPONENTS,
  startComponent,
  type RunningComponent,
  type UpContext,
} from '../components.ts';
import {
  kubeConfigFromYaml,
  loadKubeConfig,
  systemNamespace as defaultSystemNamespace,
} from '../../core/kube/config.ts';
import type { KubeAccess } from '../../core/kube/client.ts';
import type { KubeObject } from '../../core/kube/types.ts';
import { applyObjects } from '../../core/kube/apply.ts';
import { allCrds, FEATURE_FLAGS, FEATURE_FLAGS_CONFIGMAP } from '../../core/api/index.ts';
import { builtinTemplates } from '../../core/approval/templates.ts';
// Type only: the module is loaded when present (see builtinClassObjects).
import type * as ClassesModule from '../../connectorclasses/index.ts';

/**
 * Flags on by default in a local embedded cluster (a playground): the OCI quick start's secretless image pull needs
 * this Alpha flag, and there is no production traffic to protect. Against a real cluster every flag keeps
 * the documented default, off.
 */
const EMBEDDED_DEFAULT_FLAGS = ['enable-pod-image-pull-via-connector'];

function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME ? resolve(process.env.XDG_STATE_HOME) : join(homedir(), '.local', 'state');
  return join(base, 'connectors');
}

/**
 * The system namespace, the feature-flag ConfigMap (all flags off unless given) and the built-in AccessPolicy
 * templates.
 */
function systemObjects(namespace: string, flags: string[]): KubeObject[] {
  const data: Record<string, string> = {};
  for (const f of FEATURE_FLAGS) data[f] = flags.includes(f) ? 'true' : 'false';
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: FEATURE_FLAGS_CONFIGMAP, namespace },
      data,
    },
    ...builtinTemplates(namespace),
  ];
}

/** Every object of the YAML files in a deploy/ subfolder. */
async function manifests(folder: string): Promise<KubeObject[]> {
  const dir = fileURLToPath(new URL(`../../deploy/${folder}/`, import.meta.url));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  const objects: KubeObject[] = [];
  for (const f of files)
    for (const doc of parseAllDocuments(await readFile(join(dir, f), 'utf8')))
      if (doc.contents) objects.push(doc.toJSON() as KubeObject);
  return objects;
}

/** The built-in ResourceInterfaces (resourceinterfaces/*.yaml). */
async function builtinResourceInterfaceObjects(): Promise<KubeObject[]> {
  const { builtinResourceInterfaces } = await import('../../resourceinterfaces/index.ts');
  return builtinResourceInterfaces();
}

async function builtinClassObjects(
  systemNamespace: string,
  local?: { proxyAddress?: string; gitPluginAddress?: string },
): Promise<KubeObject[]> {
  const modulePath = fileURLToPath(new URL('../../connectorclasses/index.ts', import.meta.url));
  if (!existsSync(modulePath)) return [];
  const { builtinClasses } = (await import(modulePath)) as typeof ClassesModule;
  return builtinClasses({
    systemNamespace,
    proxyAddress: local?.proxyAddress,
    pluginAddresses: local?.gitPluginAddress ? { 'connectors-git-plugin': local.gitPluginAddress } : undefined,
  });
}

export const command: Command = {
  name: 'up',
  summary:
    'Run every Connectors component in this process. With KUBECONFIG set, against that cluster; ' +
    'otherwise against an embedded local control plane (etcd + kube-apiserver on 127.0.0.1) ' +
    'that it starts with the CRDs and built-in ConnectorClasses installed.',
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description:
        'Embedded mode: where to write the admin kubeconfig once everything is ready (default: STATE_DIR/kubeconfig).',
    },
    'state-dir': {
      type: 'string',
      valueName: 'DIR',
      description: `Embedded mode: where the control plane keeps its data, PKI and logs (default: ${defaultStateDir()}).`,
    },
    'enable-feature': {
      type: 'string',
      multiple: true,
      valueName: 'FLAG',
      description: `Embedded mode: turn a feature flag on (repeatable): ${FEATURE_FLAGS.join(', ')}.`,
    },
    'disable-feature': {
      type: 'string',
      multiple: true,
      valueName: 'FLAG',
      description: `Embedded mode: turn a feature flag off (repeatable). On by default in embedded mode: ${EMBEDDED_DEFAULT_FLAGS.join(', ')}.`,
    },
    install: {
      type: 'boolean',
      description:
        'With KUBECONFIG: also install the CRDs, the built-in ConnectorClasses, the ResourceInterfaces ' +
        'and the built-in AccessPolicy templates into that cluster.',
    },
  },
  details: `Components started: ${
    availableComponents()
      .map((c) => c.name)
      .join(', ') || '(none yet)'
  }.
Stop with Ctrl-C (SIGINT) or SIGTERM; everything started is stopped, including the control plane.`,
  async run(values) {
    const log = (line: string) => process.stderr.write(`connectors up: ${line}\n`);
    const stateDir = resolve((values['state-dir'] as string | undefined) ?? defaultStateDir());
    const enable = (values['enable-feature'] as string[] | undefined) ?? [];
    const disable = (values['disable-feature'] as string[] | undefined) ?? [];
    const unknown = [...enable, ...disable].filter((f) => !(FEATURE_FLAGS as readonly string[]).includes(f));
    const flags = [...new Set([...EMBEDDED_DEFAULT_FLAGS, ...enable])].filter((f) => !disable.includes(f));
    if (unknown.length)
      throw new Error(`unknown feature flag(s): ${unknown.join(', ')}; known: ${FEATURE_FLAGS.join(', ')}`);
    const embedded = !process.env.KUBECONFIG;
    const stops: Array<() => Promise<void>> = [];
    let stopping: Promise<void> | undefined;
    const stopAll = () =>
      (stopping ??= (async () => {
        for (const stop of stops.reverse()) {
          try {
            await stop();
          } catch (err) {
            log(`while stopping: ${(err as Error).message}`);
          }
        }
      })());
    // Keeps the process alive while only signal handlers remain (e.g. no component listens yet).
    const keepAlive = setInterval(() => {}, 1 << 30);
    const done = new Promise<void>((resolveDone) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          log(`${signal}: stopping`);
          void stopAll().then(() => {
            clearInterval(keepAlive);
            resolveDone();
          });
        });
      }
    });

    try {
      let kc: KubeAccess;
      let kubeconfigOut: string | undefined;
      let kubeconfigYaml = '';
      const systemNamespace = defaultSystemNamespace();
      if (embedded) {
        await mkdir(stateDir, { recursive: true });
        const { startControlPlane } = await import('../../controlplane/index.ts');
        log(`starting the embedded control plane in ${stateDir}`);
        const cp = await startControlPlane({
          stateDir: join(stateDir, 'controlplane'),
          controllerManager: true,
          log,
          handleSignals: false,
        });
        stops.push(() => cp.stop());
        kc = kubeConfigFromYaml(cp.kubeconfigYaml);
        kubeconfigYaml = cp.kubeconfigYaml;
        kubeconfigOut = resolve((values.kubeconfig as string | undefined) ?? join(stateDir, 'kubeconfig'));
        log(`control plane ready at ${cp.server} in ${(cp.readyMs / 1000).toFixed(1)}s`);
        const interfaces = await builtinResourceInterfaceObjects();
        await applyObjects(kc, [...systemObjects(systemNamespace, flags), ...(await manifests('rbac')), ...interfaces]);
        log(
          `installed ${interfaces.length} ResourceInterface(s): ${interfaces.map((r) => r.metadata?.name).join(', ')}`,
        );
      } else {
        kc = loadKubeConfig();
        log(`using the cluster of KUBECONFIG (${kc.getCurrentCluster()?.server})`);
        if (values.install) {
          await applyObjects(kc, [
            ...(allCrds() as KubeObject[]),
            ...(await manifests('rbac')),
            ...builtinTemplates(systemNamespace),
          ]);
          // After the CRDs: a ResourceInterface needs its CRD established.
          const interfaces = await builtinResourceInterfaceObjects();
          await applyObjects(kc, interfaces);
          log(
            `installed ${interfaces.length} ResourceInterface(s): ${interfaces.map((r) => r.metadata?.name).join(', ')}`,
          );
        }
      }

      const { Manager } = await import('../../core/kube/manager.ts');
      const { createLogger } = await import('../../core/observability/log.ts');
      const manager = new Manager(kc, {
        systemNamespace,
        log: createLogger('manager'),
        health: { port: 0, host: '127.0.0.1' },
      });
      stops.push(() => manager.stop()); // after the components (stops run in reverse)
      const ctx: UpContext = { kc, manager, embedded, systemNamespace, stateDir, published: {}, log };
      const running: RunningComponent[] = [];
      let classesInstalled = false;
      const installClasses = async () => {
        if (classesInstalled || !(embedded || values.install)) return;
        classesInstalled = true;
        const classes = await builtinClassObjects(
          systemNamespace,
          embedded ? { proxyAddress: ctx.published.proxyURL, gitPluginAddress: ctx.published.gitPluginURL } : undefined,
        );
        await applyObjects(kc, classes);
        log(
          `installed ${classes.length} built-in ConnectorClass(es): ${classes.map((c) => c.metadata?.name).join(', ')}`,
        );
      };
      const components = availableComponents();
      const classInputs = components.filter((c) => CLASS_ADDRESS_COMPONENTS.includes(c.name)).map((c) => c.name);
      for (const entry of components) {
        const component = await startComponent(entry, ctx);
        stops.push(() => component.stop());
        running.push(component);
        // The classes point at the proxy and the class API plugins: installed once their addresses are known.
        if (entry.name === classInputs[classInputs.length - 1]) await installClasses();
      }
      await installClasses();

      if (kubeconfigOut) {
        await mkdir(dirname(kubeconfigOut), { recursive: true });
        await writeFile(kubeconfigOut, kubeconfigYaml, { mode: 0o600 });
        await chmod(kubeconfigOut, 0o600);
      }
      const lines = ['', 'Connectors is running.', ...running.map((r) => '  ' + r.summary)];
      if (kubeconfigOut) {
        lines.push(
          '',
          `Admin kubeconfig: ${kubeconfigOut}`,
          `  export KUBECONFIG=${kubeconfigOut}`,
          '  kubectl get connectorclasses',
          '  kubectl get connectors -A',
        );
      }
      lines.push('', 'Stop with Ctrl-C.', '');
      process.stdout.write(lines.join('\n'));
      await done;
      return 0;
    } catch (err) {
      await stopAll();
      clearInterval(keepAlive);
      throw err;
    }
  },
};
