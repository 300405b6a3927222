// The proxy's plain HTTP/1.1 listener: a node:http server with the proxy's limits and timeouts, the front
// (core/http1/front.ts) before it for the bodiless requests it answers itself, CONNECT, node's refusals of
// unparsable requests, and the cap on client connections (which the TLS listener's connections count against
// too: tls.ts hands them to this server). Which protocol serves a request is the caller's choice (index.ts).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer } from '../core/util/node-http.ts';
import { installFront, type FrontOptions } from '../core/http1/front.ts';
import { serverOptions } from '../core/http1/server-options.ts';
import { responseStarted } from '../core/http1/exchange.ts';
import { clientErrorStatus, closingResponse } from '../core/http1/status.ts';

export interface ListenerOptions {
  maxHeaderSize: number;
  /** Idle keep-alive time of client connections. */
  keepAliveTimeoutMs: number;
  /** Longest time to receive a whole request, body included; then 408. */
  requestTimeoutMs: number;
  /** Client connections open at once (Infinity: no cap). */
  maxConnections: number;
  /** Longest wait for a client to read what the front wrote. */
  sendTimeoutMs: number;
}

export interface ListenerHandlers {
  /** A request node:http parsed (everything the front does not take; also `Expect: 100-continue`). */
  request: (req: IncomingMessage, res: ServerResponse) => void;
  /** Bodiless requests the front answers: which, and how. */
  front: Pick<FrontOptions, 'accepts' | 'handle'>;
  connect: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
}

export interface Listener {
  /** The HTTP server (the TLS listener hands its connections to it). */
  server: Server;
  /** Listens; resolves with the port. */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting and closes every client connection. */
  close(): Promise<void>;
}

export function createListener(opts: ListenerOptions, handlers: ListenerHandlers): Listener {
  const { maxHeaderSize, keepAliveTimeoutMs, requestTimeoutMs, maxConnections } = opts;
  const options = serverOptions({ maxHeaderSize, keepAliveTimeoutMs, requestTimeoutMs });
  const headersTimeoutMs = options.headersTimeout;
  const server = createServer(options, handlers.request);
  server.maxConnections = maxConnections;
  // Expect: 100-continue is answered once the client is authorised (continueIfExpected), not by node at once.
  server.on('checkContinue', handlers.request);
  // Bodiless reverse-mode GET/HEAD requests are answered by the front; everything else by node:http.
  const front = installFront({
    server,
    maxHeaderSize,
    headersTimeoutMs,
    keepAliveTimeoutMs,
    sendTimeoutMs: opts.sendTimeoutMs,
    ...handlers.front,
  });
  server.on('connect', handlers.connect);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way (a request timed out while the tool answered) cannot get another head.
    if (!socket.writable || responseStarted(socket)) return socket.destroy();
    const status = clientErrorStatus(err.code);
    const text =
      status === 431 ? 'request header fields too large\n' : status === 408 ? 'request timeout\n' : 'bad request\n';
    socket.end(closingResponse(status, 'text/plain', text));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    // The plain listener refuses connections beyond the cap itself (maxConnections); the TLS listener's come
    // here once established, and count against the same cap.
    if (sockets.size >= maxConnections) return void s.destroy();
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  return {
    server,
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      return (server.address() as AddressInfo).port;
    },
    async close() {
      front.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
