// crane (google/go-containerregistry), a second real registry client (the library behind ko, kaniko and many
// Go tools), built once from Go modules through core/peers and cached.
import { ensureBinary, registerPeer, type ProgressFn } from '../../core/peers/index.ts';
import { runCommand } from '../peers/process.ts';

export const CRANE_VERSION = '0.20.6';

registerPeer('crane', () => ({
  binaries: ['crane'],
  version: CRANE_VERSION,
  module: {
    goMod: `module connectors.local/crane-peer\n\ngo 1.26.0\n\nrequire github.com/google/go-containerregistry v${CRANE_VERSION}\n`,
    extraFiles: {
      'tools.go': '//go:build tools\n\npackage tools\n\nimport _ "github.com/google/go-containerregistry/cmd/crane"\n',
    },
  },
  packages: ['github.com/google/go-containerregistry/cmd/crane'],
  ldflags: '-s -w',
  env: { CGO_ENABLED: '0' },
}));

export function craneBinary(progress?: ProgressFn): Promise<string> {
  return ensureBinary('crane', progress);
}

/** Runs crane with its own config dir (DOCKER_CONFIG) so it uses only the credentials given there. */
export async function crane(args: string[], dockerConfigDir: string): Promise<{ stdout: string; stderr: string }> {
  const bin = await craneBinary();
  return runCommand(bin, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dockerConfigDir, DOCKER_CONFIG: dockerConfigDir },
  });
}
