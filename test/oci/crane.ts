// crane (google/go-containerregistry), a second real registry client (the library behind ko, kaniko and many
// Go tools), built once from Go modules through core/peers (its recipe lives there: `npm run image -- --push` uses it) and cached.
import { CRANE_VERSION, ensureBinary, type ProgressFn } from '../../core/peers/index.ts';
import { runCommand } from '@connectors/test-support';

export { CRANE_VERSION };

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
