// The checked-in csi/generated types are what `npm run gen:csi` makes from csi/csi.proto.
import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateProtoTypes, GENERATED_DIR } from '../../csi/proto-types.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile())
      out.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name), 'utf8'));
  return out;
}

describe('csi: types generated from csi.proto', function () {
  this.timeout(60_000);
  it('csi/generated holds exactly what npm run gen:csi generates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csi-proto-'));
    try {
      generateProtoTypes(dir);
      const want = await files(dir);
      const have = await files(join(root, GENERATED_DIR));
      expect([...have.keys()].sort(), 'run npm run gen:csi').to.deep.equal([...want.keys()].sort());
      for (const [name, text] of want) expect(have.get(name), `${name}: run npm run gen:csi`).to.equal(text);
      expect(want.size).to.be.above(30);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
