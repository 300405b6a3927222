// `connectors proxy --workers N`: N proxy processes (node:cluster) share one port, each injects the Connector's
// credentials, the primary says `listening` once all are, and SIGTERM stops them all.
import { objects, cluster, startRecordingUpstream, type RecordingUpstream, freePort } from '@connectors/test-support';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basic } from './fixture.ts';

const cli = fileURLToPath(new URL('../../cli/connectors.js', import.meta.url));

/** Pids whose parent is `pid` (from /proc, no procps needed). */
function childrenOf(pid: number): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(d);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('proxy: --workers', function () {
  this.timeout(120_000);
  let upstream: RecordingUpstream;
  let proxy: ChildProcess | undefined;

  after(async () => {
    proxy?.kill('SIGKILL');
    await upstream?.stop();
  });

  it('runs two worker processes on one port that answer with the Connector credentials injected, and stops them all on SIGTERM', async () => {
    const c = await cluster();
    const ns = await c.createNamespace('proxy-workers');
    const sys = await c.createNamespace('proxy-workers-sys');
    upstream = await startRecordingUpstream({ host: '127.0.0.1' });
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.basicAuthSecret('creds', 'tool-user', 'tool-pass'),
        objects.connector('tool', {
          className: 'git',
          address: upstream.url,
          auth: { name: 'basicAuth', secret: 'creds' },
        }),
        objects.serviceAccount('client'),
        objects.connectorReader({ name: 'client', serviceAccount: 'client', saNamespace: ns }),
      ),
    });
    const token = await c.createToken(ns, 'client', { audience: 'connectors-proxy' });
    const port = await freePort();
    const p = spawn(
      process.execPath,
      [cli, 'proxy', '--kubeconfig', c.kubeconfigPath, '--port', String(port), '--host', '127.0.0.1', '--workers', '2'],
      {
        env: { ...process.env, CONNECTORS_SYSTEM_NAMESPACE: sys, CONNECTORS_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    proxy = p;
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('listening')) resolve();
      });
      p.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${stdout}`)));
    });
    expect(stdout).to.match(/listening on http:\/\/127\.0\.0\.1:\d+ \(2 workers\)/);
    const workers = childrenOf(p.pid!);
    expect(workers).to.have.length(2);

    // New connections go to the workers in turn (round robin); every answer went through the injection.
    const url = `http://127.0.0.1:${port}/namespaces/${ns}/connectors/tool/repo?x=1`;
    for (let i = 0; i < 40; i++) {
      let r: Response | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        r = await fetch(url, { headers: { authorization: `Bearer ${token}`, connection: 'close' } });
        await r.arrayBuffer();
        if (r.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(r!.status).to.equal(200);
    }
    const seen = upstream.requests.filter((q) => q.url === '/repo?x=1');
    expect(seen.length).to.be.at.least(40);
    for (const q of seen) {
      expect(q.headers.authorization).to.equal(basic('tool-user', 'tool-pass'));
      expect(JSON.stringify(q.headers)).not.to.contain(token);
    }

    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    p.kill('SIGTERM');
    expect(await exited).to.equal(0);
    proxy = undefined;
    for (const pid of workers) expect(() => process.kill(Number(pid), 0)).to.throw();
    await c.deleteNamespace(ns);
    await c.deleteNamespace(sys);
  });
});
