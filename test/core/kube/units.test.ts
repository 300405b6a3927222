// Pure parts of core/kube: label and field selectors, predicates and key mappings, resource paths, health
// check reports, feature flag values.
import { expect } from 'chai';
import { fieldMatcher, labelMatcher, LabelSelectorError, parseLabelSelector } from '../../../core/kube/labels.ts';
import {
  allOf,
  annotationsChanged,
  anyOf,
  changed,
  generationChanged,
  labelSelected,
  labelsChanged,
  onlyEvents,
  ownerKeys,
  type WatchedEvent,
} from '../../../core/kube/predicates.ts';
import { objectKey, resourcePath, resources, splitKey } from '../../../core/kube/resources.ts';
import { runChecks } from '../../../core/observability/server.ts';
import { changedFlags, flagsFromData } from '../../../core/kube/featureflags.ts';
import type { KubeObject } from '../../../core/kube/types.ts';

describe('core/kube units: label selectors', () => {
  const cases: Array<[string, Record<string, string> | undefined, boolean]> = [
    ['', {}, true],
    ['', undefined, true],
    ['app=web', { app: 'web' }, true],
    ['app==web', { app: 'web' }, true],
    ['app=web', { app: 'db' }, false],
    ['app=web', undefined, false],
    ['app!=web', { app: 'db' }, true],
    ['app!=web', {}, true],
    ['app!=web', { app: 'web' }, false],
    ['env in (a, b)', { env: 'b' }, true],
    ['env in (a,b)', { env: 'c' }, false],
    ['env notin (a,b)', { env: 'c' }, true],
    ['env notin (a,b)', {}, true],
    ['env notin (a,b)', { env: 'a' }, false],
    ['legacy', { legacy: '' }, true],
    ['legacy', {}, false],
    ['!legacy', {}, true],
    ['!legacy', { legacy: 'x' }, false],
    ['app=web,env in (a,b),!legacy', { app: 'web', env: 'a' }, true],
    ['app=web,env in (a,b),!legacy', { app: 'web', env: 'a', legacy: '1' }, false],
    ['connectors.cpaas.io/policy=true', { 'connectors.cpaas.io/policy': 'true' }, true],
    ['app.kubernetes.io/managed-by=connectors-controller', { 'app.kubernetes.io/managed-by': 'other' }, false],
  ];
  for (const [selector, labels, want] of cases)
    it(`${JSON.stringify(selector)} on ${JSON.stringify(labels)} → ${want}`, () =>
      expect(labelMatcher(selector)(labels)).to.equal(want));

  for (const bad of ['app=', 'a b', 'env in a,b', ',', 'app=web,', 'a=b=c', '-bad=x'])
    it(`refuses ${JSON.stringify(bad)} with a clear error`, () => {
      if (bad === 'app=') {
        // An empty value is valid (app equals ""), as in Kubernetes.
        expect(parseLabelSelector(bad)).to.deep.equal([{ key: 'app', op: 'in', values: [''] }]);
        return;
      }
      expect(() => parseLabelSelector(bad)).to.throw(LabelSelectorError, /label selector/);
    });

  it('field selectors on metadata.name and metadata.namespace', () => {
    const o = { metadata: { name: 'connectors-config', namespace: 'sys' } };
    expect(fieldMatcher('metadata.name=connectors-config')(o)).to.equal(true);
    expect(fieldMatcher('metadata.name=other')(o)).to.equal(false);
    expect(fieldMatcher('metadata.name!=other,metadata.namespace==sys')(o)).to.equal(true);
    expect(() => fieldMatcher('spec.nodeName=x')).to.throw(/cannot match/);
  });
});

describe('core/kube units: predicates and key mappings', () => {
  const obj = (m: KubeObject['metadata']): KubeObject => ({ metadata: { name: 'x', namespace: 'ns', ...m } });
  const update = (old: KubeObject['metadata'], now: KubeObject['metadata']): WatchedEvent<KubeObject> => ({
    type: 'update',
    obj: obj(now),
    old: obj(old),
  });
  const table: Array<[string, (ev: WatchedEvent<KubeObject>) => boolean, WatchedEvent<KubeObject>, boolean]> = [
    ['generationChanged: a status write', generationChanged, update({ generation: 1 }, { generation: 1 }), false],
    ['generationChanged: a spec change', generationChanged, update({ generation: 1 }, { generation: 2 }), true],
    ['generationChanged: an add', generationChanged, { type: 'add', obj: obj({}) }, true],
    ['generationChanged: a delete', generationChanged, { type: 'delete', obj: obj({}) }, true],
    [
      'annotationsChanged: same, other order',
      annotationsChanged,
      update({ annotations: { a: '1', b: '2' } }, { annotations: { b: '2', a: '1' } }),
      false,
    ],
    ['annotationsChanged: a new one', annotationsChanged, update({}, { annotations: { a: '1' } }), true],
    ['labelsChanged: none to none', labelsChanged, update({}, {}), false],
    ['labelsChanged: a value', labelsChanged, update({ labels: { a: '1' } }, { labels: { a: '2' } }), true],
    [
      'anyOf(generation, annotations): neither',
      anyOf(generationChanged, annotationsChanged),
      update({ generation: 1 }, { generation: 1 }),
      false,
    ],
    [
      'anyOf(generation, annotations): annotations',
      anyOf(generationChanged, annotationsChanged),
      update({ generation: 1 }, { generation: 1, annotations: { x: 'y' } }),
      true,
    ],
    [
      'allOf(generation, labels): only generation',
      allOf(generationChanged, labelsChanged),
      update({ generation: 1 }, { generation: 2 }),
      false,
    ],
    [
      'labelSelected: the new one matches',
      labelSelected('app=a'),
      update({ labels: { app: 'b' } }, { labels: { app: 'a' } }),
      true,
    ],
    [
      'labelSelected: the old one matched',
      labelSelected('app=a'),
      update({ labels: { app: 'a' } }, { labels: { app: 'b' } }),
      true,
    ],
    ['labelSelected: neither', labelSelected('app=a'), update({}, {}), false],
    ['onlyEvents(update, delete): an add', onlyEvents('update', 'delete'), { type: 'add', obj: obj({}) }, false],
    ['onlyEvents(update, delete): a delete', onlyEvents('update', 'delete'), { type: 'delete', obj: obj({}) }, true],
    [
      'changed(fingerprint): same',
      changed((o: KubeObject) => o.metadata?.labels?.k),
      update({ labels: { k: '1', o: '1' } }, { labels: { k: '1', o: '2' } }),
      false,
    ],
    [
      'changed(fingerprint): differs',
      changed((o: KubeObject) => o.metadata?.labels?.k),
      update({ labels: { k: '1' } }, { labels: { k: '2' } }),
      true,
    ],
  ];
  for (const [name, p, ev, want] of table) it(`${name} → ${want}`, () => expect(p(ev)).to.equal(want));

  it('ownerKeys maps an object to the keys of its owners of one kind, in its namespace', () => {
    const svc = obj({
      ownerReferences: [
        { kind: 'Connector', name: 'git', controller: true },
        { kind: 'Connector', name: 'other' },
        { kind: 'ConfigMap', name: 'cm' },
      ],
    });
    expect(ownerKeys('Connector')(svc)).to.deep.equal(['ns/git', 'ns/other']);
    expect(ownerKeys('Connector', { controllerOnly: true })(svc)).to.deep.equal(['ns/git']);
    expect(ownerKeys('ConnectorClass')(svc)).to.deep.equal([]);
    expect(
      ownerKeys('ConnectorClass')({
        metadata: { name: 'p', ownerReferences: [{ kind: 'ConnectorClass', name: 'git' }] },
      }),
    ).to.deep.equal(['git']);
  });
});

describe('core/kube units: resource paths from the kinds table', () => {
  const table: Array<[string, string, string]> = [
    ['Connector, all namespaces', resourcePath(resources.Connector), '/apis/connectors.alauda.io/v1alpha1/connectors'],
    [
      'Connector status',
      resourcePath(resources.Connector, { namespace: 'ns', name: 'git', subresource: 'status' }),
      '/apis/connectors.alauda.io/v1alpha1/namespaces/ns/connectors/git/status',
    ],
    [
      'ConnectorClass (cluster-scoped, a namespace is ignored)',
      resourcePath(resources.ConnectorClass, { namespace: 'ns', name: 'git' }),
      '/apis/connectors.alauda.io/v1alpha1/connectorclasses/git',
    ],
    [
      'ConnectorClass status',
      resourcePath(resources.ConnectorClass, { name: 'git', subresource: 'status' }),
      '/apis/connectors.alauda.io/v1alpha1/connectorclasses/git/status',
    ],
    [
      'AccessRequest',
      resourcePath(resources.AccessRequest, { namespace: 'a' }),
      '/apis/connectors.alauda.io/v1alpha1/namespaces/a/accessrequests',
    ],
    [
      'Secret in a namespace',
      resourcePath(resources.Secret, { namespace: 'ns', name: 's' }),
      '/api/v1/namespaces/ns/secrets/s',
    ],
    [
      'a ServiceAccount token',
      resourcePath(resources.ServiceAccount, { namespace: 'ns', name: 'default', subresource: 'token' }),
      '/api/v1/namespaces/ns/serviceaccounts/default/token',
    ],
    ['Namespace', resourcePath(resources.Namespace, { name: 'kube-public' }), '/api/v1/namespaces/kube-public'],
    [
      'Lease',
      resourcePath(resources.Lease, { namespace: 'sys', name: 'l' }),
      '/apis/coordination.k8s.io/v1/namespaces/sys/leases/l',
    ],
    [
      'a name is escaped',
      resourcePath(resources.ConfigMap, { namespace: 'ns', name: 'a/b' }),
      '/api/v1/namespaces/ns/configmaps/a%2Fb',
    ],
  ];
  for (const [name, got, want] of table) it(name, () => expect(got).to.equal(want));

  it('refuses a namespaced object without a namespace, and a subresource without a name', () => {
    expect(() => resourcePath(resources.Secret, { name: 's' })).to.throw(/namespace is needed/);
    expect(() => resourcePath(resources.Secret, { namespace: 'ns', subresource: 'status' })).to.throw(/needs a name/);
  });

  it('object keys: ns/name for namespaced objects, name for cluster-scoped ones, and back', () => {
    expect(objectKey({ metadata: { name: 'c', namespace: 'ns' } })).to.equal('ns/c');
    expect(objectKey({ metadata: { name: 'git' } })).to.equal('git');
    expect(splitKey('ns/c')).to.deep.equal({ namespace: 'ns', name: 'c' });
    expect(splitKey('git')).to.deep.equal({ namespace: '', name: 'git' });
  });
});

describe('core/kube units: health reports and flag values', () => {
  it('a check passes with true or undefined and fails with false, a message or a throw', () => {
    const r = runChecks({
      a: () => true,
      b: () => undefined,
      c: () => false,
      d: () => 'the Lease has not been read yet',
      e: () => {
        throw new Error('boom');
      },
    });
    expect(r.ok).to.equal(false);
    expect(r.lines).to.deep.equal([
      '[+]a ok',
      '[+]b ok',
      '[-]c failed',
      '[-]d failed: the Lease has not been read yet',
      '[-]e failed: boom',
    ]);
    expect(runChecks({}).ok).to.equal(true);
  });

  it('flags: "true" (any case, trimmed) is on, anything else off; changes are computed by value', () => {
    const on = flagsFromData({ 'enable-multi-connector': ' True ', 'enable-custom-ca-certs': 'yes' });
    expect(on['enable-multi-connector']).to.equal('true');
    expect(on['enable-custom-ca-certs']).to.equal('false');
    expect(changedFlags(flagsFromData(undefined), on)).to.deep.equal(['enable-multi-connector']);
    expect(changedFlags(on, on)).to.deep.equal([]);
  });
});
