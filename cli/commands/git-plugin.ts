// `connectors git-plugin`: the git ConnectorClass's API plugin (GET /git/gitrefs), called by the Connectors API.
import { readFile } from 'node:fs/promises';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'git-plugin',
  summary:
    'Run the git ConnectorClass API plugin: GET /git/gitrefs?repositoryUrl=&search= lists the branches and tags of a repository with git smart-HTTP discovery.',
  details: `The Connectors API forwards requests here with the Connector's address and Secret in the X-Plugin-Meta,
X-Plugin-Auth and X-Plugin-Secret headers (the plugin contract); the plugin needs no Kubernetes access. In a cluster the
git class reaches it through the Service connectors-git-plugin of the system namespace, which the class resolves to
https://connectors-git-plugin.<namespace>.svc: serve TLS there (--tls-cert-file/--tls-key-file) with a certificate the
API trusts (connectors api --plugin-ca-file). Listen only where the API can reach it: the headers carry credentials.`,
  options: {
    port: { type: 'string', valueName: 'PORT', default: '8080', description: 'Port of the plugin.' },
    host: { type: 'string', valueName: 'ADDRESS', default: '0.0.0.0', description: 'Address to listen on.' },
    'health-port': {
      type: 'string',
      valueName: 'PORT',
      description: 'Serve /healthz, /readyz and /metrics on this port.',
    },
    'tls-cert-file': { type: 'string', valueName: 'PATH', description: 'Serve HTTPS with this PEM certificate.' },
    'tls-key-file': { type: 'string', valueName: 'PATH', description: 'The PEM key of --tls-cert-file.' },
    'ca-file': {
      type: 'string',
      valueName: 'PATH',
      description: 'PEM CA certificates trusted for git servers (besides the system ones).',
    },
  },
  async run(values) {
    const port = Number(values.port ?? 8080);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a port number');
    const certFile = values['tls-cert-file'] as string | undefined;
    const keyFile = values['tls-key-file'] as string | undefined;
    if (Boolean(certFile) !== Boolean(keyFile)) throw new Error('--tls-cert-file and --tls-key-file go together');
    const caFile = values['ca-file'] as string | undefined;
    const { startGitPlugin } = await import('../../plugins/git/index.ts');
    const plugin = await startGitPlugin({
      port,
      host: String(values.host ?? '0.0.0.0'),
      healthPort: values['health-port'] !== undefined ? Number(values['health-port']) : undefined,
      tls: certFile ? { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile!, 'utf8') } : undefined,
      caPem: caFile ? await readFile(caFile, 'utf8') : undefined,
    });
    process.stdout.write(
      `connectors git-plugin listening on ${plugin.url}${plugin.healthPort ? ` (health ${plugin.healthPort})` : ''}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await plugin.stop();
    return 0;
  },
};
