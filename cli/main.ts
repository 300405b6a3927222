// `connectors`: one CLI for every component. Each subcommand lives in its own module under cli/commands
// and is loaded only when called, so `connectors csi` does not load the webhook's dependencies.
import { runCommand, type Command } from './command.ts';

/** Subcommand name → loader. Later components add one line here. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  up: {
    summary: 'Run every component, against KUBECONFIG or an embedded local control plane.',
    load: async () => (await import('./commands/up.ts')).command,
  },
  controlplane: {
    summary: 'Start a local kube-apiserver + etcd on loopback and print its kubeconfig.',
    load: async () => (await import('./commands/controlplane.ts')).command,
  },
  peers: {
    summary: 'Build or locate the pinned Go binaries (kube-apiserver, etcd, kubectl, opa, ...).',
    load: async () => (await import('./commands/peers.ts')).command,
  },
  proxy: {
    summary: 'Run the Connectors Proxy (reverse and forward modes, credential injection).',
    load: async () => (await import('./commands/proxy.ts')).command,
  },
  api: {
    summary: 'Run the Connectors API (tool APIs and class API plugins through Connectors, the operator API).',
    load: async () => (await import('./commands/api.ts')).command,
  },
  'git-plugin': {
    summary: 'Run the git ConnectorClass API plugin (GET /git/gitrefs: branches and tags through smart HTTP).',
    load: async () => (await import('./commands/git-plugin.ts')).command,
  },
  controller: {
    summary: 'Run the controller that keeps ConnectorClass and Connector status true.',
    load: async () => (await import('./commands/controller.ts')).command,
  },
  crds: {
    summary: 'Print or write the CustomResourceDefinitions generated from the API types.',
    load: async () => (await import('./commands/crds.ts')).command,
  },
  template: {
    summary: 'Render a Go text/template + sprig template with JSON data, exactly as Go renders it.',
    load: async () => (await import('./commands/template.ts')).command,
  },
  csi: {
    summary: 'Run the CSI node driver connectors-csi (Connector configurations and proxy tokens in inline volumes).',
    load: async () => (await import('./commands/csi.ts')).command,
  },
  render: {
    summary: 'Write the files a connectors-csi volume would hold into a directory, without a kubelet.',
    load: async () => (await import('./commands/render.ts')).command,
  },
  'pipeline-integration': {
    summary: 'Print or write the ResourceInterfaces and the bundled Tekton Tasks as manifests.',
    load: async () => (await import('./commands/pipeline-integration.ts')).command,
  },
  webhook: {
    summary:
      'Run the admission webhooks (Pod image rewrite, TaskRun workspaces, Connector and ConnectorClass validation).',
    load: async () => (await import('./commands/webhook.ts')).command,
  },
};

export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'Usage: connectors <command> [options]',
    '',
    'Secretless access for Kubernetes workloads to the tools they depend on.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `connectors <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`connectors: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await runCommand(await entry.load(), rest);
  } catch (err) {
    process.stderr.write(`connectors ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
