// `connectors csi`: the CSI node driver connectors-csi (the csi-driver container of the DaemonSet).
import type { Command } from '../command.ts';
import { loadKubeConfig, systemNamespace } from '../../core/kube/config.ts';
import { createLogger } from '../../core/observability/log.ts';

export const command: Command = {
  name: 'csi',
  summary:
    'Run the CSI node driver connectors-csi: renders Connector configurations and proxy tokens into ephemeral inline volumes.',
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description: 'Kubeconfig to use (default: KUBECONFIG, in-cluster ServiceAccount, ~/.kube/config).',
    },
    endpoint: {
      type: 'string',
      valueName: 'URL',
      default: 'unix:///csi/csi.sock',
      description: 'CSI endpoint (unix socket) to serve.',
    },
    'node-id': {
      type: 'string',
      valueName: 'NAME',
      description: 'Node id reported by NodeGetInfo (in the DaemonSet: the node name, from spec.nodeName). Required.',
    },
    'proxy-url': {
      type: 'string',
      valueName: 'URL',
      description:
        'Forward-proxy base URL written to http.proxy, https.proxy and .env (default: http://connectors-proxy-service.<system namespace>.svc.cluster.local).',
    },
    'health-port': {
      type: 'string',
      valueName: 'N',
      description: 'Port of /healthz, /readyz and /metrics (0 = any free port; omitted = no health server).',
    },
    mounter: {
      type: 'string',
      valueName: 'KIND',
      default: 'auto',
      description:
        'tmpfs (mount a tmpfs per volume; needs CAP_SYS_ADMIN), dir (plain directories) or auto (tmpfs when possible).',
    },
  },
  details:
    'The system namespace (feature flags, proxy CA) is CONNECTORS_SYSTEM_NAMESPACE or POD_NAMESPACE, default connectors-system ' +
    `(now: ${systemNamespace()}).\nStop with SIGINT or SIGTERM.`,
  async run(values) {
    const nodeId = values['node-id'] as string | undefined;
    if (!nodeId) throw new Error('--node-id is required');
    const mounter = values.mounter as string;
    if (!['auto', 'tmpfs', 'dir'].includes(mounter))
      throw new Error(`--mounter must be auto, tmpfs or dir, not ${JSON.stringify(mounter)}`);
    const kc = loadKubeConfig(values.kubeconfig as string | undefined);
    const { startCsiDriver } = await import('../../csi/index.ts');
    const log = createLogger('csi');
    const healthPort = values['health-port'] as string | undefined;
    const driver = await startCsiDriver(kc, {
      endpoint: values.endpoint as string,
      nodeId,
      proxyURL: values['proxy-url'] as string | undefined,
      mounter: mounter as 'auto' | 'tmpfs' | 'dir',
      healthPort: healthPort === undefined ? undefined : Number(healthPort),
      log,
    });
    if (driver.health) log.info('health server listening', { port: driver.health.port });
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
    });
    await driver.stop();
    return 0;
  },
};
