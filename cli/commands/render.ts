// `connectors render`: the files the CSI driver would mount for a workload, written to a directory, for
// clusters without a kubelet (the embedded control plane) and for ConnectorClass authors. It runs the
// driver's own NodePublishVolume with a token minted for the ServiceAccount, so what it writes is exactly
// what a Pod would see.
import { resolve } from 'node:path';
import type { Command } from '../command.ts';
import { loadKubeConfig, systemNamespace } from '../../core/kube/config.ts';
import { kubeRest } from '../../core/kube/rest.ts';
import { PROXY_AUDIENCE } from '../../core/api/index.ts';
import { createLogger, setLogLevel } from '../../core/observability/log.ts';
import { parseConnectorRef, parseGoDurationMs } from '../../core/connector/index.ts';

export const command: Command = {
  name: 'render',
  summary:
    'Write the files a connectors-csi volume would hold (rendered configurations, proxy token, CA, proxy settings) into a directory, without a kubelet.',
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description: 'Kubeconfig to use (default: KUBECONFIG, in-cluster, ~/.kube/config).',
    },
    connector: {
      type: 'string',
      valueName: 'NS/NAME',
      description: 'The Connector(s), comma-separated, as in the volume attribute `connectors`. Required.',
    },
    configuration: {
      type: 'string',
      valueName: 'NAMES',
      description: 'As the volume attribute `configuration.names` (e.g. gitconfig, or "gitconfig,!context.token").',
    },
    params: { type: 'string', valueName: 'JSON', description: 'As the volume attribute `configuration.params`.' },
    'service-account': {
      type: 'string',
      valueName: 'NAME',
      default: 'default',
      description:
        'ServiceAccount (in the namespace of the first Connector unless --namespace) whose token goes into the files.',
    },
    namespace: {
      type: 'string',
      valueName: 'NS',
      description: 'Namespace of the workload (default: that of the first Connector).',
    },
    'token-expiration': {
      type: 'string',
      valueName: 'DURATION',
      default: '30m',
      description: 'Lifetime of the token, as the volume attribute `token.expiration`.',
    },
    'proxy-url': {
      type: 'string',
      valueName: 'URL',
      description: 'Forward-proxy base URL for http.proxy and .env (default: the in-cluster proxy Service).',
    },
    out: {
      type: 'string',
      valueName: 'DIR',
      description: 'Directory to write (created; its previous contents are replaced). Required.',
    },
  },
  details: `Example (the Git quick start, on the embedded control plane):
  connectors render --connector git-connector-demo/git-connector --configuration gitconfig --out /tmp/gitdemo
  HOME=/tmp/gitdemo git clone <original repository URL>`,
  async run(values) {
    const connector = values.connector as string | undefined;
    const out = values.out as string | undefined;
    if (!connector) throw new Error('--connector is required');
    if (!out) throw new Error('--out is required');
    // The volume's Pod namespace: --namespace, else that of the first Connector when it names one.
    const first = parseConnectorRef(connector.split(',')[0]);
    const namespace = (values.namespace as string | undefined) ?? (first.ok ? first.ref.namespace : undefined);
    if (!namespace) throw new Error('--namespace is required when --connector names no namespace');
    const serviceAccount = values['service-account'] as string;
    const expirationSeconds = Math.round(parseGoDurationMs(values['token-expiration'] as string) / 1000);

    setLogLevel('warn');
    const kc = loadKubeConfig(values.kubeconfig as string | undefined);
    const rest = await kubeRest(kc);
    const { NodeServer, DirMounter } = await import('../../csi/index.ts');
    const server = new NodeServer(kc, rest, new DirMounter(), {
      endpoint: 'render',
      nodeId: 'render',
      proxyURL: values['proxy-url'] as string | undefined,
      systemNamespace: systemNamespace(),
      log: createLogger('render'),
    });
    try {
      const review = await rest.call<{ status: { token: string; expirationTimestamp: string } }>(
        'POST',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
        {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { audiences: [PROXY_AUDIENCE], expirationSeconds },
          },
        },
      );
      const context: Record<string, string> = {
        'csi.storage.k8s.io/ephemeral': 'true',
        'csi.storage.k8s.io/pod.namespace': namespace,
        'csi.storage.k8s.io/pod.name': 'connectors-render',
        // No Pod exists; the driver only uses the uid to mint pod-bound tokens, and this token is given.
        'csi.storage.k8s.io/pod.uid': 'connectors-render',
        'csi.storage.k8s.io/serviceAccount.name': serviceAccount,
        'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({ [PROXY_AUDIENCE]: review.status }),
        connectors: connector,
        'token.expiration': values['token-expiration'] as string,
      };
      if (values.configuration) context['configuration.names'] = values.configuration as string;
      if (values.params) context['configuration.params'] = values.params as string;
      await server.nodePublishVolume({
        volume_id: 'connectors-render',
        target_path: resolve(out),
        staging_target_path: '',
        volume_capability: { access_type: 'mount', mount: {} },
        readonly: true,
        secrets: {},
        volume_context: context,
        publish_context: {},
      });
      process.stdout.write(
        `wrote the volume of ${connector} for ServiceAccount ${namespace}/${serviceAccount} to ${resolve(out)}\n`,
      );
      return 0;
    } catch (err) {
      // gRPC errors from the driver carry the documented code and message.
      const e = err as { details?: string; message: string };
      throw new Error(e.details ?? e.message);
    } finally {
      await server.stop();
      await rest.close();
    }
  },
};
