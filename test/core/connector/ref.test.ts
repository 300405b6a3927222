// Connector references as users write them (annotations, volume attributes, the forward proxy's user name).
import { expect } from 'chai';
import { parseConnectorRef, parseConnectorRefList } from '../../../core/connector/index.ts';

describe('core/connector: ns/name references', () => {
  const cases: Array<[string, string | undefined, { namespace: string; name: string } | RegExp]> = [
    ['harbor', 'pod-ns', { namespace: 'pod-ns', name: 'harbor' }],
    ['oci-connector-demo/harbor', 'pod-ns', { namespace: 'oci-connector-demo', name: 'harbor' }],
    [' ns2 / b ', 'p', { namespace: 'ns2', name: 'b' }],
    ['ns/with.dots', undefined, { namespace: 'ns', name: 'with.dots' }],
    ['default/github', undefined, { namespace: 'default', name: 'github' }],
    ['github', undefined, /^"github" is not a Connector reference: use <namespace>\/<name>$/],
    ['a/b/c', 'p', /^"a\/b\/c" is not a Connector reference: use <namespace>\/<name> or <name>$/],
    ['/x', 'p', /is not a Connector reference/],
    ['x/', 'p', /is not a Connector reference/],
    ['', 'p', /^a Connector reference is empty/],
    ['Bad_Name', 'p', /"Bad_Name" is not a Connector name/],
    ['my.ns/x', 'p', /"my\.ns" is not a namespace name/],
    [`${'n'.repeat(64)}/x`, 'p', /is not a namespace name/],
    [`ns/${'a'.repeat(254)}`, 'p', /is not a Connector name/],
  ];
  for (const [text, dflt, want] of cases)
    it(`${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)}${dflt ? ` (default ${dflt})` : ''}`, () => {
      const r = parseConnectorRef(text, dflt);
      if (want instanceof RegExp) {
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.error).to.match(want);
      } else expect(r).to.deep.equal({ ok: true, ref: want });
    });

  it('lists: comma-separated, empty items skipped, duplicates dropped, first error returned', () => {
    expect(parseConnectorRefList('a, ns2/b ,a,,pod-ns/a', 'pod-ns')).to.deep.equal({
      ok: true,
      refs: [
        { namespace: 'pod-ns', name: 'a' },
        { namespace: 'ns2', name: 'b' },
      ],
    });
    expect(parseConnectorRefList('a,b/c/d', 'p')).to.deep.include({ ok: false });
  });
});
