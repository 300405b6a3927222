// Clients that never read, and what they may hold: the proxy runs as its own process with the CLI's limit flags.
// 300 clients of one ServiceAccount that ask for a large body and never read it must not keep another
// ServiceAccount from the same Connector (per-ServiceAccount cap, 429 beyond it); a response nobody reads is cut
// after the send timeout and its upstream connection freed; when every pooled connection to an origin is busy, a
// request waits a bounded time and gets 503; a request whose body never finishes arriving gets 408.
import { expect } from 'chai';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { cluster, type Cluster, eventually, objects } from '@connectors/test-support';
import { startProxyProcess, type ProxyProcess } from './proxy-process.ts';

/** CPU time (user and system, in clock ticks of 10 ms) process `pid` has used. */
async function cpuTicks(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Waits (at most 60 s) until process `pid` uses less than 30 ms of CPU in each of two half seconds in a row. */
async function settled(pid: number): Promise<void> {
  let last = await cpuTicks(pid);
  let quiet = 0;
  for (let i = 0; i < 120 && quiet < 2; i++) {
    await sleep(500);
    const now = await cpuTicks(pid);
    quiet = now - last < 3 ? quiet + 1 : 0;
    last = now;
  }
}

const BIG = Buffer.alloc(16 * 1024 * 1024, 'b'); // far more than the socket buffers on the way hold

describe('proxy: clients that never read (the proxy as its own process)', function () {
  this.timeout(300_000);
  let c: Cluster;
  let ns: string;
  let sys: string;
  let upstream: Server;
  let upstreamPort: number;
  /** /big responses the upstream began, and how many of them were cut before their end. */
  const big = { started: 0, cut: 0 };
  const clients: Socket[] = [];
  const tokens: Record<string, string> = {};

  const get = (path: string, sa: string) =>
    `GET /namespaces/${ns}/connectors/up${path} HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer ${tokens[sa]}\r\n\r\n`;

  /** A client that sends `text` and never reads a byte. */
  function stalled(port: number, text: string): Socket {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    s.on('error', () => {});
    clients.push(s);
    return s;
  }

  /** Sends `text` and reads the whole answer; resolves with it and the time it took. */
  function ask(port: number, text: string, until = (got: string) => got.includes('\r\n\r\n') && got.endsWith('ok')) {
    return new Promise<{ got: string; ms: number }>((resolve) => {
      const t0 = performance.now();
      const s = connect(port, '127.0.0.1', () => s.write(text));
      let got = '';
      const done = () => {
        s.destroy();
        resolve({ got, ms: performance.now() - t0 });
      };
      const timer = setTimeout(done, 20_000);
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (until(got)) {
          clearTimeout(timer);
          done();
        }
      });
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(timer);
        done();
      });
    });
  }

  async function proxyProcess(args: string[]): Promise<ProxyProcess> {
    const p = await startProxyProcess({ kubeconfigPath: c.kubeconfigPath, systemNamespace: sys, args });
    await eventually(
      'the proxy to serve the connector',
      async () => (await ask(p.port, get('/small', 'fast'))).got.startsWith('HTTP/1.1 200'),
      30_000,
      100,
    );
    return p;
  }

  before(async () => {
    c = await cluster();
    ns = await c.createNamespace('proxy-stalled');
    sys = await c.createNamespace('proxy-stalled-sys');
    upstream = createServer((req, res: ServerResponse) => {
      if (req.url === '/big') {
        big.started++;
        res.on('close', () => !res.writableFinished && big.cut++);
        res.writeHead(200, { 'content-length': BIG.length }).end(BIG);
      } else {
        // Answered once the request body has arrived, as a server that needs it would.
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-length': 2 }).end('ok'));
      }
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as { port: number }).port;
    for (const sa of ['slow', 'fast']) await c.createServiceAccount(ns, sa);
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.connector('up', { className: 'git', address: `http://127.0.0.1:${upstreamPort}` }),
        objects.connectorReader({ name: 'slow', serviceAccount: 'slow', saNamespace: ns }),
        objects.connectorReader({ name: 'fast', serviceAccount: 'fast', saNamespace: ns }),
      ),
    });
    for (const sa of ['slow', 'fast']) tokens[sa] = await c.createToken(ns, sa, { audience: 'connectors-proxy' });
  });
  after(async () => {
    upstream?.closeAllConnections();
    upstream?.close();
    if (ns) await c.deleteNamespace(ns);
    if (sys) await c.deleteNamespace(sys);
  });

  describe('with the default limits', () => {
    let proxy: ProxyProcess;
    before(async () => {
      proxy = await proxyProcess([]);
      big.started = big.cut = 0;
    });
    after(async () => {
      for (const s of clients.splice(0)) s.destroy();
      await proxy?.stop();
    });

    it('300 clients that never read do not keep a normal request through the same Connector past 2 s', async () => {
      // The same request first, without them: how long this machine takes now (and its token's review cached).
      await ask(proxy.port, get('/small', 'fast'));
      const idle = await ask(proxy.port, get('/small', 'fast'));
      expect(idle.got).to.match(/^HTTP\/1\.1 200 /);
      for (let i = 0; i < 300; i++) stalled(proxy.port, get('/big', 'slow'));
      // They arrive: as many as go upstream start their bodies there (the others wait or are refused).
      await eventually('the stalled requests to reach the upstream', () => big.started >= 128, 30_000, 50);
      // Then the proxy copies the bodies until every buffer on the way to the clients is full; once it has
      // stopped working (its CPU time stands still), the clients stall it as much as they ever will.
      await settled(proxy.child.pid!);
      const { got, ms } = await ask(proxy.port, get('/small', 'fast'));
      expect(got).to.match(/^HTTP\/1\.1 200 /);
      // 2 s, or four times what the request took without them on a machine too busy to answer in 2 s at all.
      expect(ms, `the normal request took (${Math.round(idle.ms)} ms without them)`).to.be.lessThan(
        Math.max(2000, 4 * idle.ms),
      );
      // 128 (the per-ServiceAccount cap) went upstream, the other 172 were answered 429.
      expect(big.started).to.equal(128);
      expect(proxy.audit().filter((a) => a.status === 429 && a.serviceAccount === `${ns}/slow`)).to.have.length(172);
      expect(proxy.alive()).to.equal(true);
    });
  });

  describe('with four connections per origin, 0.5 s of pool wait and a 3 s send timeout', () => {
    let proxy: ProxyProcess;
    let t0 = 0;
    before(async () => {
      proxy = await proxyProcess([
        '--upstream-connections',
        '4',
        '--pool-wait-seconds',
        '0.5',
        '--send-timeout-seconds',
        '3',
        '--max-requests-per-service-account',
        '0',
      ]);
    });
    after(async () => {
      for (const s of clients.splice(0)) s.destroy();
      await proxy?.stop();
    });

    it('a request waits a bounded time for a pooled connection to a busy origin, then gets 503', async () => {
      big.started = big.cut = 0;
      t0 = Date.now();
      for (let i = 0; i < 4; i++) stalled(proxy.port, get('/big', 'slow'));
      await eventually('the four connections to be taken', () => big.started === 4, 30_000, 20);
      const { got, ms } = await ask(proxy.port, get('/small', 'fast'), (g) => /busy/.test(g));
      expect(got)
        .to.match(/^HTTP\/1\.1 503 /)
        .and.match(/retry-after: 1/i)
        .and.match(/is busy: no connection became free/);
      expect(ms).to.be.greaterThan(400).and.lessThan(5000);
    });

    it('cuts a response its client does not read after the send timeout, which frees the upstream connection', async () => {
      await eventually('the stalled responses to be cut', () => big.cut === 4, 15_000, 50);
      expect(Date.now() - t0, 'cut after')
        .to.be.greaterThan(2500)
        .and.lessThan(12_000);
      const cut = proxy.audit().filter((a) => /send timeout/.test(String(a.reason)));
      expect(cut).to.have.length(4);
      const { got } = await ask(proxy.port, get('/small', 'fast'));
      expect(got).to.match(/^HTTP\/1\.1 200 /);
    });
  });

  it('closes connections beyond the per-process cap as they come, and takes new ones once others close', async () => {
    const proxy = await proxyProcess(['--max-connections', '20']);
    try {
      const open = async (n: number) => {
        const sockets = Array.from({ length: n }, () => {
          const s = connect(proxy.port, '127.0.0.1');
          s.on('error', () => {});
          clients.push(s);
          return s;
        });
        await sleep(500);
        return sockets;
      };
      const first = await open(30);
      const closed = first.filter((s) => s.destroyed || s.readableEnded || s.closed);
      expect(closed.length, 'connections closed by the proxy').to.equal(10);
      for (const s of first) s.destroy();
      await sleep(300);
      const { got } = await ask(proxy.port, get('/small', 'fast'));
      expect(got).to.match(/^HTTP\/1\.1 200 /);
    } finally {
      for (const s of clients.splice(0)) s.destroy();
      await proxy.stop();
    }
  });

  it('answers 408 to a request whose body does not arrive within the request timeout', async () => {
    const proxy = await proxyProcess(['--request-timeout-seconds', '2']);
    try {
      const t0 = Date.now();
      const { got } = await ask(
        proxy.port,
        `POST /namespaces/${ns}/connectors/up/upload HTTP/1.1\r\nHost: proxy\r\n` +
          `Authorization: Bearer ${tokens.fast}\r\nContent-Length: 100000\r\n\r\nonly the start`,
        () => false,
      );
      const took = Date.now() - t0;
      expect(took, 'closed after').to.be.greaterThan(1500).and.lessThan(8000);
      expect(got).to.match(/^HTTP\/1\.1 408 /);
    } finally {
      await proxy.stop();
    }
  });
});
