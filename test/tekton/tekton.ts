// Real Tekton Pipelines (github.com/tektoncd/pipeline, pinned in core/peers) on the test control plane: its own
// CRDs, ConfigMaps and webhook configurations from the module's config/ directory, and its controller and
// webhook built from the module and run as processes on this machine.
//
// The webhook is reached on a loopback URL: Tekton's webhook (knative) serves the certificate of its Secret
// webhook-certs and only reconciles service-based webhook configurations, so this harness writes that Secret
// (a certificate for 127.0.0.1) before the webhook starts, and registers Tekton's configurations with url
// clientConfigs, the CA and the rules knative would compute; knative's reconcilers then report "missing
// service reference" and leave them alone. There is no kubelet: Pods are created by Tekton's controller and
// never run, so the controller's image flags are placeholders.
//
// Tekton binds its probes, profiling and webhook ports on every interface (its code has no host setting);
// they are free ports chosen here. Metrics go to 127.0.0.1.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request as httpsRequest } from 'node:https';
import { parseAllDocuments } from 'yaml';
import { TEKTON_PIPELINE_MODULE, TEKTON_PIPELINE_VERSION, ensureBinary, goModuleDir } from '../../core/peers/index.ts';
import { createCA, issueServingCert } from '../../core/pki/index.ts';
import { type Cluster, freePort, objects, spawnPeer, type PeerProcess } from '@connectors/test-support';

export const TEKTON_NAMESPACE = 'tekton-pipelines';
const MUTATING = 'webhook.pipeline.tekton.dev';
const VALIDATING = 'validation.webhook.pipeline.tekton.dev';
const CONFIG_VALIDATING = 'config.webhook.pipeline.tekton.dev';

/** The kinds Tekton's webhook defaults and validates (cmd/webhook/main.go `types`), with their plurals. */
const TYPES: Array<{ group: string; version: string; plural: string }> = [
  ...['verificationpolicies', 'stepactions'].map((plural) => ({ group: 'tekton.dev', version: 'v1alpha1', plural })),
  ...['pipelines', 'tasks', 'taskruns', 'pipelineruns', 'customruns', 'stepactions'].map((plural) => ({
    group: 'tekton.dev',
    version: 'v1beta1',
    plural,
  })),
  ...['tasks', 'pipelines', 'taskruns', 'pipelineruns'].map((plural) => ({
    group: 'tekton.dev',
    version: 'v1',
    plural,
  })),
  ...['v1alpha1', 'v1beta1'].map((version) => ({
    group: 'resolution.tekton.dev',
    version,
    plural: 'resolutionrequests',
  })),
];

/** Placeholder images for the controller: Pods never run here, any digest will do. */
const FAKE_DIGEST = '@sha256:' + '0'.repeat(64);
const IMAGE_FLAGS = ['entrypoint', 'nop', 'sidecarlogresults', 'workingdirinit', 'shell', 'shell-image-win'].flatMap(
  (n) => [`-${n.endsWith('-win') ? n : `${n}-image`}`, `example.invalid/tekton/${n}${FAKE_DIGEST}`],
);

export interface Tekton {
  version: string;
  /** The module directory (its config/ holds the CRDs and ConfigMaps). */
  moduleDir: string;
  webhookUrl: string;
  /** Milliseconds from the first object applied to both processes ready. */
  readyMs: number;
  controller: PeerProcess;
  webhook: PeerProcess;
  stop(): Promise<void>;
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

async function yamlObjects(file: string): Promise<K8sObject[]> {
  return parseAllDocuments(await readFile(file, 'utf8'))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => Boolean(o?.kind));
}

/** Tekton's ConfigMaps: config/config-*.yaml (defaults, feature-flags, leader election, logging, ...). */
async function configMaps(configDir: string): Promise<K8sObject[]> {
  const files = (await readdir(configDir)).filter((f) => /^config-.*\.yaml$/.test(f)).sort();
  return (await Promise.all(files.map((f) => yamlObjects(join(configDir, f)))))
    .flat()
    .filter((o) => o.kind === 'ConfigMap');
}

/** HTTPS GET against the webhook with its CA; resolves to the status (any status means it serves). */
function probeTls(url: string, caPem: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: caPem, method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(
  what: string,
  peer: PeerProcess,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (peer.child.exitCode !== null) throw new Error(`${what}: the process exited:\n${peer.output().slice(-4000)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready in ${timeoutMs} ms:\n${peer.output().slice(-4000)}`);
    await sleep(200);
  }
}

/** Applies objects with the admin kubeconfig (server-side, so re-runs converge). */
async function apply(c: Cluster, objects: unknown[]): Promise<void> {
  await c.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=tekton-harness', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    timeoutMs: 120_000,
  });
}

export async function startTekton(c: Cluster, log: (line: string) => void = () => {}): Promise<Tekton> {
  const [controllerBin, webhookBin, moduleDir] = await Promise.all([
    ensureBinary('tekton-controller'),
    ensureBinary('tekton-webhook'),
    goModuleDir(`${TEKTON_PIPELINE_MODULE}@v${TEKTON_PIPELINE_VERSION}`),
  ]);
  const started = Date.now();
  const configDir = join(moduleDir, 'config');
  const [webhookPort, ...ports] = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const webhookUrl = `https://127.0.0.1:${webhookPort}`;

  const ca = await createCA({ commonName: 'tekton-webhook-test-ca' });
  const serving = await issueServingCert(ca, {
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['localhost', `tekton-pipelines-webhook.${TEKTON_NAMESPACE}.svc`],
    validitySeconds: 7 * 86_400,
  });
  const caBundle = Buffer.from(ca.certPem).toString('base64');

  // Namespace, CRDs (conversion to the loopback webhook), ConfigMaps, the serving Secret.
  const crdFiles = (await readdir(join(configDir, '300-crds'))).filter((f) => f.endsWith('.yaml')).sort();
  const crds = (await Promise.all(crdFiles.map((f) => yamlObjects(join(configDir, '300-crds', f))))).flat();
  for (const crd of crds) {
    const conversion = (crd.spec as { conversion?: { webhook?: { clientConfig?: unknown } } }).conversion;
    if (conversion?.webhook) conversion.webhook.clientConfig = { url: `${webhookUrl}/resource-conversion`, caBundle };
  }
  await apply(c, [...(await yamlObjects(join(configDir, '100-namespace', '100-namespace.yaml'))), ...crds]);
  await c.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crds.map((o) => `crd/${o.metadata.name}`),
  ]);
  await apply(c, [
    ...(await configMaps(configDir)),
    objects.secret('webhook-certs', {
      namespace: TEKTON_NAMESPACE,
      data: {
        'server-key.pem': Buffer.from(serving.keyPem).toString('base64'),
        'server-cert.pem': Buffer.from(serving.certPem).toString('base64'),
        'ca-cert.pem': caBundle,
      },
    }),
  ]);

  const common = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    SYSTEM_NAMESPACE: TEKTON_NAMESPACE,
    KUBERNETES_MIN_VERSION: 'v1.28.0',
    CONFIG_LOGGING_NAME: 'config-logging',
    CONFIG_OBSERVABILITY_NAME: 'config-observability',
    CONFIG_FEATURE_FLAGS_NAME: 'feature-flags',
    CONFIG_DEFAULTS_NAME: 'config-defaults',
    CONFIG_SPIRE: 'config-spire',
    METRICS_DOMAIN: 'tekton.dev/pipeline',
    METRICS_PROMETHEUS_HOST: '127.0.0.1',
  };
  const [webhookProbes, webhookProfiling, webhookMetrics, controllerProbes, controllerProfiling, controllerMetrics] =
    ports;
  const webhook = spawnPeer(webhookBin, [`-kubeconfig=${c.kubeconfigPath}`], {
    env: {
      ...common,
      CONFIG_LEADERELECTION_NAME: 'config-leader-election-webhook',
      WEBHOOK_SERVICE_NAME: 'tekton-pipelines-webhook',
      WEBHOOK_SECRET_NAME: 'webhook-certs',
      WEBHOOK_PORT: String(webhookPort),
      PROBES_PORT: String(webhookProbes),
      PROFILING_PORT: String(webhookProfiling),
      METRICS_PROMETHEUS_PORT: String(webhookMetrics),
    },
  });
  const controller = spawnPeer(controllerBin, [`-kubeconfig=${c.kubeconfigPath}`, '-disable-ha', ...IMAGE_FLAGS], {
    env: {
      ...common,
      CONFIG_LEADERELECTION_NAME: 'config-leader-election-controller',
      PROBES_PORT: String(controllerProbes),
      PROFILING_PORT: String(controllerProfiling),
      METRICS_PROMETHEUS_PORT: String(controllerMetrics),
    },
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // Registrations first, so nothing is sent to a webhook that is going away; then the processes; then
      // the CRDs (their objects go with them), so later tests of this process see no Tekton at all.
      await c
        .kubectl(['delete', '--ignore-not-found', '--wait=false', `mutatingwebhookconfiguration/${MUTATING}`])
        .catch(() => {});
      await c
        .kubectl([
          'delete',
          '--ignore-not-found',
          '--wait=false',
          `validatingwebhookconfiguration/${VALIDATING}`,
          `validatingwebhookconfiguration/${CONFIG_VALIDATING}`,
        ])
        .catch(() => {});
      await Promise.all([controller.stop(), webhook.stop()]);
      await c
        .kubectl(['delete', '--ignore-not-found', '--timeout=120s', ...crds.map((o) => `crd/${o.metadata.name}`)], {
          timeoutMs: 150_000,
        })
        .catch((err) => log(`deleting Tekton CRDs: ${(err as Error).message}`));
    })());

  try {
    await waitFor('Tekton webhook', webhook, async () => (await probeTls(`${webhookUrl}/`, ca.certPem)) > 0, 120_000);
    // Tekton's own configurations (config/500-webhooks.yaml), pointed at the loopback URL, with the rules
    // knative would compute for the kinds above.
    const configs = (await yamlObjects(join(configDir, '500-webhooks.yaml'))).filter((o) => o.kind !== 'Secret');
    for (const cfg of configs) {
      const hooks = cfg.webhooks as Array<Record<string, unknown>>;
      for (const h of hooks) {
        h.timeoutSeconds = 10;
        h.matchPolicy = 'Equivalent';
        if (cfg.metadata.name === MUTATING) {
          h.clientConfig = { url: `${webhookUrl}/defaulting`, caBundle };
          h.reinvocationPolicy = 'IfNeeded';
          h.rules = TYPES.map((t) => ({
            apiGroups: [t.group],
            apiVersions: [t.version],
            operations: ['CREATE', 'UPDATE'],
            resources: [t.plural, `${t.plural}/status`],
          }));
          h.namespaceSelector = {
            matchExpressions: [{ key: 'webhooks.knative.dev/exclude', operator: 'DoesNotExist' }],
          };
        } else if (cfg.metadata.name === VALIDATING) {
          h.clientConfig = { url: `${webhookUrl}/resource-validation`, caBundle };
          h.rules = TYPES.map((t) => ({
            apiGroups: [t.group],
            apiVersions: [t.version],
            operations: ['CREATE', 'UPDATE', 'DELETE'],
            resources: [t.plural, `${t.plural}/status`],
          }));
          h.namespaceSelector = {
            matchExpressions: [{ key: 'webhooks.knative.dev/exclude', operator: 'DoesNotExist' }],
          };
        } else if (cfg.metadata.name === CONFIG_VALIDATING) {
          h.clientConfig = { url: `${webhookUrl}/config-validation`, caBundle };
          h.rules = [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['configmaps/*'],
              scope: 'Namespaced',
            },
          ];
          h.namespaceSelector = {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [TEKTON_NAMESPACE] }],
          };
        }
      }
    }
    await apply(c, configs);
    await waitFor(
      'Tekton controller',
      controller,
      async () => (await fetch(`http://127.0.0.1:${controllerProbes}/readiness`)).status === 200,
      120_000,
    );
    log(`Tekton ${TEKTON_PIPELINE_VERSION} ready in ${Date.now() - started} ms (webhook ${webhookUrl})`);
    return {
      version: TEKTON_PIPELINE_VERSION,
      moduleDir,
      webhookUrl,
      readyMs: Date.now() - started,
      controller,
      webhook,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
