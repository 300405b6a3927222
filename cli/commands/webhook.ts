import { stringify } from 'yaml';
import type { Command } from '../command.ts';
import { loadKubeConfig, systemNamespace } from '../../core/kube/config.ts';

export const command: Command = {
  name: 'webhook',
  summary:
    'Run the admission webhooks: Pod image rewrite and TaskRun workspaces (mutating), Connector and ConnectorClass checks (validating).',
  details: `The serving certificate is made and rotated by the webhook itself (30 days, renewed at 2/3).
With --register, it installs MutatingWebhookConfiguration and ValidatingWebhookConfiguration
"connectors-webhook" pointing at https://127.0.0.1:PORT (local mode) and removes them on exit.
With --service NAME, it keeps the caBundle of the deployed configurations (deploy/webhook) current,
unless --tls-cert-file/--tls-key-file give the certificate (then the chart or cert-manager sets caBundle).
--print-manifests prints the deploy/webhook manifests and exits. See docs/webhook.md.`,
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description: 'Kubeconfig to use (default: KUBECONFIG, in-cluster, ~/.kube/config).',
    },
    host: { type: 'string', valueName: 'ADDR', default: '127.0.0.1', description: 'Address to listen on.' },
    port: { type: 'string', valueName: 'PORT', default: '9443', description: 'HTTPS port (0 = any free port).' },
    register: {
      type: 'boolean',
      description: 'Register url-based webhook configurations for this process; removed on exit.',
    },
    service: {
      type: 'string',
      valueName: 'NAME',
      description:
        'In a cluster: the Service in front of this webhook (in the system namespace); keeps the caBundle current.',
    },
    'state-dir': {
      type: 'string',
      valueName: 'DIR',
      description: 'Keep the serving certificate here across restarts.',
    },
    'tls-cert-file': {
      type: 'string',
      valueName: 'PATH',
      description:
        'Serve this PEM certificate (e.g. a mounted Secret from the Helm chart or cert-manager), reloaded ' +
        'when it changes; with --tls-key-file. The caBundle is then not published by the webhook.',
    },
    'tls-key-file': { type: 'string', valueName: 'PATH', description: 'PEM private key of --tls-cert-file.' },
    'health-port': {
      type: 'string',
      valueName: 'N',
      description: 'Serve /healthz, /readyz and /metrics on this port.',
    },
    'print-manifests': {
      type: 'boolean',
      description: 'Print the deploy/webhook manifests (service clientConfig) and exit.',
    },
  },
  async run(values) {
    const ns = systemNamespace();
    if (values['print-manifests']) {
      const { deployManifests } = await import('../../webhook/register.ts');
      process.stdout.write(
        deployManifests(ns)
          .map((o) => stringify(o))
          .join('---\n'),
      );
      return 0;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error(`--port ${String(values.port)}: not a port number`);
    const healthPort = values['health-port'] === undefined ? undefined : Number(values['health-port']);
    const certFile = values['tls-cert-file'] as string | undefined;
    const keyFile = values['tls-key-file'] as string | undefined;
    if (Boolean(certFile) !== Boolean(keyFile)) throw new Error('--tls-cert-file and --tls-key-file go together');
    if (certFile && values.register) throw new Error('--register makes its own certificate: drop --tls-cert-file');
    const { startWebhook } = await import('../../webhook/index.ts');
    const kc = loadKubeConfig(values.kubeconfig as string | undefined);
    const wh = await startWebhook(kc, {
      host: values.host as string,
      port,
      register: Boolean(values.register),
      service: values.service ? { name: values.service as string, namespace: ns } : undefined,
      stateDir: values['state-dir'] as string | undefined,
      certFiles: certFile && keyFile ? { certFile, keyFile } : undefined,
      healthPort,
      systemNamespace: ns,
    });
    process.stdout.write(`webhook serving at ${wh.url}\n`);
    await new Promise<void>((resolve) => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve());
    });
    await wh.stop();
    return 0;
  },
};
