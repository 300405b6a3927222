// Every built-in ConnectorClass (each connectorclasses/*.yaml, whoever added it) installs as `connectors up`
// installs it and becomes Ready under the real controller; `kubectl get connectorclasses` lists them all: the
// reference's twelve. The git class's API plugin runs in-process, as `connectors up` runs it (its class is not
// Ready while its API cannot be reached).
import { expect } from 'chai';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { AUTH_PROBE_TABLES } from './auth-probe-tables.ts';
import { startGitPlugin, type RunningGitPlugin } from '../../plugins/git/index.ts';
import { eventually } from '@connectors/test-support';
import { setupClasses, type ClassEnv } from './packages-fixture.ts';

const NAMES = builtinClasses({ systemNamespace: 'connectors-system' }).map((c) => c.metadata.name!);
/** The classes the reference ships. */
const REFERENCE = [
  'git',
  'github',
  'gitlab',
  'harbor',
  'jfrog',
  'k8s',
  'maven',
  'nexus',
  'npm',
  'oci',
  'pypi',
  'sonarqube',
];

describe('classes: every built-in ConnectorClass is listed and Ready', function () {
  this.timeout(180_000);
  let env: ClassEnv;
  let gitPlugin: RunningGitPlugin;
  before(async () => {
    gitPlugin = await startGitPlugin({ host: '127.0.0.1', port: 0 });
    env = await setupClasses('class-all', {
      classes: NAMES,
      pluginAddresses: { 'connectors-git-plugin': gitPlugin.url },
    });
  });
  after(async () => {
    await env?.stop();
    await gitPlugin?.stop();
  });

  it('kubectl get connectorclasses lists every built-in class: the twelve of the reference', async () => {
    const out = await env.c.kubectl(['get', 'connectorclasses', '-o', 'name']);
    const listed = out
      .trim()
      .split('\n')
      .map((l) => l.replace(/^connectorclass\.connectors\.alauda\.io\//, ''));
    expect([...NAMES].sort()).to.deep.equal(REFERENCE);
    expect(listed).to.include.members(REFERENCE);
  });

  it('every class with an auth probe has a wrong-password case in a probe table', () => {
    const withAuthProbe = builtinClasses({ systemNamespace: 'connectors-system' })
      .filter((c) => (c.spec.authProbes ?? []).length > 0)
      .map((c) => c.metadata.name!)
      .sort();
    expect(withAuthProbe).to.have.length(12);
    expect([...AUTH_PROBE_TABLES.packages, ...AUTH_PROBE_TABLES.services].sort()).to.deep.equal(withAuthProbe);
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
