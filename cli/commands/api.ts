// `connectors api`: the Connectors API (tool APIs through Connectors, class API plugins, the operator API).
import { readFile } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { limitFlags, parseLimits } from '../limit-flags.ts';
import { loadKubeConfig } from '../../core/kube/config.ts';

export const command: Command = {
  name: 'api',
  summary:
    'Run the Connectors API: /connectors/v1alpha1/<namespace>/<name>/path/<api-path> reaches the tool ' +
    "(or its class API plugin) with the Connector's credentials; /connectors-operator/featureflags lists " +
    'the feature flags.',
  details: `Clients authenticate with a Bearer token the Kubernetes API accepts (e.g. kubectl create token <sa>) and
need get on the Connector; with enable-connector-apis-permissions also the connectors/apis subresource for the
request's verb. Write methods (POST, PUT, DELETE, PATCH) pass only with enable-connector-apis-write-passthrough.
Errors are Kubernetes Status objects. See docs/api.md; limits and their defaults: docs/security.md.`,
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description: 'Kubeconfig (default: KUBECONFIG, in-cluster, ~/.kube/config).',
    },
    port: { type: 'string', valueName: 'PORT', default: '8080', description: 'Port of the API.' },
    host: { type: 'string', valueName: 'ADDRESS', default: '0.0.0.0', description: 'Address to listen on.' },
    'health-port': {
      type: 'string',
      valueName: 'PORT',
      description: 'Serve /healthz, /readyz and /metrics on this port.',
    },
    'no-front': {
      type: 'boolean',
      description:
        'Route every request through express, also the bodiless GETs the front answers by default (for measurements).',
    },
    'plugin-ca-file': {
      type: 'string',
      valueName: 'PATH',
      description: 'PEM CA certificates trusted for class API plugins (besides the system ones).',
    },
    ...limitFlags({ flag: 'max-requests-per-user', who: 'user' }),
  },
  async run(values) {
    const port = Number(values.port ?? 8080);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a port number');
    const { startApi } = await import('../../api/index.ts');
    const caFile = values['plugin-ca-file'] as string | undefined;
    const { perClient, ...limits } = parseLimits(values, 'max-requests-per-user');
    const api = await startApi(loadKubeConfig(values.kubeconfig as string | undefined), {
      port,
      host: String(values.host ?? '0.0.0.0'),
      healthPort: values['health-port'] !== undefined ? Number(values['health-port']) : undefined,
      pluginCaPem: caFile ? await readFile(caFile, 'utf8') : undefined,
      front: !values['no-front'],
      maxRequestsPerUser: perClient,
      ...limits,
    });
    process.stdout.write(
      `connectors api listening on ${api.url}${api.healthPort ? ` (health ${api.healthPort})` : ''}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await api.stop();
    return 0;
  },
};
