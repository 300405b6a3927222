import type { Command } from '../command.ts';
import { ensureBinary, cacheRoot } from '../../core/peers/index.ts';

export const command: Command = {
  name: 'peers',
  summary: 'Build (on first use) and print the paths of pinned Go binaries: kube-apiserver, kubectl, etcd, opa.',
  positionals: '[BINARY...]',
  details: `The binaries are built from Go modules at pinned versions and cached under ${cacheRoot()}/peers
(override with CONNECTORS_CACHE_DIR). With no BINARY, every control-plane binary and opa are built.`,
  options: {},
  async run(_values, positionals) {
    const names = positionals.length ? positionals : ['etcd', 'kube-apiserver', 'kubectl', 'opa'];
    for (const name of names) process.stdout.write(`${name}\t${await ensureBinary(name)}\n`);
    return 0;
  },
};
