// The floor of a Node.js proxy, for bench/proxy.bench.ts: the least a Node process can do per proxied request.
// Each client connection gets one upstream connection and the bytes are relayed both ways, unread: no parsing,
// no routing, no credentials, no log. A proxied request is then one read and one write on each socket, through
// net.Socket as every Node HTTP server and client uses it; what the connectors proxy costs above this is its own
// work, and what this costs above nginx is Node's.
//   node bench/node-relay.ts <listen port> <upstream port>      (prints "listening" once it accepts connections)
// RELAY_ONREAD=1: upstream sockets read with net's `onread` option (one reused buffer, no stream events), the
// cheapest read Node offers (its server sockets cannot be opened that way).
import { connect, createServer, type Socket } from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const ONREAD = process.env.RELAY_ONREAD === '1';

function upstream(client: Socket): Socket {
  if (!ONREAD) {
    const up = connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    up.on('data', (d: Buffer) => client.write(d));
    return up;
  }
  const buffer = Buffer.allocUnsafe(64 * 1024);
  return connect({
    port: upstreamPort,
    host: '127.0.0.1',
    noDelay: true,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array) => {
        client.write(Buffer.from(buf.subarray(0, n)));
        return true;
      },
    },
  });
}

createServer({ noDelay: true }, (client) => {
  const up = upstream(client);
  client.on('data', (d: Buffer) => up.write(d));
  const close = () => {
    client.destroy();
    up.destroy();
  };
  client.on('close', close).on('error', close);
  up.on('close', close).on('error', close);
}).listen(listenPort, '127.0.0.1', () => process.stdout.write('listening\n'));
