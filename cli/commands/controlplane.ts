import { writeFile, rename, chmod, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from '../command.ts';
import { startControlPlane, DEFAULT_CRD_DIR } from '../../controlplane/index.ts';

export const command: Command = {
  name: 'controlplane',
  summary: 'Start a local etcd + kube-apiserver (+ kube-controller-manager) on loopback and print its kubeconfig.',
  details: `The control plane has its own CA, an admin client certificate (group system:masters), RBAC,
ServiceAccount tokens (TokenRequest/TokenReview), and the CRDs from ${DEFAULT_CRD_DIR} installed.
The admin kubeconfig is written (mode 0600) only once everything is ready. It runs until SIGINT or
SIGTERM, then stops every process and, unless --state-dir was given, removes its state.`,
  options: {
    kubeconfig: {
      type: 'string',
      valueName: 'PATH',
      description: 'Also write the admin kubeconfig here once ready (default: only under the state dir).',
    },
    'state-dir': {
      type: 'string',
      valueName: 'DIR',
      description:
        'Keep etcd data, PKI and logs in DIR and reuse them on the next start (default: a temp dir removed on exit).',
    },
    'no-controller-manager': {
      type: 'boolean',
      description:
        'Do not run kube-controller-manager (no default ServiceAccounts, namespace deletion or garbage collection).',
    },
    quiet: { type: 'boolean', description: 'Print only the kubeconfig path.' },
  },
  async run(values) {
    const quiet = Boolean(values.quiet);
    const log = (line: string) => {
      if (!quiet) process.stderr.write(line + '\n');
    };
    // Keep the event loop alive until a signal arrives (the child processes do not).
    const keepAlive = setInterval(() => {}, 1 << 30);
    let stopRequested: () => void = () => {};
    const stopSignal = new Promise<NodeJS.Signals>((resolveStop) => {
      const on = (sig: NodeJS.Signals) => {
        resolveStop(sig);
        stopRequested();
      };
      process.once('SIGINT', on);
      process.once('SIGTERM', on);
      process.once('SIGHUP', on);
    });
    let interrupted = false;
    stopRequested = () => {
      interrupted = true;
    };
    try {
      const cp = await startControlPlane({
        stateDir: typeof values['state-dir'] === 'string' ? values['state-dir'] : undefined,
        controllerManager: !values['no-controller-manager'],
        log,
        handleSignals: false,
      });
      try {
        if (interrupted) return 130;
        let kubeconfigPath = cp.kubeconfigPath;
        if (typeof values.kubeconfig === 'string') {
          kubeconfigPath = resolve(values.kubeconfig);
          await mkdir(dirname(kubeconfigPath), { recursive: true });
          const tmp = `${kubeconfigPath}.tmp-${process.pid}`;
          await writeFile(tmp, cp.kubeconfigYaml, { mode: 0o600 });
          await chmod(tmp, 0o600);
          await rename(tmp, kubeconfigPath);
        }
        if (quiet) {
          process.stdout.write(kubeconfigPath + '\n');
        } else {
          process.stdout.write(
            [
              `Control plane ready at ${cp.server} (${(cp.readyMs / 1000).toFixed(1)}s).`,
              `  kubeconfig:    ${kubeconfigPath}`,
              `  state dir:     ${cp.stateDir}`,
              `  processes:     ${cp.processes.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`,
              `  SA issuer:     ${cp.serviceAccountIssuer}`,
              '',
              'Use it with:',
              `  export KUBECONFIG=${kubeconfigPath}`,
              '  kubectl get namespaces',
              '',
              'Press Ctrl-C to stop.',
              '',
            ].join('\n'),
          );
        }
        const sig = await stopSignal;
        log(`controlplane: ${sig} received, stopping`);
        return sig === 'SIGINT' ? 130 : 0;
      } finally {
        const started = Date.now();
        await cp.stop();
        log(`controlplane: stopped in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      }
    } finally {
      clearInterval(keepAlive);
    }
  },
};
