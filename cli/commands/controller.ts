// `connectors controller`: the controller that keeps ConnectorClass and Connector status true.
import { readFile } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { loadKubeConfig, systemNamespace } from '../../core/kube/config.ts';
import { createLogger } from '../../core/observability/log.ts';
import { parseFlagDuration } from '../../core/connector/duration.ts';

function boolFlag(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  const s = (typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : '').toLowerCase();
  if (['true', '1', 'yes'].includes(s)) return true;
  if (['false', '0', 'no'].includes(s)) return false;
  throw new Error(`--${name} must be true or false, not ${JSON.stringify(v)}`);
}

/** `--access-request-ttl`: a duration, or `never`. */
export function accessRequestTtl(v: string): number {
  return v === 'never' ? Infinity : parseFlagDuration(v);
}

export const command: Command = {
  name: 'controller',
  summary:
    'Run the controller that keeps ConnectorClass and Connector status true (probes, proxy Services, compiled policies).',
  details: `The cluster comes from --kubeconfig, else KUBECONFIG, else the in-cluster ServiceAccount.
The system namespace (Lease, compiled policy ConfigMaps, feature flags) is CONNECTORS_SYSTEM_NAMESPACE,
else POD_NAMESPACE, else connectors-system. Durations: 300ms, 30s, 5m, 1h30m.`,
  options: {
    kubeconfig: { type: 'string', valueName: 'PATH', description: 'kubeconfig file.' },
    'health-port': {
      type: 'string',
      valueName: 'N',
      description: 'Port of /healthz, /readyz and /metrics.',
      default: '8081',
    },
    'probe-period': {
      type: 'string',
      valueName: 'DUR',
      description: 'Re-probe period of every Connector and ConnectorClass (±10% jitter).',
      default: '5m',
    },
    'probe-timeout': { type: 'string', valueName: 'DUR', description: 'Timeout of one probe.', default: '10s' },
    'probe-time-refresh': {
      type: 'string',
      valueName: 'DUR',
      description: 'Rewrite an unchanged condition only to refresh lastProbeTime once it is older than this.',
      default: '30m',
    },
    'leader-elect': {
      type: 'string',
      valueName: 'true|false',
      description: 'Leader election on the Lease connectors-controller in the system namespace.',
      default: 'true',
    },
    workers: { type: 'string', valueName: 'N', description: 'Concurrent Connector reconciles.', default: '16' },
    'plugin-ca-file': {
      type: 'string',
      valueName: 'PATH',
      description: 'PEM CA certificates trusted for class API plugins when probing them (besides the system ones).',
    },
    'access-request-ttl': {
      type: 'string',
      valueName: 'DUR|never',
      description:
        'Delete an AccessRequest this long after it ended (its Pod completed or went away); "never" keeps them.',
      default: '1h',
    },
    'print-templates': {
      type: 'boolean',
      description: 'Print the built-in AccessPolicy templates (ConfigMaps of the system namespace) as YAML and exit.',
    },
  },
  async run(values) {
    if (values['print-templates']) {
      const { templatesManifest } = await import('../../core/approval/templates.ts');
      process.stdout.write(templatesManifest(systemNamespace()));
      return 0;
    }
    const { startController } = await import('../../controller/index.ts');
    const log = createLogger('controller');
    const kc = loadKubeConfig(typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined);
    const port = Number(values['health-port'] ?? 8081);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error(`--health-port must be a port number, not ${JSON.stringify(values['health-port'])}`);
    const caFile = values['plugin-ca-file'] as string | undefined;
    const ctrl = await startController(kc, {
      systemNamespace: systemNamespace(),
      healthPort: port,
      probePeriodMs: parseFlagDuration(String(values['probe-period'] ?? '5m')),
      probeTimeoutMs: parseFlagDuration(String(values['probe-timeout'] ?? '10s')),
      probeTimeRefreshMs: parseFlagDuration(String(values['probe-time-refresh'] ?? '30m')),
      leaderElect: boolFlag(values['leader-elect'], 'leader-elect', true),
      workers: Number(values.workers ?? 16),
      pluginCaPem: caFile ? await readFile(caFile, 'utf8') : undefined,
      accessRequestTtlMs: accessRequestTtl(String(values['access-request-ttl'] ?? '1h')),
      log,
    });
    log.info('controller started', {
      healthPort: ctrl.health?.port,
      identity: ctrl.identity,
      systemNamespace: systemNamespace(),
    });
    const sig = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    log.info('stopping', { signal: sig });
    await ctrl.stop();
    return sig === 'SIGINT' ? 130 : 0;
  },
};
