// CONNECT to the host:port of an http Connector address: clients whose proxy agent tunnels every request (Yarn's)
// send plain HTTP inside the tunnel; the proxy reads it as forward requests and injects the Connector's
// credentials. Other hosts are refused unless the proxy allows them (test/proxy/forward.test.ts).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  runCommand,
  startRecordingUpstream,
  type RecordingUpstream,
  eventually,
  objects,
} from '@connectors/test-support';
import { auditLines, basic, setup, type Env } from './fixture.ts';

describe('proxy: CONNECT tunnels carrying plain HTTP to an http Connector address', function () {
  this.timeout(120_000);
  let env: Env;
  let up: RecordingUpstream;
  let other: RecordingUpstream;
  let token: string;
  const secret = 'P-' + randomBytes(6).toString('hex');
  const curl = (url: string, user = `${env.ns}/plain`) =>
    runCommand('curl', ['-sS', '--fail', '-p', '-x', env.proxy.url, '--proxy-user', `${user}:${token}`, url]);

  before(async () => {
    up = await startRecordingUpstream();
    other = await startRecordingUpstream();
    env = await setup('proxy-connect-http');
    await env.apply(
      objects.yaml(
        objects.basicAuthSecret('plain', 'up-user', secret),
        objects.connector('plain', { className: 'git', address: up.url, auth: { name: 'basicAuth', secret: 'plain' } }),
      ),
    );
    await env.serviceAccount('client', ['plain']);
    token = await env.token('client');
    await eventually(
      'the proxy to see the connector',
      async () => (await curl(`${up.url}/ready`)) && up.requests.length > 0,
      30_000,
      100,
    );
  });
  after(async () => {
    await env?.stop();
    await up?.stop();
    await other?.stop();
  });

  it('injects the credentials into the requests inside the tunnel (curl --proxytunnel), and audits them', async () => {
    up.clear();
    const before = env.logs.length;
    const { stdout } = await curl(`${up.url}/pkg/a?x=1`);
    expect(JSON.parse(stdout).url).to.equal('/pkg/a?x=1');
    expect(up.last().headers.authorization).to.equal(basic('up-user', secret));
    expect(up.last().headers['proxy-authorization']).to.equal(undefined);
    const lines = auditLines(env.logs.slice(before));
    expect(lines.some((l) => l.mode === 'connect' && l.path === `${up.url}/pkg/a` && l.status === 200)).to.equal(true);
  });

  it('refuses a CONNECT to any other host (403 by default): nothing reaches it', async () => {
    other.clear();
    let failure = '';
    await curl(`${other.url}/x`).catch((e: Error) => (failure = e.message));
    expect(failure).to.match(/403/);
    expect(other.requests).to.have.length(0);
  });
});
