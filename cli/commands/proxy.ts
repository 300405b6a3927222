// `connectors proxy`: the Connectors Proxy (reverse and forward modes) against a cluster.
import type { Command } from '../command.ts';
import { limitFlags, parseLimits } from '../limit-flags.ts';
import { loadKubeConfig } from '../../core/kube/config.ts';

export const command: Command = {
  name: 'proxy',
  summary:
    'Run the Connectors Proxy: reverse mode (/namespaces/<ns>/connectors/<name>/ or host c-<name>.<ns>.svc) and forward mode (http_proxy, CONNECT).',
  details: `Clients authenticate with a ServiceAccount token (audience connectors-proxy, or the apiserver's own audience
unless --no-apiserver-audience): reverse mode as the Basic password or a Bearer token, forward mode as
Proxy-Authorization: Basic base64("<ns>/<name>[,<ns>/<name>]:<token>"). HTTPS through CONNECT is intercepted
for the hosts of the listed Connectors with the CA in Secret connectors-proxy-ca of the system namespace
(created if absent). Forward mode reaches only the listed Connectors' addresses unless --forward-allow-hosts
names other hosts (reached without credentials); never loopback, link-local (169.254/16, fe80::/10) or the
proxy itself. Limits and their defaults: docs/security.md.`,
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description: 'Kubeconfig (default: KUBECONFIG, in-cluster, ~/.kube/config).',
    },
    port: { type: 'string', valueName: 'PORT', default: '8080', description: 'Port of the proxy.' },
    host: { type: 'string', valueName: 'ADDRESS', default: '0.0.0.0', description: 'Address to listen on.' },
    'health-port': {
      type: 'string',
      valueName: 'PORT',
      description: 'Serve /healthz, /readyz and /metrics on this port.',
    },
    'forward-allow-hosts': {
      type: 'string',
      valueName: 'LIST',
      description:
        "Comma-separated hosts forward mode may reach besides the listed Connectors' addresses, without credentials: " +
        '*, name, *.domain, IP or CIDR (default: none, other hosts get 403).',
    },
    ...limitFlags({ flag: 'max-requests-per-service-account', who: 'ServiceAccount' }),
    'tls-secret': {
      type: 'string',
      valueName: 'NAME',
      description:
        'Also listen on TLS with tls.crt/tls.key of this Secret (type kubernetes.io/tls) in the system namespace; ' +
        'a changed Secret is used without a restart. Published for the CSI driver in ConfigMap connectors-proxy-tls.',
    },
    'tls-port': {
      type: 'string',
      valueName: 'PORT',
      default: '8443',
      description: 'Port of the TLS listener (with --tls-secret).',
    },
    'no-apiserver-audience': { type: 'boolean', description: 'Accept only tokens with the connectors-proxy audience.' },
    workers: {
      type: 'string',
      valueName: 'N',
      default: '1',
      description:
        'Proxy processes sharing the port (node:cluster), e.g. one per CPU; each has its own watches and caches, and /metrics shows the worker that answers.',
    },
  },
  async run(values) {
    const allow = typeof values['forward-allow-hosts'] === 'string' ? values['forward-allow-hosts'].split(',') : [];
    const { perClient, ...limits } = parseLimits(values, 'max-requests-per-service-account');
    const options = {
      forwardAllowHosts: allow.map((h) => h.trim()).filter(Boolean),
      maxRequestsPerServiceAccount: perClient,
      ...limits,
    };
    const workers = Number(values.workers ?? 1);
    if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a whole number >= 1');
    const cluster = (await import('node:cluster')).default;
    if (workers > 1 && cluster.isPrimary) return runWorkers(workers);
    const { startProxy } = await import('../../proxy/index.ts');
    const proxy = await startProxy(loadKubeConfig(values.kubeconfig as string | undefined), {
      port: Number(values.port ?? 8080),
      host: String(values.host ?? '0.0.0.0'),
      healthPort: values['health-port'] !== undefined ? Number(values['health-port']) : undefined,
      tls: values['tls-secret']
        ? { secretName: String(values['tls-secret']), port: Number(values['tls-port'] ?? 8443) }
        : undefined,
      acceptApiserverAudience: !values['no-apiserver-audience'],
      ...options,
    });
    if (cluster.isWorker) process.send!({ listening: proxy.url, healthPort: proxy.healthPort });
    else
      process.stdout.write(
        `connectors proxy listening on ${proxy.url}${proxy.tlsUrl ? ` and ${proxy.tlsUrl}` : ''}${proxy.healthPort ? ` (health ${proxy.healthPort})` : ''}\n`,
      );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await proxy.stop();
    if (cluster.isWorker) cluster.worker?.disconnect(); // the IPC channel would keep the worker alive
    return 0;
  },
};

/**
 * The primary of `--workers N`: forks N proxy processes (same arguments) that share the listening port, says
 * `listening` once all of them are, replaces a worker that dies, and stops them all on SIGINT/SIGTERM.
 */
async function runWorkers(n: number): Promise<number> {
  const cluster = (await import('node:cluster')).default;
  let stopping = false;
  let listening = 0;
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: { listening?: string; healthPort?: number }) => {
      if (m?.listening && ++listening === n) {
        process.stdout.write(
          `connectors proxy listening on ${m.listening}${m.healthPort ? ` (health ${m.healthPort})` : ''} (${n} workers)\n`,
        );
      }
    });
    w.on('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`connectors proxy: worker ${w.process.pid} exited (${signal ?? code}); starting another\n`);
      setTimeout(fork, 1000);
    });
  };
  for (let i = 0; i < n; i++) fork();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  const all = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  await Promise.all(
    all.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.process.kill('SIGTERM');
        }),
    ),
  );
  return 0;
}
