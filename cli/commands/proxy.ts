// `connectors proxy`: the Connectors Proxy (reverse and forward modes) against a cluster.
import type { Command } from '../command.ts';
import { loadKubeConfig } from '../../core/kube/config.ts';

export const command: Command = {
  name: 'proxy',
  summary: 'Run the Connectors Proxy: reverse mode (/namespaces/<ns>/connectors/<name>/ or host c-<name>.<ns>.svc) and forward mode (http_proxy, CONNECT).',
  details: `Clients authenticate with a ServiceAccount token (audience connectors-proxy, or the apiserver's own audience
unless --no-apiserver-audience): reverse mode as the Basic password or a Bearer token, forward mode as
Proxy-Authorization: Basic base64("<ns>/<name>[,<ns>/<name>]:<token>"). HTTPS through CONNECT is intercepted
for the hosts of the listed Connectors with the CA in Secret connectors-proxy-ca of the system namespace
(created if absent); other hosts are tunnelled untouched unless --connect-policy refuse.`,
  options: {
    kubeconfig: { type: 'string', valueName: 'PATH', description: 'Kubeconfig (default: KUBECONFIG, in-cluster, ~/.kube/config).' },
    port: { type: 'string', valueName: 'PORT', default: '8080', description: 'Port of the proxy.' },
    host: { type: 'string', valueName: 'ADDRESS', default: '0.0.0.0', description: 'Address to listen on.' },
    'health-port': { type: 'string', valueName: 'PORT', description: 'Serve /healthz, /readyz and /metrics on this port.' },
    'connect-policy': { type: 'string', valueName: 'tunnel|refuse', default: 'tunnel', description: 'CONNECT to hosts that are not a listed Connector\'s.' },
    'no-apiserver-audience': { type: 'boolean', description: 'Accept only tokens with the connectors-proxy audience.' },
  },
  async run(values) {
    const { startProxy } = await import('../../proxy/index.ts');
    const policy = String(values['connect-policy'] ?? 'tunnel');
    if (policy !== 'tunnel' && policy !== 'refuse') throw new Error('--connect-policy must be tunnel or refuse');
    const proxy = await startProxy(loadKubeConfig(values.kubeconfig as string | undefined), {
      port: Number(values.port ?? 8080),
      host: String(values.host ?? '0.0.0.0'),
      healthPort: values['health-port'] !== undefined ? Number(values['health-port']) : undefined,
      connectPolicy: policy,
      acceptApiserverAudience: !values['no-apiserver-audience'],
    });
    process.stdout.write(`connectors proxy listening on ${proxy.url}${proxy.healthPort ? ` (health ${proxy.healthPort})` : ''}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await proxy.stop();
    return 0;
  },
};
