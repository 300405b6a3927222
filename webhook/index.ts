// The Connectors admission webhooks in one process: the Pod/TaskRun mutating webhook and the
// Connector/ConnectorClass validating webhook, served over HTTPS with a rotated project-made certificate.
//
//   const wh = await startWebhook(kc, { host: '127.0.0.1', port: 0, register: true, stateDir });
//   const wh = await startWebhook(mgr, { ... });    // on a shared manager (connectors up)
//   ... wh.url ...
//   await wh.stop();   // also removes the registration it made
//
// Its caches (Connectors, ConnectorClasses, Namespaces, the feature flags) are the manager's; /readyz is
// ready once they have synced and the HTTPS server listens.
import { isIP } from 'node:net';
import type { KubeAccess } from '../core/kube/client.ts';
import type { FeatureFlags } from '../core/kube/featureflags.ts';
import { componentManager, Manager } from '../core/kube/manager.ts';
import { createLogger, type Logger } from '../core/observability/log.ts';
import { CertManager, type ServingMaterial } from './certs.ts';
import { FileCertificates } from './certfiles.ts';
import { handlers } from './handlers.ts';
import type { Limits, SandboxWait } from '../core/resourceinterface/expression.ts';
import { clusterLookups } from './lookups.ts';
import {
  DEFAULT_CONFIG_NAME,
  registerConfigurations,
  unregisterConfigurations,
  webhookConfigurations,
  type ClientConfigTarget,
  type LabelSelectorRequirement,
} from './register.ts';
import { startAdmissionServer } from './server.ts';

export { webhookConfigurations, deployManifests } from './register.ts';
export { rewriteImage } from './mutate/image.ts';
export { podPatch, podDecision } from './mutate/pod.ts';

export interface WebhookOptions {
  host?: string;
  port?: number;
  /** Register url-based webhook configurations pointing at this process (local mode); removed on stop. */
  register?: boolean;
  /** In a cluster: the Service in front of this process; the configurations are applied with a service
   * clientConfig and the caBundle kept current (the deploy/webhook manifests, filled in). */
  service?: { name: string; namespace: string; port?: number };
  stateDir?: string;
  /** Serve this certificate (PEM files, reloaded when they change) instead of making one. The caBundle is then
   * someone else's to publish (the Helm chart, cert-manager's CA injector); with `service`, nothing is applied. */
  certFiles?: { certFile: string; keyFile: string; pollMs?: number };
  systemNamespace?: string;
  /** Own manager only: serve /healthz, /readyz and /metrics on this port. */
  healthPort?: number;
  certValiditySeconds?: number;
  renewFraction?: number;
  /** Name of the configuration objects (default connectors-webhook). */
  configName?: string;
  namespaceRequirements?: LabelSelectorRequirement[];
  objectRequirements?: LabelSelectorRequirement[];
  log?: Logger;
  onTiming?: (path: string, ms: number) => void;
  /** Limits of the ResourceInterface expression sandbox per admission request (defaults: DEFAULT_LIMITS of
   * core/resourceinterface/expression.ts, listed in resourceinterfaces/README.md). */
  expressionLimits?: Partial<Limits>;
  /** How long and how many admission requests may wait for a busy sandbox (default SANDBOX_WAIT, ibid.). */
  expressionWait?: Partial<SandboxWait>;
}

export interface RunningWebhook {
  url: string;
  port: number;
  flags: FeatureFlags;
  certificates: CertManager | FileCertificates;
  /** The PEM bundle currently published as caBundle ('' when the certificate comes from files). */
  caBundle(): string;
  stop(): Promise<void>;
}

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);

export async function startWebhook(
  kcOrManager: KubeAccess | Manager,
  opts: WebhookOptions = {},
): Promise<RunningWebhook> {
  if (opts.register && opts.certFiles)
    throw new Error('register makes its own certificate: certFiles cannot be used with it');
  const log = opts.log ?? createLogger('webhook');
  const host = opts.host ?? '127.0.0.1';
  const { mgr, shared } = componentManager(kcOrManager, {
    systemNamespace: opts.systemNamespace,
    log,
    healthPort: opts.healthPort,
    healthHost: host,
  });
  const systemNamespace = mgr.systemNamespace;
  const { client } = mgr;
  const configName = opts.configName ?? DEFAULT_CONFIG_NAME;
  const localHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const ipAddresses = [...new Set(['127.0.0.1', ...(isIP(localHost) ? [localHost] : [])])];
  const dnsNames = ['localhost', ...(isIP(localHost) ? [] : [localHost])];
  if (opts.service) {
    const { name, namespace } = opts.service;
    dnsNames.push(`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`);
  }

  const flags = mgr.flags;
  const lookups = clusterLookups(mgr);
  let serving = false;
  mgr.addReadyCheck('webhook', () => serving || 'the admission server is not listening yet');
  await mgr.start();
  const cleanups: Array<() => Promise<void> | void> = [shared ? () => lookups.stop() : () => mgr.stop()];
  let port: number;
  let target: ClientConfigTarget | undefined;
  const publish = async (m: ServingMaterial) => {
    if (!target) return;
    await registerConfigurations(
      client,
      webhookConfigurations({
        systemNamespace,
        target,
        caBundlePem: m.caBundle,
        name: configName,
        namespaceRequirements: opts.namespaceRequirements,
        objectRequirements: opts.objectRequirements,
      }),
    );
  };
  let server: Awaited<ReturnType<typeof startAdmissionServer>> | undefined;
  const ownCertificates = new CertManager({
    dnsNames,
    ipAddresses,
    validitySeconds: opts.certValiditySeconds,
    renewFraction: opts.renewFraction,
    stateDir: opts.stateDir,
    log,
    beforeSwap: async (m) => {
      await publish(m);
      // Give the API server a moment to load the new bundle before the certificate changes; the old CA
      // stays in the bundle, so the order only matters for the new certificate.
      if (target) await new Promise((r) => setTimeout(r, 200));
    },
    swap: (m) => server?.setCertificate(m.certPem, m.keyPem),
  });
  const certificates = opts.certFiles
    ? new FileCertificates({ ...opts.certFiles, log, swap: (m) => server?.setCertificate(m.certPem, m.keyPem) })
    : ownCertificates;
  try {
    const material = await certificates.start();
    cleanups.push(() => certificates.stop());
    await withTimeout(Promise.all([flags.synced, lookups.synced]), 15_000);
    server = await startAdmissionServer({
      host,
      port: opts.port ?? 9443,
      certPem: material.certPem,
      keyPem: material.keyPem,
      handlers: handlers({
        lookups,
        flags,
        systemNamespace,
        expressionLimits: opts.expressionLimits,
        expressionWait: opts.expressionWait,
      }),
      log,
      onTiming: opts.onTiming,
    });
    const srv = server;
    serving = true;
    cleanups.push(() => {
      serving = false;
      return srv.close();
    });
    port = server.port;
    const url = `https://${localHost.includes(':') ? `[${localHost}]` : localHost}:${port}`;
    if (opts.register) target = { url };
    else if (opts.service && !opts.certFiles) target = { service: opts.service };
    if (target) {
      await publish(material as ServingMaterial);
      if (opts.register) cleanups.push(() => unregisterConfigurations(client, configName));
    }
    log.info('webhook serving', { url, registered: Boolean(opts.register), systemNamespace });
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      flags,
      certificates,
      caBundle: () => (certificates instanceof CertManager ? certificates.current().caBundle : ''),
      stop: () =>
        (stopped ??= (async () => {
          // Unregister first, so nothing is sent to a server that is going away.
          for (const c of cleanups.reverse()) {
            try {
              await c();
            } catch (err) {
              log.warn('while stopping', { error: (err as Error).message });
            }
          }
        })()),
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}
