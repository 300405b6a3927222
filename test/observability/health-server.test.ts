// The health and metrics endpoint: checks named in the 503 body, and a request it cannot answer gets a 500
// naming why instead of ending the process (an unhandled rejection would).
import { expect } from 'chai';
import { connect } from 'node:net';
import { startHealthServer, type HealthServer } from '../../core/observability/server.ts';

/** One raw HTTP/1.0 exchange (a body not chunked): the status line and body of the answer. */
function exchange(port: number, request: string): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: head.split('\r\n')[0], body: rest.join('\r\n\r\n') });
    });
    socket.end(`${request} HTTP/1.0\r\nHost: health\r\n\r\n`);
  });
}

describe('health server', () => {
  let server: HealthServer;
  let readinessThrows = false;

  before(async () => {
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      readiness: () => {
        if (readinessThrows) throw new Error('the readiness list is being rebuilt');
        return { caches: () => 'Connectors not listed yet', leader: () => true };
      },
      liveness: { alive: () => true },
    });
  });
  after(() => server.close());

  const cases: Array<[string, string, string, RegExp]> = [
    ['/healthz passes', 'GET /healthz', 'HTTP/1.1 200 OK', /^ok\n$/],
    [
      '/readyz names the failing check',
      'GET /readyz',
      'HTTP/1.1 503 Service Unavailable',
      /^not ready: caches failed: Connectors not listed yet\n$/,
    ],
    [
      '/readyz?verbose lists every check',
      'GET /readyz?verbose',
      'HTTP/1.1 503 Service Unavailable',
      /^\[-\]caches failed: Connectors not listed yet\n\[\+\]leader ok\nreadyz check failed\n$/,
    ],
    ['an unknown path', 'GET /nothing', 'HTTP/1.1 404 Not Found', /^not found\n$/],
    [
      'a target no URL parser reads',
      'GET http://health:port/healthz',
      'HTTP/1.1 500 Internal Server Error',
      /^internal error: .*Invalid URL/,
    ],
  ];
  for (const [what, line, status, body] of cases)
    it(what, async () => {
      const r = await exchange(server.port, line);
      expect(r.status).to.equal(status);
      expect(r.body).to.match(body);
    });

  it('a readiness list that throws: 500 naming why, and the server keeps answering', async () => {
    readinessThrows = true;
    try {
      const r = await exchange(server.port, 'GET /readyz');
      expect(r.status).to.equal('HTTP/1.1 500 Internal Server Error');
      expect(r.body).to.equal('internal error: the readiness list is being rebuilt\n');
    } finally {
      readinessThrows = false;
    }
    expect((await exchange(server.port, 'GET /healthz')).status).to.equal('HTTP/1.1 200 OK');
  });
});
