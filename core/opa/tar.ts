// A minimal reader for the gzip'd tar bundles `opa build` writes: enough to pull `/policy.wasm` out
// without a tar dependency. Handles ustar (name + prefix), GNU long names ('L') and PAX path records.
import { gunzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? raw.length : nul).toString('utf8');
}

function octal(header: Buffer, start: number, length: number): number {
  const text = field(header, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** Every entry of an uncompressed tar archive, in order. */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    if (!Number.isFinite(size) || size < 0) throw new Error(`corrupt tar header at offset ${offset}`);
    const type = field(header, 156, 1) || '0';
    const magic = field(header, 257, 6);
    const prefix = magic.startsWith('ustar') ? field(header, 345, 155) : '';
    let name = field(header, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    const dataStart = offset + 512;
    if (dataStart + size > tar.length) throw new Error(`truncated tar entry ${JSON.stringify(name)}`);
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (path) longName = path[1];
      continue;
    }
    if (type === 'g') continue;
    entries.push({ name: longName ?? name, type, data: Buffer.from(data) });
    longName = undefined;
  }
  return entries;
}

/** The content of one regular file of a .tar.gz, matched with or without a leading slash. */
export function extractFromTarGz(tarGz: Buffer, path: string): Buffer | undefined {
  const want = path.replace(/^\/+/, '');
  for (const entry of readTar(gunzipSync(tarGz))) {
    if ((entry.type === '0' || entry.type === '\0') && entry.name.replace(/^(\.\/|\/)+/, '') === want)
      return entry.data;
  }
  return undefined;
}
