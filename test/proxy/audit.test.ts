// The audit line (built by hand from AuditRecord's fixed fields instead of the logger's generic
// copy-and-redact), the per-millisecond timestamp cache, preformatted log lines and counter tallies: each
// compared with what the generic way gives for the same input.
import { expect } from 'chai';
import { createLogger, isoTime, redact, setLogLevel, setLogSink } from '../../core/observability/log.ts';
import { registry } from '../../core/observability/metrics.ts';
import { Audit, AUDIT_FIELDS, auditJson, stripQuery, type AuditRecord } from '../../proxy/audit.ts';

const rec = (over: Partial<AuditRecord>): AuditRecord => ({
  mode: 'reverse',
  connector: 'ns/c',
  serviceAccount: 'ns/sa',
  method: 'GET',
  path: '/x',
  status: 200,
  bytesIn: 0,
  bytesOut: 17,
  durationMs: 1.23456,
  injected: true,
  ...over,
});

/** The audit fields as the generic logger wrote them before: the record with the query stripped, durationMs rounded. */
const generic = (r: AuditRecord): Record<string, unknown> =>
  JSON.parse(
    JSON.stringify(redact({ ...r, path: stripQuery(r.path), durationMs: Math.round(r.durationMs * 100) / 100 })),
  );

describe('proxy: audit line', () => {
  const records: Array<[string, AuditRecord]> = [
    ['a plain reverse request', rec({})],
    [
      'no injection field, a reason',
      rec({ mode: 'connect', injected: undefined, reason: 'forbidden: x may not get connector ns/c', status: 403 }),
    ],
    ['not injected', rec({ injected: false, reason: undefined, bytesIn: 12345678901, bytesOut: 0 })],
    ['the query is dropped', rec({ path: '/a/b?access_token=s3cr3t&x=1' })],
    [
      'quotes, backslashes, control and non-ASCII characters',
      rec({
        path: '/"q"\\b\u0001\n\t/é/\u2028/😀',
        connector: 'n"s/c\\',
        serviceAccount: 'system:anonymous',
        method: 'M"',
      }),
    ],
    ['a lone surrogate', rec({ path: '/\ud800x' })],
    [
      'every printable ASCII character but ? (the query), and DEL',
      rec({ path: '/' + String.fromCharCode(...Array.from({ length: 96 }, (_, i) => 0x20 + i)).replace('?', '') }),
    ],
    [
      'empty strings and zero duration',
      rec({ connector: '', serviceAccount: '', method: '', path: '', status: 0, durationMs: 0 }),
    ],
    ['a duration to round', rec({ durationMs: 1234.5678 })],
    ['a forward path', rec({ mode: 'forward', path: 'https://h.example.com:8443/p?token=t' })],
  ];
  for (const [what, r] of records) {
    it(`same fields and values as the generic line: ${what}`, () => {
      const text = '{' + auditJson(r) + '}';
      const parsed = JSON.parse(text) as Record<string, unknown>;
      expect(parsed).to.deep.equal(generic(r));
      // Fixed key order, the optional fields only when set.
      expect(Object.keys(parsed)).to.deep.equal(AUDIT_FIELDS.filter((k) => r[k] !== undefined));
      expect(text).not.to.contain('s3cr3t');
      expect(text).not.to.contain('token=');
    });
  }

  it('the start of a line reused for repeated fields follows every change of them', () => {
    const seq: AuditRecord[] = [
      rec({}),
      rec({}),
      rec({ mode: 'forward' }),
      rec({ mode: 'forward', connector: 'ns/d' }),
      rec({ mode: 'forward', connector: 'ns/d' }),
      rec({ connector: 'ns/d', serviceAccount: 'ns/other' }),
      rec({ connector: 'ns/d', serviceAccount: 'ns/other', method: 'POST' }),
      rec({}),
    ];
    for (const [i, r] of seq.entries())
      expect(JSON.parse('{' + auditJson(r) + '}'), String(i)).to.deep.equal(generic(r));
  });

  it('no audit field is one whose value the logger would redact', () => {
    for (const k of AUDIT_FIELDS) expect(redact({ [k]: 'v' }), k).to.deep.equal({ [k]: 'v' });
    // The guard itself still works on a credential-looking name.
    expect(redact({ token: 'v' })).to.deep.equal({ token: '[redacted]' });
  });

  it('writes the lines through the logger: same head as a generic line, ts of each request end, no query', async () => {
    const lines: string[] = [];
    const restore = setLogSink((l) => lines.push(l));
    try {
      const log = createLogger('proxy').child({ audit: true });
      const audit = new Audit(log);
      const before = Date.now();
      audit.record(rec({ path: '/one?api_key=k1' }));
      await new Promise((r) => setTimeout(r, 15));
      const middle = Date.now();
      audit.record(rec({ path: '/two', injected: undefined, reason: 'no token', status: 401 }));
      const after = Date.now();
      log.info('request', { mode: 'x' }); // a generic line, for its head
      expect(lines).to.have.length(3);
      const [a, b, g] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const head = (o: Record<string, unknown>) => Object.keys(o).slice(0, 5);
      expect(head(a)).to.deep.equal(['ts', 'level', 'component', 'msg', 'audit']);
      expect(head(a)).to.deep.equal(head(g));
      expect(a).to.include({
        level: 'info',
        component: 'proxy',
        msg: 'request',
        audit: true,
        path: '/one',
        status: 200,
      });
      expect(b).to.include({ path: '/two', status: 401, reason: 'no token' });
      const ts = (o: Record<string, unknown>) => Date.parse(o.ts as string);
      expect(ts(a)).to.be.within(before, middle);
      expect(ts(b)).to.be.within(middle, after);
      expect(ts(b)).to.be.greaterThan(ts(a));
      expect(lines.join('\n')).not.to.contain('k1');
    } finally {
      restore();
    }
  });

  it('preformatted lines follow the log level', () => {
    const lines: string[] = [];
    const restore = setLogSink((l) => lines.push(l));
    try {
      const log = createLogger('c', { base: 1 });
      setLogLevel('warn');
      log.preformatted('info', 'm', '"a":1');
      expect(lines).to.deep.equal([]);
      log.preformatted('warn', 'm', '"a":1', Date.UTC(2026, 0, 2, 3, 4, 5, 6));
      log.preformatted('error', 'n', '');
      expect(JSON.parse(lines[0])).to.deep.equal({
        ts: '2026-01-02T03:04:05.006Z',
        level: 'warn',
        component: 'c',
        msg: 'm',
        base: 1,
        a: 1,
      });
      expect(JSON.parse(lines[1])).to.include({ level: 'error', msg: 'n', base: 1 });
      // Alternating levels and messages: each line keeps its own.
      const seq: Array<['warn' | 'error', string]> = [
        ['warn', 'm'],
        ['warn', 'm'],
        ['error', 'm'],
        ['error', 'n'],
        ['warn', 'n'],
        ['warn', 'm'],
      ];
      for (const [level, msg] of seq) log.preformatted(level, msg, '"i":0', 0);
      expect(lines.slice(2).map((l) => JSON.parse(l) as Record<string, unknown>)).to.deep.equal(
        seq.map(([level, msg]) => ({ ts: '1970-01-01T00:00:00.000Z', level, component: 'c', msg, base: 1, i: 0 })),
      );
    } finally {
      setLogLevel('info');
      restore();
    }
  });

  it('isoTime is toISOString, also when the millisecond or second changes back and forth', () => {
    const day = Date.UTC(2026, 10, 22);
    const times = [
      0,
      0,
      1,
      9,
      10,
      99,
      100,
      999,
      1000,
      1000,
      999,
      1001,
      day - 1,
      day,
      day + 7,
      day + 70,
      day + 700,
      day + 999,
      day + 1000,
      day + 1,
      day + 86_399_999,
      -1,
      -2,
      -999,
      -1000,
      -1001,
      8.64e15,
      -8.64e15,
      1.5,
      1.5,
      2.9,
      -0.5,
      253402300799999,
      253402300800000,
      253402300800001,
    ];
    for (const ms of times) expect(isoTime(ms), String(ms)).to.equal(new Date(ms).toISOString());
    for (let ms = day - 2500; ms < day + 2500; ms += 7)
      expect(isoTime(ms), String(ms)).to.equal(new Date(ms).toISOString());
    expect(() => isoTime(Number.NaN)).to.throw(RangeError);
    expect(isoTime(8.64e15)).to.equal(new Date(8.64e15).toISOString());
    expect(() => isoTime(8.64e15 + 1)).to.throw(RangeError); // the same second as the last valid date
    const now = Date.now();
    expect(Date.parse(isoTime())).to.be.within(now, Date.now());
  });

  it('counts requests and durations in the process registry', async () => {
    const audit = new Audit(createLogger('proxy'));
    const restore = setLogSink(() => {});
    try {
      for (let i = 0; i < 3; i++) audit.record(rec({ connector: 'tally/c', status: 299 }));
      // Label sets that change from one record to the next.
      for (const [connector, status, mode] of [
        ['tally/c', 298, 'reverse'],
        ['tally/d', 299, 'reverse'],
        ['tally/c', 299, 'forward'],
        ['tally/c', 299, 'reverse'],
      ] as const)
        audit.record(rec({ connector, status, mode }));
    } finally {
      restore();
    }
    const text = await registry.metrics();
    expect(text).to.contain('connectors_proxy_requests_total{mode="reverse",connector="tally/c",code="299"} 4');
    expect(text).to.contain('connectors_proxy_requests_total{mode="reverse",connector="tally/c",code="298"} 1');
    expect(text).to.contain('connectors_proxy_requests_total{mode="reverse",connector="tally/d",code="299"} 1');
    expect(text).to.contain('connectors_proxy_requests_total{mode="forward",connector="tally/c",code="299"} 1');
    expect(text).to.match(/connectors_proxy_request_duration_seconds_count\{mode="reverse"\} [1-9]/);
  });
});
