// Class kinds and auth probe parameters.
import { expect } from 'chai';
import { authProbeOf, authTypeOf, classKind, missingAuthProbeParams } from '../../../core/connector/index.ts';
import { loadBuiltinClass } from '../../../connectorclasses/index.ts';

describe('core/connector: class kind', () => {
  const cases: Array<[string, { metadata?: { labels?: Record<string, string> } } | undefined, 'oci' | 'http']> = [
    ['the built-in oci class', loadBuiltinClass('oci'), 'oci'],
    ['the built-in git class', loadBuiltinClass('git'), 'http'],
    [
      'a registry class of another name, labelled',
      { metadata: { labels: { 'connectors.cpaas.io/oci': 'true' } } },
      'oci',
    ],
    ['a class named oci without the label', { metadata: { labels: {} } }, 'http'],
    ['the label set to false', { metadata: { labels: { 'connectors.cpaas.io/oci': 'false' } } }, 'http'],
    ['no class', undefined, 'http'],
  ];
  for (const [what, cls, kind] of cases) it(`${what}: ${kind}`, () => expect(classKind(cls)).to.equal(kind));
});

describe('core/connector: auth type and probe parameters', () => {
  const git = loadBuiltinClass('git');
  const c = (params?: Array<{ name: string; value: string }>) => ({
    spec: { auth: { name: 'basicAuth', ...(params ? { params } : {}) } },
  });
  it('finds the auth type and its probe', () => {
    expect(authTypeOf(c(), git)?.secretType).to.equal('kubernetes.io/basic-auth');
    expect(authProbeOf(c(), git)?.authName).to.equal('basicAuth');
    expect(authTypeOf({ spec: { auth: { name: 'nope' } } }, git)).to.equal(undefined);
  });
  const cases: Array<[string, Array<{ name: string; value: string }> | undefined, string[]]> = [
    ['no params', undefined, ['repository']],
    ['repository given', [{ name: 'repository', value: 'o/r.git' }], []],
    ['another param only', [{ name: 'x', value: 'y' }], ['repository']],
  ];
  for (const [what, params, missing] of cases)
    it(`${what}: missing ${JSON.stringify(missing)}`, () =>
      expect(missingAuthProbeParams(c(params), authProbeOf(c(params), git)!)).to.deep.equal(missing));
  it('params with a default are never missing', () =>
    expect(missingAuthProbeParams(c(), { params: [{ name: 'repository', default: '' }] })).to.deep.equal([]));
});
