// Test-only peers that `npm test` (test/run.ts) builds before mocha starts, so that a cold Go build does not
// count against a test's timeout. Each entry builds (or finds cached) one binary; add a line per peer.
import {
  csiSanityBinary,
  mavenSeedRepository,
  pythonToolsBin,
  verdaccioMain,
  yarnMain,
} from '@connectors/test-support';
import { ensureBinary, type ProgressFn } from '../core/peers/index.ts';
import { kubeconformBinary } from './install/kubeconform.ts';
import { conformanceBinary } from './oci/conformance.ts';
import { craneBinary } from './oci/crane.ts';

const TEST_PEERS: Array<{ name: string; ensure: (progress: ProgressFn) => Promise<string> }> = [
  { name: 'csi-sanity', ensure: csiSanityBinary },
  { name: 'crane', ensure: craneBinary },
  { name: 'helm', ensure: (progress) => ensureBinary('helm', progress) },
  { name: 'kubeconform', ensure: kubeconformBinary },
  // The class journeys' registry tools (test/support/peers/tools.ts): servers and clients from npm, PyPI and Maven
  // Central.
  { name: 'verdaccio', ensure: verdaccioMain },
  { name: 'yarn', ensure: yarnMain },
  { name: 'pypiserver+twine', ensure: pythonToolsBin },
  { name: 'maven plugins', ensure: mavenSeedRepository },
  { name: 'oci-conformance', ensure: conformanceBinary },
  // Tekton's controller and webhook (one recipe, built together; the second call finds the cache).
  { name: 'tekton-controller', ensure: (progress) => ensureBinary('tekton-controller', progress) },
  { name: 'tekton-webhook', ensure: (progress) => ensureBinary('tekton-webhook', progress) },
];

export async function prepareTestPeers(progress: ProgressFn): Promise<void> {
  for (const peer of TEST_PEERS) progress(`${peer.name}: ${await peer.ensure(progress)}`);
}
