import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { startRecordingUpstream, type RecordingUpstream } from '@connectors/test-support';

describe('peer: recording upstream', () => {
  let upstream: RecordingUpstream;
  beforeEach(async () => {
    upstream = await startRecordingUpstream();
  });
  afterEach(async () => {
    await upstream.stop();
  });

  it('records method, URL, headers and the raw body, and echoes them by default', async () => {
    const body = gzipSync(Buffer.from('{"hello":"world"}'));
    const res = await fetch(`${upstream.url}/api/things?x=1&x=2&token=abc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-api-key': 'k1' },
      body,
    });
    expect(res.status).to.equal(200);
    const echo = (await res.json()) as { method: string; url: string; bodyBase64: string };
    expect(echo.method).to.equal('POST');
    expect(Buffer.from(echo.bodyBase64, 'base64').equals(body)).to.equal(true);
    const rec = upstream.last();
    expect(rec.method).to.equal('POST');
    expect(rec.path).to.equal('/api/things');
    expect(rec.query.getAll('x')).to.deep.equal(['1', '2']);
    expect(rec.query.get('token')).to.equal('abc');
    expect(rec.headers['x-api-key']).to.equal('k1');
    expect(rec.body.equals(body)).to.equal(true);
  });

  it('answers with a configurable handler and records chunked bodies', async () => {
    upstream.setHandler((req, res) => {
      res.writeHead(201, { 'x-seen-length': String(req.body.length) });
      res.end('made');
    });
    const parts = ['a'.repeat(1000), 'b'.repeat(1000)];
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(Buffer.from(p));
        c.close();
      },
    });
    const res = await fetch(`${upstream.url}/upload`, { method: 'PUT', body: stream, duplex: 'half' });
    expect(res.status).to.equal(201);
    expect(await res.text()).to.equal('made');
    expect(res.headers.get('x-seen-length')).to.equal('2000');
    expect(upstream.last().headers['transfer-encoding']).to.equal('chunked');
    expect(upstream.last().body.toString()).to.equal(parts.join(''));
    expect(upstream.requests).to.have.length(1);
  });
});
