// Every built-in ConnectorClass (each connectorclasses/*.yaml, whoever added it) installs as `connectors up`
// installs it and becomes Ready under the real controller; `kubectl get connectorclasses` lists them all.
import { expect } from 'chai';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { eventually } from '../harness/eventually.ts';
import { setupClasses, type ClassEnv } from './packages-fixture.ts';

const NAMES = builtinClasses({ systemNamespace: 'connectors-system' }).map((c) => c.metadata.name!);

describe('classes: every built-in ConnectorClass is listed and Ready', function () {
  this.timeout(180_000);
  let env: ClassEnv;
  before(async () => {
    env = await setupClasses('class-all', { classes: NAMES });
  });
  after(async () => {
    await env?.stop();
  });

  it('kubectl get connectorclasses lists every built-in class', async () => {
    const out = await env.c.kubectl(['get', 'connectorclasses', '-o', 'name']);
    const listed = out
      .trim()
      .split('\n')
      .map((l) => l.replace(/^connectorclass\.connectors\.alauda\.io\//, ''));
    expect(listed).to.include.members(NAMES);
    expect(NAMES).to.include.members(['k8s', 'maven', 'npm', 'pypi', 'nexus', 'jfrog', 'git', 'oci']);
  });

  for (const name of NAMES) {
    it(`${name} is Ready, with display annotations and probes`, async () => {
      const cls = await eventually(
        `ConnectorClass ${name} Ready`,
        async () => {
          const c = JSON.parse(await env.c.kubectl(['get', 'connectorclass', name, '-o', 'json']));
          return c.status?.conditions?.find((x: { type: string }) => x.type === 'Ready')?.status === 'True' && c;
        },
        60_000,
        200,
      );
      for (const key of ['cpaas.io/display-name', 'cpaas.io/description', 'connectors.cpaas.io/readme'])
        expect(cls.metadata.annotations?.[key], key).to.be.a('string').and.not.equal('');
      expect(cls.metadata.labels?.[`connectors.cpaas.io/${name}`]).to.equal('true');
      // git predates the icon and docs-link annotations (seed 002's example has neither).
      if (name !== 'git') {
        expect(cls.metadata.annotations?.['ui.cpaas.io/icon']).to.match(/^data:image\/svg\+xml;base64,/);
        expect(cls.metadata.annotations?.['connectors.cpaas.io/docs-link']).to.be.a('string').and.not.equal('');
      }
      expect(cls.spec.livenessProbe?.http?.path ?? cls.spec.livenessProbe?.api?.path, 'livenessProbe').to.be.a(
        'string',
      );
    });
  }
});
