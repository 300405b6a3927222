// csi-sanity (kubernetes-csi/csi-test), the CSI conformance checker, built once from Go modules through
// core/peers and cached like the other pinned peers. v5.6.0 (go 1.25, builds with Go 1.26) rather than v5.4.0:
// from v5.5 the Node suite asks ControllerGetCapabilities only of drivers that advertise CONTROLLER_SERVICE, so
// a node-only driver such as connectors-csi can run it (v5.4.0 fails every Node spec in its BeforeEach).
import { registerPeer, ensureBinary, type ProgressFn } from '../../../core/peers/index.ts';

export const CSI_SANITY_VERSION = '5.6.0';

registerPeer('csi-sanity', () => ({
  binaries: ['csi-sanity'],
  version: CSI_SANITY_VERSION,
  module: {
    goMod: `module connectors.local/csi-sanity-peer\n\ngo 1.26.0\n\nrequire github.com/kubernetes-csi/csi-test/v5 v${CSI_SANITY_VERSION}\n`,
    extraFiles: {
      'tools.go':
        '//go:build tools\n\npackage tools\n\nimport _ "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity"\n',
    },
  },
  packages: ['github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity'],
  ldflags: '-s -w',
  env: { CGO_ENABLED: '0' },
}));

/** Path of the csi-sanity binary, building it on first use. */
export function csiSanityBinary(progress?: ProgressFn): Promise<string> {
  return ensureBinary('csi-sanity', progress);
}
