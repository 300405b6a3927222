// `npm run gen:csi`: the TypeScript types of csi.proto's messages and services, generated into
// csi/generated/ by @grpc/proto-loader's proto-loader-gen-types with the options the driver loads the proto
// with (keepCase, longs and enums as strings, defaults, oneofs). The driver and its tests use only these
// types; test/csi/proto.test.ts fails when the checked-in files differ from what this generates.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const PROTO = 'csi/csi.proto';
export const GENERATED_DIR = 'csi/generated';

/** The options the proto is loaded with at run time (csi/server.ts), so the types describe what arrives. */
export const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

/** Generates the types into `outDir` (relative to the repository root, or absolute). */
export function generateProtoTypes(outDir: string = GENERATED_DIR): void {
  const bin = fileURLToPath(import.meta.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js'));
  const res = spawnSync(
    process.execPath,
    [
      bin,
      '--keepCase',
      '--longs=String',
      '--enums=String',
      '--defaults',
      '--oneofs',
      '--grpcLib=@grpc/grpc-js',
      '--importFileExtension=.ts',
      `--outDir=${outDir}`,
      PROTO,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (res.status !== 0) throw new Error(`proto-loader-gen-types failed: ${res.stderr || res.error}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  rmSync(new URL(`../${GENERATED_DIR}`, import.meta.url), { recursive: true, force: true });
  generateProtoTypes();
  process.stdout.write(`generated ${GENERATED_DIR} from ${PROTO}\n`);
}
