// ResourceInterface expressions: where `{…}` starts and ends (acorn), what they evaluate to (QuickJS), and that
// the sandbox holds nothing of the host and stops runaway expressions.
import { expect } from 'chai';
import {
  DEFAULT_LIMITS,
  Evaluator,
  ExpressionError,
  ExpressionSyntaxError,
  MAX_MESSAGE,
  MAX_SANDBOX_WORKERS,
  paramReferences,
  parseTemplate,
  type Limits,
  type Scope,
} from '../../core/resourceinterface/expression.ts';

const connector = {
  metadata: { name: 'harbor', namespace: 'team-a' },
  spec: { address: 'https://harbor.example.com:8443/base/' },
  status: { proxy: { httpAddress: { url: 'http://10.0.0.5/namespaces/team-a/connectors/harbor' } } },
};
const scope: Scope = {
  params: { repository: 'apps/web', tags: ['1.0', 'latest'], revision: 'refs/heads/main' },
  connector,
  connectors: 'team-a/harbor,team-a/mirror',
};

describe('resourceinterfaces: expressions', () => {
  describe('parseTemplate', () => {
    const ok: Array<[string, Array<string | { e: string }>]> = [
      ['plain text', ['plain text']],
      ['{params.repository}', [{ e: 'params.repository' }]],
      ['a-{connector.metadata.name}-b', ['a-', { e: 'connector.metadata.name' }, '-b']],
      ["{'}'}", [{ e: "'}'" }]],
      ['{JSON.stringify({a: {b: 1}})}', [{ e: 'JSON.stringify({a: {b: 1}})' }]],
      ['{ params.x }', [{ e: ' params.x ' }]],
      ['x}y', ['x}y']],
      ['{a}{b}', [{ e: 'a' }, { e: 'b' }]],
      ["{(params.a || 'x')}", [{ e: "(params.a || 'x')" }]],
      ['x-{(a, b)}', ['x-', { e: '(a, b)' }]],
      ['{(a).b}', [{ e: '(a).b' }]],
    ];
    for (const [text, want] of ok) {
      it(`splits ${JSON.stringify(text)}`, () => {
        const got = parseTemplate(text).map((s) => ('text' in s ? s.text : { e: s.expression }));
        expect(got).to.deep.equal(want);
      });
    }

    const bad: Array<[string, RegExp]> = [
      ['{a +}', /opened at column 1 does not parse: Unexpected token at column 5/],
      ['{connector.spec.address', /opened at column 1 has no closing "}"/],
      ['{"a": 1}', /expected "}" at column 5, found ":"/],
      ['{}', /does not parse: Unexpected token at column 2/],
      ['ok {b', /opened at column 4 has no closing/],
      ['{a b}', /expected "}" at column 4, found "b"/],
      ['{(}', /opened at column 1 does not parse/],
    ];
    for (const [text, message] of bad) {
      it(`rejects ${JSON.stringify(text)}`, () => {
        expect(() => parseTemplate(text))
          .to.throw(ExpressionSyntaxError)
          .with.property('message')
          .that.matches(message);
      });
    }

    it('finds params.<name> references, dotted and computed', () => {
      const refs = paramReferences(parseTemplate("{params.a + params['b-c'] + f(params.d.e)} {connector.params}"));
      expect(refs.sort()).to.deep.equal(['a', 'b-c', 'd']);
    });
  });

  describe('Evaluator', () => {
    let ev: Evaluator;
    beforeEach(async () => {
      ev = await Evaluator.create();
    });
    afterEach(() => ev.dispose());

    /** The error a promise rejects with (the test fails if it fulfils). */
    const rejection = (p: Promise<unknown>): Promise<Error> =>
      p.then(
        (v) => {
          throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
        },
        (err: Error) => err,
      );

    const values: Array<[string, unknown]> = [
      ["{connector.spec.address + '/' + params.repository}", 'https://harbor.example.com:8443/base//apps/web'],
      [
        "{connector.spec.address.replace(/\\/+$/, '') + '/' + params.repository}",
        'https://harbor.example.com:8443/base/apps/web',
      ],
      ["{url(connector.spec.address).host + '/' + params.repository}", 'harbor.example.com:8443/apps/web'],
      [
        "{params.tags.map(tag => url(connector.spec.address).host + '/' + params.repository + ':' + tag)}",
        ['harbor.example.com:8443/apps/web:1.0', 'harbor.example.com:8443/apps/web:latest'],
      ],
      ['{params.revision}', 'refs/heads/main'],
      ['{connectors}', 'team-a/harbor,team-a/mirror'],
      ['{JSON.stringify({settings: {mirror: params.repository}})}', '{"settings":{"mirror":"apps/web"}}'],
      ['{params.tags.length}', 2],
      ['{params.nope}', undefined],
      ['{`${connector.metadata.namespace}/${connector.metadata.name}`}', 'team-a/harbor'],
      ['ns={connector.metadata.namespace}, tags={params.tags}', 'ns=team-a, tags=["1.0","latest"]'],
      ["{url('http://h:1/p?q=1').pathname + url('http://h:1/p?q=1').search + url('http://h:1').port}", '/p?q=11'],
      ['no expression', 'no expression'],
    ];
    for (const [text, want] of values) {
      it(`evaluates ${text}`, async () => {
        expect(await ev.evaluate(text, scope)).to.deep.equal(want);
      });
    }

    it('evaluates every string of a workspace binding, keeping other values', async () => {
      expect(
        await ev.evaluateDeep(
          {
            csi: {
              driver: 'connectors-csi',
              readOnly: true,
              volumeAttributes: { 'connector.name': '{connector.metadata.name}', n: 'gitconfig', ns: 'x-{connectors}' },
            },
            list: ['{params.revision}', 3, null],
          },
          scope,
        ),
      ).to.deep.equal({
        csi: {
          driver: 'connectors-csi',
          readOnly: true,
          volumeAttributes: { 'connector.name': 'harbor', n: 'gitconfig', ns: 'x-team-a/harbor,team-a/mirror' },
        },
        list: ['refs/heads/main', 3, null],
      });
    });

    const sandbox: Array<[string, unknown]> = [
      ['{typeof process}', 'undefined'],
      ['{typeof require}', 'undefined'],
      ['{typeof globalThis.fetch}', 'undefined'],
      ['{typeof postMessage}', 'undefined'],
      ['{(function(){ return typeof this })()}', 'undefined'],
      ["{Function('return typeof process')()}", 'undefined'],
      ["{params.constructor.constructor('return typeof require')()}", 'undefined'],
    ];
    for (const [text, want] of sandbox) {
      it(`has nothing of the host: ${text} is ${JSON.stringify(want)}`, async () => {
        expect(await ev.evaluate(text, scope)).to.equal(want);
      });
    }

    it('keeps no state between evaluations of a batch that changes the context', async () => {
      expect(await ev.evaluate('{params.repository}', { ...scope, params: { repository: 'one' } })).to.equal('one');
      expect(await ev.evaluate('{globalThis.leak = 1, params.repository}', scope)).to.equal('apps/web');
      expect(await ev.evaluate('{params.repository}', { ...scope, params: { repository: 'two' } })).to.equal('two');
      expect(await ev.evaluate('{typeof leak}', scope)).to.equal('undefined');
    });

    const failures: Array<[string, RegExp]> = [
      ['{connector.status.nope.url}', /TypeError: cannot read property 'url' of undefined/],
      ["{url('not a url')}", /TypeError: url\("not a url"\): Invalid URL/],
      ['{undefinedThing + 1}', /ReferenceError: 'undefinedThing' is not defined/],
      ["{(() => { throw new Error('boom') })()}", /Error: boom/],
    ];
    for (const [text, message] of failures) {
      it(`reports ${text} as ${message}`, async () => {
        const err = await rejection(ev.evaluate(text, scope));
        expect(err).to.be.instanceOf(ExpressionError);
        expect(err.message).to.match(message);
      });
    }

    // Hostile expressions: each fails alone, with a message saying why, and the sandbox keeps working. Deep
    // recursion used to escape as a host RangeError and leave a QuickJS runtime that aborted when freed.
    const hostile: Array<{ what: string; text: string; limits?: Partial<Limits>; message: string }> = [
      {
        what: 'an infinite loop',
        text: '{(() => { for (;;) {} })()}',
        limits: { deadlineMs: 300 },
        message: 'took longer than the deadline',
      },
      {
        what: 'catastrophic regular-expression backtracking',
        text: "{/(a+)+$/.test('a'.repeat(40) + 'b')}",
        limits: { deadlineMs: 300 },
        message: 'took longer than the deadline',
      },
      {
        // QuickJS does not check the deadline while it unwinds a stack overflow into a catch that recurses
        // again: the worker is ended once the grace period is over.
        what: 'recursion that catches its own stack overflow',
        text: '{(function f() { try { return f() } catch (e) { return f() } })()}',
        limits: { deadlineMs: 300 },
        message: 'took longer than the deadline',
      },
      { what: 'deep recursion', text: '{(function f() { return f() })()}', message: 'InternalError: stack overflow' },
      {
        what: 'a deeply nested literal',
        text: "{eval('['.repeat(100000) + ']'.repeat(100000))}",
        message: 'SyntaxError: stack overflow',
      },
      {
        what: 'deeply nested JSON',
        text: "{JSON.parse('['.repeat(100000) + ']'.repeat(100000))}",
        message: 'SyntaxError: stack overflow',
      },
      {
        what: 'a huge array',
        text: '{new Array(2 ** 31 - 1).fill(0)}',
        message: 'InternalError: out of memory',
      },
      {
        what: 'a heap that grows until the memory limit',
        text: "{(() => { const a = []; for (let i = 0; ; i++) a.push({ i, s: 'y' + i }) })()}",
        // A generous deadline, so the memory limit is what stops it even on a busy machine.
        limits: { memoryBytes: 4 * 1024 * 1024, deadlineMs: 120_000 },
        message: 'InternalError: out of memory',
      },
      { what: 'a huge string', text: "{'x'.repeat(2 ** 30)}", message: 'RangeError: invalid string length' },
      {
        what: `a value larger than ${DEFAULT_LIMITS.resultBytes} bytes`,
        text: `{'x'.repeat(${DEFAULT_LIMITS.resultBytes + 1})}`,
        message: `its value is larger than ${DEFAULT_LIMITS.resultBytes} bytes`,
      },
      {
        what: 'a megabyte error message',
        text: "{(() => { throw new Error('m'.repeat(1 << 20)) })()}",
        message: `Error: ${'m'.repeat(MAX_MESSAGE - 'Error: '.length)}… (${(1 << 20) + 'Error: '.length} characters)`,
      },
      {
        what: 'a thrown object whose getters throw',
        text: '{(() => { throw { get name() { throw 1 }, get message() { throw 2 } } })()}',
        message: 'the expression threw a value that cannot be shown',
      },
      { what: 'a thrown string', text: "{(() => { throw 'plain' })()}", message: 'the expression threw "plain"' },
    ];
    for (const h of hostile) {
      it(`fails ${h.what} with "${h.message.slice(0, 60)}", then evaluates the next expression`, async () => {
        const hostileEv = h.limits ? await Evaluator.create(h.limits) : ev;
        const started = Date.now();
        try {
          const err = await rejection(hostileEv.evaluate(h.text, scope));
          expect(err).to.be.instanceOf(ExpressionError);
          expect(err.message).to.equal(h.message);
        } finally {
          if (hostileEv !== ev) await hostileEv.dispose();
        }
        if (h.limits?.deadlineMs === 300) expect(Date.now() - started).to.be.lessThan(10_000);
        const next = await Evaluator.create();
        try {
          expect(await next.evaluate('{params.repository}', scope)).to.equal('apps/web');
        } finally {
          await next.dispose();
        }
      });
    }

    it('keeps the event loop free while an expression runs to its deadline', async () => {
      const slow = await Evaluator.create({ deadlineMs: 3000 });
      try {
        let ticks = 0;
        const timer = setInterval(() => ticks++, 50);
        const err = await rejection(slow.evaluate('{(() => { for (;;) {} })()}', scope));
        clearInterval(timer);
        expect(err.message).to.equal('took longer than the deadline');
        // Synchronous evaluation would give 0 ticks; 3 s of a free loop give about 60 even on a busy machine.
        expect(ticks).to.be.greaterThan(10);
      } finally {
        await slow.dispose();
      }
    });

    it(`evaluates ${MAX_SANDBOX_WORKERS} batches side by side; one more waits until a worker is free`, async () => {
      await ev.dispose(); // the one beforeEach holds
      const evs = await Promise.all(Array.from({ length: MAX_SANDBOX_WORKERS }, () => Evaluator.create()));
      let extra: Evaluator | undefined;
      try {
        const got = await Promise.all(
          evs.map((e, i) => e.evaluate('{params.repository}', { ...scope, params: { repository: `r${i}` } })),
        );
        expect(got).to.deep.equal(evs.map((_, i) => `r${i}`));
        const waiting = Evaluator.create().then((e) => (extra = e));
        await new Promise((r) => setTimeout(r, 300));
        expect(extra, 'no worker was free').to.equal(undefined);
        await evs[0].dispose();
        await waiting;
        expect(await extra!.evaluate('{params.revision}', scope)).to.equal('refs/heads/main');
      } finally {
        await Promise.all([...evs, ...(extra ? [extra] : [])].map((e) => e.dispose()));
      }
    });

    it('bounds the wait for a busy sandbox: refused after the wait timeout, and at once past the waiting limit', async () => {
      await ev.dispose(); // the one beforeEach holds
      const evs = await Promise.all(Array.from({ length: MAX_SANDBOX_WORKERS }, () => Evaluator.create()));
      try {
        const wait = { timeoutMs: 300, maxWaiting: 1 };
        const started = Date.now();
        const first = rejection(Evaluator.create({}, wait));
        const second = await rejection(Evaluator.create({}, wait));
        expect(Date.now() - started, 'the one past the limit is refused at once').to.be.below(200);
        expect(second).to.be.instanceOf(ExpressionError);
        expect(second.message).to.equal('the expression sandbox is busy (1 waiting already); try again');
        const timedOut = await first;
        expect(Date.now() - started).to.be.at.least(290);
        expect(timedOut).to.be.instanceOf(ExpressionError);
        expect(timedOut.message).to.equal('the expression sandbox stayed busy for 300 ms; try again');
        // The timed-out waiter left the queue: a freed worker goes to the next batch, not to it.
        const next = Evaluator.create({}, wait);
        await evs[0].dispose();
        const got = await next;
        expect(await got.evaluate('{params.revision}', scope)).to.equal('refs/heads/main');
        await got.dispose();
      } finally {
        await Promise.all(evs.map((e) => e.dispose()));
      }
    });
  });
});
