// The OCI image layout (oci-layout, index.json, blobs/sha256/*) of a single-platform image: config and
// manifest as canonical JSON (fixed key order, no whitespace), so equal layers give equal digests.
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltLayer } from './layer.ts';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface ImageConfig {
  user: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  labels: Record<string, string>;
  /** RFC 3339 time written as `created` (config and history). */
  created: string;
}

export interface NamedLayer {
  layer: BuiltLayer;
  /** What made the layer, for `history[].created_by`. */
  createdBy: string;
}

export interface WrittenImage {
  dir: string;
  /** Digest of the manifest: the image's digest. */
  digest: string;
  configDigest: string;
  manifest: Buffer;
  config: Buffer;
  tag: string;
}

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

export function imageConfig(c: ImageConfig, layers: NamedLayer[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      created: c.created,
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: c.user,
        Env: c.env,
        Entrypoint: c.entrypoint,
        Cmd: c.cmd,
        WorkingDir: c.workingDir,
        Labels: c.labels,
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.layer.diffId) },
      history: layers.map((l) => ({ created: c.created, created_by: l.createdBy })),
    }),
  );
}

/** Writes the layout into `dir` (replacing it) with one manifest tagged `tag`. */
export async function writeLayout(
  dir: string,
  c: ImageConfig,
  layers: NamedLayer[],
  tag: string,
  annotations: Record<string, string> = {},
): Promise<WrittenImage> {
  await rm(dir, { recursive: true, force: true });
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const config = imageConfig(c, layers);
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: { mediaType: MEDIA_TYPES.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layer, digest: l.layer.digest, size: l.layer.size })),
      annotations,
    }),
  );
  const digest = sha256(manifest);
  for (const l of layers) await writeFile(join(blobs, l.layer.digest.slice(7)), l.layer.blob);
  await writeFile(join(blobs, configDigest.slice(7)), config);
  await writeFile(join(blobs, digest.slice(7)), manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        {
          mediaType: MEDIA_TYPES.manifest,
          digest,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { dir, digest, configDigest, manifest, config, tag };
}
