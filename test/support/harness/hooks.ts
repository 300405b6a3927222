// Mocha root hooks (test/run.ts installs `mochaHooks`; with the mocha CLI use `--require @connectors/test-support`,
// whose entry point exports them).
// Before any test: make sure the control-plane binaries exist, so a cold first build (minutes) does not
// count against a test's timeout. After every test of this process: stop the shared control plane. (Should
// the process die first, the control plane's exit handler and watchdog stop it.)
import { ensureBinary } from '../../../core/peers/index.ts';
import { stopCluster } from './cluster.ts';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(0);
    for (const binary of ['etcd', 'kube-apiserver', 'kubectl', 'kube-controller-manager']) await ensureBinary(binary);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await stopCluster();
  },
};
