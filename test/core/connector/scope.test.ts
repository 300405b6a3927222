// The scope rule, case by case (the table is shared with test/csi/scope-agreement.test.ts, which runs it
// through the webhook and the CSI driver).
import { expect } from 'chai';
import { checkScope, connectorLevel, scopeDenial, usableFrom, type Labels } from '../../../core/connector/index.ts';
import { SCOPE_CASES, labelsOf } from './scope-table.ts';

describe('core/connector: scope', () => {
  const project = 'team-a';
  for (const c of SCOPE_CASES) {
    const connectorNs = c.connector === 'kube-public' ? 'kube-public' : 'team-a-home';
    const workloadNs = c.workload === 'same' ? connectorNs : c.workload === 'project' ? project : 'apps';
    const names = { project, connector: connectorNs };
    const wl = labelsOf(c.workloadLabels, names);
    const cl = labelsOf(c.connectorLabels, names);
    it(`${c.name}: ${c.allowed ? 'allowed' : 'denied'}`, async () => {
      expect(usableFrom(workloadNs, wl, connectorNs, cl)).to.equal(c.allowed);
      const asked: string[] = [];
      const labels: Record<string, Labels> = { [connectorNs]: cl, [workloadNs]: wl };
      const d = await checkScope('a Pod', workloadNs, { namespace: connectorNs, name: 'x' }, (ns) => {
        asked.push(ns);
        return Promise.resolve(labels[ns]);
      });
      expect(d.allowed).to.equal(c.allowed);
      // Lookups only where the rule needs them.
      if (workloadNs === connectorNs || connectorNs === 'kube-public') expect(asked).to.deep.equal([]);
      else expect(asked[0]).to.equal(connectorNs);
    });
  }

  it('levels: kube-public, a project namespace, any other', () => {
    expect(connectorLevel('kube-public', { 'cpaas.io/inner-namespace': 'x' })).to.deep.equal({ level: 'cluster' });
    expect(connectorLevel('home', { 'cpaas.io/inner-namespace': 'g' })).to.deep.equal({
      level: 'project',
      project: 'g',
    });
    expect(connectorLevel('home', { 'cpaas.io/project': 'g' })).to.deep.equal({
      level: 'namespace',
      namespace: 'home',
    });
  });

  it('denials say who may use the Connector', () => {
    const ref = { namespace: 'home', name: 'git' };
    expect(scopeDenial('a Pod', 'apps', ref, { level: 'namespace', namespace: 'home' })).to.equal(
      'a Pod in namespace "apps" may not use Connector "home/git": it is usable only from namespace "home" ' +
        '(Connectors in kube-public are usable from every namespace, those of a namespace labelled ' +
        'cpaas.io/inner-namespace from the namespaces of that project)',
    );
    expect(scopeDenial('a Pod', 'apps', ref, { level: 'project', project: 'g' })).to.equal(
      'a Pod in namespace "apps" may not use Connector "home/git": it belongs to project "g" (its ' +
        'namespace is labelled cpaas.io/inner-namespace: g) and is usable only from namespaces labelled ' +
        "cpaas.io/project: g and from the project's own namespace",
    );
  });

  it('a missing Connector namespace is namespace level', async () => {
    const d = await checkScope('a Pod', 'apps', { namespace: 'gone', name: 'x' }, () => Promise.resolve(undefined));
    expect(d).to.deep.include({ allowed: false, level: { level: 'namespace', namespace: 'gone' } });
  });
});
