// ResourceInterface expressions: where `{…}` starts and ends (acorn), what they evaluate to (QuickJS), and that
// the sandbox holds nothing of the host and stops runaway expressions.
import { expect } from 'chai';
import {
  DEFAULT_LIMITS,
  Evaluator,
  ExpressionError,
  ExpressionSyntaxError,
  paramReferences,
  parseTemplate,
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
      it(`evaluates ${text}`, () => {
        expect(ev.evaluate(text, scope)).to.deep.equal(want);
      });
    }

    it('evaluates every string of a workspace binding, keeping other values', () => {
      expect(
        ev.evaluateDeep(
          {
            csi: {
              driver: 'connectors-csi',
              readOnly: true,
              volumeAttributes: { 'connector.name': '{connector.metadata.name}', n: 'gitconfig' },
            },
          },
          scope,
        ),
      ).to.deep.equal({
        csi: {
          driver: 'connectors-csi',
          readOnly: true,
          volumeAttributes: { 'connector.name': 'harbor', n: 'gitconfig' },
        },
      });
    });

    const sandbox: Array<[string, unknown]> = [
      ['{typeof process}', 'undefined'],
      ['{typeof require}', 'undefined'],
      ['{typeof globalThis.fetch}', 'undefined'],
      ['{(function(){ return typeof this })()}', 'undefined'],
      ["{Function('return typeof process')()}", 'undefined'],
      ["{params.constructor.constructor('return typeof require')()}", 'undefined'],
    ];
    for (const [text, want] of sandbox) {
      it(`has nothing of the host: ${text} is ${JSON.stringify(want)}`, () => {
        expect(ev.evaluate(text, scope)).to.equal(want);
      });
    }

    it('keeps no state between evaluations of a batch that changes the context', () => {
      expect(ev.evaluate('{params.repository}', { ...scope, params: { repository: 'one' } })).to.equal('one');
      expect(ev.evaluate('{params.repository}', { ...scope, params: { repository: 'two' } })).to.equal('two');
    });

    const failures: Array<[string, RegExp]> = [
      ['{connector.status.nope.url}', /TypeError: cannot read property 'url' of undefined/],
      ["{url('not a url')}", /TypeError: url\("not a url"\): Invalid URL/],
      ['{undefinedThing + 1}', /ReferenceError: 'undefinedThing' is not defined/],
      ["{(() => { throw new Error('boom') })()}", /Error: boom/],
    ];
    for (const [text, message] of failures) {
      it(`reports ${text} as ${message}`, () => {
        expect(() => ev.evaluate(text, scope))
          .to.throw(ExpressionError)
          .with.property('message')
          .that.matches(message);
      });
    }

    it('stops an expression that runs past the deadline', async () => {
      const short = await Evaluator.create({ deadlineMs: 200 });
      try {
        const started = Date.now();
        expect(() => short.evaluate('{(() => { for (;;) {} })()}', scope)).to.throw(ExpressionError, /deadline/);
        expect(Date.now() - started).to.be.lessThan(10_000);
      } finally {
        short.dispose();
      }
    });

    it('stops an expression that exhausts the memory limit', async () => {
      // A small heap and a generous deadline, so the memory limit is what stops it even on a busy machine.
      const small = await Evaluator.create({ memoryBytes: 4 * 1024 * 1024, deadlineMs: 120_000 });
      try {
        expect(() =>
          small.evaluate("{(() => { const a = []; for (let i = 0; ; i++) a.push({ i, s: 'y' + i }) })()}", scope),
        ).to.throw(ExpressionError, /InternalError: out of memory/);
      } finally {
        small.dispose();
      }
    });

    it(`refuses a value larger than ${DEFAULT_LIMITS.resultBytes} bytes`, () => {
      expect(() => ev.evaluate(`{'x'.repeat(${DEFAULT_LIMITS.resultBytes + 1})}`, scope)).to.throw(
        ExpressionError,
        /larger than 65536 bytes/,
      );
    });
  });
});
