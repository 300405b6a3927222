// `connectors render`: the files the CSI driver would mount for a workload, written to a directory, for
// clusters without a kubelet (the embedded control plane) and for ConnectorClass authors. It runs the
// driver's own NodePublishVolume with a token minted for the ServiceAccount, so what it writes is exactly
// what a Pod would see.
import { resolve } from 'node:path';
import type { Command } from '../command.ts';
import { loadKubeConfig, systemNamespace } from '../../core/kube/config.ts';
import { resources } from '../../core/kube/resources.ts';
import type { TokenRequest } from '../../core/kube/types.ts';
import { PROXY_AUDIENCE } from '../../core/api/keys.ts';
import { createLogger, setLogLevel } from '../../core/observability/log.ts';
import { parseConnectorRef, parseGoDurationMs } from '../../core/connector/index.ts';
import { CsiError, codeName } from '../../csi/errors.ts';

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
    pod: {
      type: 'string',
      valueName: 'NAME',
      description:
        'Render for this Pod of --namespace, as kubelet would mount its volume: its ServiceAccount, a token bound to it, ' +
        'and with approval on (enable-connectors-approval) the same approval gate (AccessRequest) as the CSI driver.',
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
  HOME=/tmp/gitdemo git clone <original repository URL>
With --pod, the mount is the one of that (existing) Pod; with approval on it may wait for an AccessRequest
(exit 1, "Unavailable: waiting for approval ...") or hold only .error.json when rejected (docs/approval.md).`,
  async run(values) {
    const connector = values.connector as string | undefined;
    const out = values.out as string | undefined;
    if (!connector) throw new Error('--connector is required');
    if (!out) throw new Error('--out is required');
    // The volume's Pod namespace: --namespace, else that of the first Connector when it names one.
    const first = parseConnectorRef(connector.split(',')[0]);
    const namespace = (values.namespace as string | undefined) ?? (first.ok ? first.ref.namespace : undefined);
    if (!namespace) throw new Error('--namespace is required when --connector names no namespace');
    const podName = values.pod as string | undefined;
    const expirationSeconds = Math.round(parseGoDurationMs(values['token-expiration'] as string) / 1000);

    setLogLevel('warn');
    const kc = loadKubeConfig(values.kubeconfig as string | undefined);
    const { startLocalNode } = await import('../../csi/index.ts');
    const local = await startLocalNode(kc, {
      systemNamespace: systemNamespace(),
      proxyURL: values['proxy-url'] as string | undefined,
      log: createLogger('render'),
    });
    const { node: server, manager: mgr } = local;
    try {
      // With --pod, the Pod's identity and a token bound to it (as kubelet's token for the CSI driver is);
      // otherwise no Pod exists: the driver only uses the uid to mint pod-bound tokens, and this token is given.
      const pod = podName ? await mgr.client.find(resources.Pod, podName, namespace) : undefined;
      if (podName && !pod) throw new Error(`pod "${namespace}/${podName}" not found`);
      const serviceAccount = pod ? pod.spec?.serviceAccountName || 'default' : (values['service-account'] as string);
      const review = await mgr.client.createSubresource<TokenRequest>(
        resources.ServiceAccount,
        serviceAccount,
        namespace,
        'token',
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: [PROXY_AUDIENCE],
            expirationSeconds,
            ...(pod && podName
              ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: podName, uid: pod.metadata.uid } }
              : {}),
          },
        },
      );
      const context: Record<string, string> = {
        'csi.storage.k8s.io/ephemeral': 'true',
        'csi.storage.k8s.io/pod.namespace': namespace,
        'csi.storage.k8s.io/pod.name': podName ?? 'connectors-render',
        'csi.storage.k8s.io/pod.uid': pod?.metadata.uid ?? 'connectors-render',
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
      process.stdout.write(
        `wrote the volume of ${connector} for ServiceAccount ${namespace}/${serviceAccount}${podName ? ` of pod ${podName}` : ''} to ${resolve(out)}\n`,
      );
      return 0;
    } catch (err) {
      // Errors of the driver carry the gRPC code kubelet would report, and the documented message.
      if (err instanceof CsiError) throw new Error(`${codeName(err.code)}: ${err.message}`, { cause: err });
      throw err;
    } finally {
      await local.stop();
    }
  },
};
