// Writes of one event-loop turn held until its end (core/http1/write-batch.ts), on real loopback sockets.
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { batchWrites } from '../../core/http1/write-batch.ts';

describe('proxy write batching', () => {
  let server: Server;
  let peers: Socket[];
  let received: string[];
  let sockets: Socket[];

  beforeEach(async () => {
    received = [];
    peers = [];
    server = createServer((s) => {
      const i = received.push('') - 1;
      peers.push(s);
      s.on('data', (d) => (received[i] += d.toString()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    sockets = await Promise.all(
      [0, 1].map(async () => {
        const s = connect(port, '127.0.0.1');
        await once(s, 'connect');
        return s;
      }),
    );
  });

  afterEach(async () => {
    for (const s of [...sockets, ...peers]) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('holds the writes of this turn, for every socket written to, and sends them at its end, in order', async () => {
    const [a, b] = sockets;
    batchWrites(a);
    a.write('one ');
    batchWrites(b);
    batchWrites(a); // again in the same turn: still one cork
    b.write('other');
    a.write('two');
    expect(a.writableCorked).to.equal(1);
    expect(a.writableLength).to.equal('one two'.length);
    expect(b.writableLength).to.equal('other'.length);
    await nextTurn();
    expect(a.writableCorked).to.equal(0);
    expect(b.writableCorked).to.equal(0);
    expect(a.writableLength).to.equal(0);
    const deadline = Date.now() + 5000;
    while ((received[0] + received[1]).length < 'one twoother'.length && Date.now() < deadline) await nextTurn();
    expect([...received].sort()).to.deep.equal(['one two', 'other']);
  });

  it('batches again in the next turn, and a socket destroyed meanwhile does not stop the others', async () => {
    const [a, b] = sockets;
    batchWrites(a);
    await nextTurn();
    batchWrites(a);
    expect(a.writableCorked, 'corked again in a later turn').to.equal(1);
    batchWrites(b);
    b.write('kept');
    a.destroy();
    await nextTurn();
    expect(b.writableCorked).to.equal(0);
    expect(b.writableLength).to.equal(0);
  });
});
