// The gate step of the volume source (csi/source.ts), between resolving a volume's Connectors and issuing
// anything for it: the slot the approval of mounts plugs into. A gate sees the resolved Connectors (after
// scope), may replace the files (e.g. only `.error.json`, with no token issued) or refuse with a CsiError
// that kubelet reports, leaving nothing at the target.
import { lstat } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { readFileSet } from '../../csi/atomicwriter.ts';
import { unavailable } from '../../csi/errors.ts';
import type { VolumeGate } from '../../csi/source.ts';
import { setupCsi, type CsiEnv } from './fixture.ts';
import type { RpcError } from './client.ts';

describe('csi: the gate between resolving a volume and issuing its files', function () {
  this.timeout(120_000);
  let env: CsiEnv;
  let decide: VolumeGate = () => Promise.resolve(undefined);
  const seen: string[][] = [];

  before(async () => {
    env = await setupCsi('csi-gate', {
      gate: async (req, connectors) => {
        seen.push(connectors.map((c) => `${c.connector.metadata.namespace}/${c.connector.metadata.name}`));
        return decide(req, connectors);
      },
    });
    await env.connector(env.ns, 'git', 'https://github.com');
  });
  after(async () => env?.stop());

  it('undefined: the volume is rendered as usual, and the gate saw the resolved Connector', async () => {
    decide = () => Promise.resolve(undefined);
    seen.length = 0;
    const { target } = await env.publish({ connectors: 'git', 'configuration.names': 'gitconfig' });
    expect((await readFileSet(target))!.has('context.token')).to.equal(true);
    expect(seen).to.deep.equal([[`${env.ns}/git`]]);
  });

  it('a file set: exactly those files are mounted, and no token is issued', async () => {
    const error = JSON.stringify({ code: 7, message: 'the access request was rejected' });
    decide = () => Promise.resolve(new Map([['.error.json', error]]));
    const { target } = await env.publish({ connectors: 'git', 'configuration.names': 'gitconfig' });
    expect([...(await readFileSet(target))!]).to.deep.equal([['.error.json', error]]);
    const line = env.logs.map((l) => JSON.parse(l)).findLast((l) => l.msg === 'volume published');
    expect(line.issuer).to.equal('none (the gate decided the files)');
  });

  it('a CsiError: kubelet gets its code and message, and nothing is left at the target', async () => {
    decide = () => Promise.reject(unavailable('waiting for the access request to be approved'));
    const target = env.target();
    const err = (await env.publish({ connectors: 'git' }, { target }).catch((e) => e)) as RpcError;
    expect(err.code).to.equal(status.UNAVAILABLE);
    expect(err.details).to.equal('waiting for the access request to be approved');
    expect(
      await lstat(target).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
  });

  it('runs after scope: a Connector outside the Pod’s scope is refused before the gate is asked', async () => {
    decide = () => Promise.resolve(undefined);
    seen.length = 0;
    const other = await env.c.createNamespace('csi-gate-other');
    await env.connector(other, 'elsewhere', 'https://example.com');
    const err = (await env.publish({ connectors: `${other}/elsewhere` }).catch((e) => e)) as RpcError;
    expect(err.code).to.equal(status.PERMISSION_DENIED);
    expect(seen).to.deep.equal([]);
    await env.c.deleteNamespace(other);
  });
});
