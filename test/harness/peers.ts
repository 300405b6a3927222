// Test-only peers that `npm test` (test/run.ts) builds before mocha starts, so that a cold Go build does not
// count against a test's timeout. Each entry builds (or finds cached) one binary; add a line per peer.
import type { ProgressFn } from '../../core/peers/index.ts';

const TEST_PEERS: Array<{ name: string; ensure: (progress: ProgressFn) => Promise<string> }> = [
  {
    name: 'csi-sanity',
    ensure: async (progress) => (await import('../peers/csi-sanity.ts')).csiSanityBinary(progress),
  },
  { name: 'crane', ensure: async (progress) => (await import('../oci/crane.ts')).craneBinary(progress) },
  {
    name: 'helm',
    ensure: async (progress) => (await import('../../core/peers/index.ts')).ensureBinary('helm', progress),
  },
  {
    name: 'kubeconform',
    ensure: async (progress) => (await import('../install/kubeconform.ts')).kubeconformBinary(progress),
  },
  // The class journeys' registry tools (test/peers/tools.ts): servers and clients from npm, PyPI and Maven Central.
  { name: 'verdaccio', ensure: async (progress) => (await import('../peers/tools.ts')).verdaccioMain(progress) },
  { name: 'yarn', ensure: async (progress) => (await import('../peers/tools.ts')).yarnMain(progress) },
  {
    name: 'pypiserver+twine',
    ensure: async (progress) => (await import('../peers/tools.ts')).pythonToolsBin(progress),
  },
  {
    name: 'maven plugins',
    ensure: async (progress) => (await import('../peers/tools.ts')).mavenSeedRepository(progress),
  },
  {
    name: 'oci-conformance',
    ensure: async (progress) => (await import('../oci/conformance.ts')).conformanceBinary(progress),
  },
  // Tekton's controller and webhook (one recipe, built together; the second call finds the cache).
  {
    name: 'tekton-controller',
    ensure: async (progress) => (await import('../../core/peers/index.ts')).ensureBinary('tekton-controller', progress),
  },
  {
    name: 'tekton-webhook',
    ensure: async (progress) => (await import('../../core/peers/index.ts')).ensureBinary('tekton-webhook', progress),
  },
];

export async function prepareTestPeers(progress: ProgressFn): Promise<void> {
  for (const peer of TEST_PEERS) progress(`${peer.name}: ${await peer.ensure(progress)}`);
}
