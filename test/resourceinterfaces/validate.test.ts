// Admission rules of ResourceInterfaces (webhook/validate/resourceinterface.ts), on the built-in ones and on
// one broken field at a time.
import { expect } from 'chai';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { RESOURCE_INTERFACE_LABELS, type ResourceInterface } from '../../core/api/index.ts';
import { builtinResourceInterfaces } from '../../resourceinterfaces/index.ts';
import { validateResourceInterface } from '../../webhook/validate/resourceinterface.ts';

/** Interfaces a built-in class declares that are not shipped yet (the nexus design's, with their own params). */
const NOT_SHIPPED = ['nexusmavenartifact', 'nexusnpmartifact', 'nexuspypiartifact'].map(
  (n) => `resourceinterface.connectors.cpaas.io/${n}`,
);

const git = () => structuredClone(builtinResourceInterfaces(['gitcoderepository'])[0]);

describe('resourceinterfaces: admission rules', () => {
  it('ships the interfaces of the reference and those the built-in classes declare', () => {
    const declared = (name: string) =>
      Object.keys(builtinClasses({ systemNamespace: 'x', names: [name] })[0].metadata.labels ?? {}).filter((l) =>
        l.startsWith(RESOURCE_INTERFACE_LABELS.classPrefix),
      );
    expect(declared('git')).to.deep.equal(['resourceinterface.connectors.cpaas.io/gitcoderepository']);
    expect(declared('oci')).to.deep.equal(['resourceinterface.connectors.cpaas.io/ociartifact']);
    expect(declared('maven')).to.deep.equal(['resourceinterface.connectors.cpaas.io/mavenrepository']);
    expect(declared('npm')).to.deep.equal(['resourceinterface.connectors.cpaas.io/npmrepository']);
    expect(builtinResourceInterfaces().map((r) => r.metadata.name)).to.deep.equal([
      'gitcoderepository',
      'githubcoderepository',
      'gitlabcoderepository',
      'harborociartifact',
      'mavenrepository',
      'npmrepository',
      'ociartifact',
    ]);
  });

  it('every ResourceInterface a built-in class declares exists, and interfaces of a category share attributes and workspaces', () => {
    const interfaces = builtinResourceInterfaces();
    const names = new Set(interfaces.map((r) => r.metadata.name));
    for (const cls of builtinClasses({ systemNamespace: 'connectors-system' }))
      for (const [label, value] of Object.entries(cls.metadata.labels ?? {}))
        if (label.startsWith(RESOURCE_INTERFACE_LABELS.classPrefix) && !NOT_SHIPPED.includes(label)) {
          expect(value, `${cls.metadata.name}: ${label}`).to.equal('true');
          expect(
            names.has(label.slice(RESOURCE_INTERFACE_LABELS.classPrefix.length)),
            `${cls.metadata.name}: ${label}`,
          ).to.equal(true);
        }
    const shape = (r: ResourceInterface) =>
      JSON.stringify({
        params: r.spec!.params,
        attributes: (r.spec!.attributes ?? []).map((a) => [a.name, a.type, a.parameterize]),
        workspaces: (r.spec!.workspaces ?? []).map((w) => [w.name, w.workspaceMapping]),
      });
    const byCategory = new Map<string, ResourceInterface[]>();
    for (const r of interfaces) {
      const c = r.metadata.labels![RESOURCE_INTERFACE_LABELS.category];
      byCategory.set(c, [...(byCategory.get(c) ?? []), r]);
    }
    for (const [category, members] of byCategory)
      for (const m of members) expect(shape(m), `${category}: ${m.metadata.name}`).to.equal(shape(members[0]));
  });

  for (const ri of builtinResourceInterfaces()) {
    it(`accepts the built-in ${ri.metadata.name} without a warning, with its category, version and schema-version labels`, () => {
      expect(validateResourceInterface(ri)).to.deep.equal({ errors: [], warnings: [] });
      expect(Object.keys(ri.metadata.labels ?? {}).sort()).to.deep.equal([
        'resourceinterface.connectors.cpaas.io/category',
        'resourceinterface.connectors.cpaas.io/schema-version',
        'resourceinterface.connectors.cpaas.io/version',
      ]);
    });
  }

  const cases: Array<{ breaks: string; mutate: (r: ResourceInterface) => void; error: string }> = [
    {
      breaks: 'an attribute expression that does not parse',
      mutate: (r) => (r.spec!.attributes![0].expression = "{connector.spec.address + '/' +}"),
      error:
        'spec.attributes[0].expression: the expression opened at column 1 does not parse: Unexpected token at column 32',
    },
    {
      breaks: 'an unclosed expression',
      mutate: (r) => (r.spec!.attributes![1].expression = '{params.revision'),
      error: 'spec.attributes[1].expression: the expression opened at column 1 has no closing "}"',
    },
    {
      breaks: 'a workspace value expression that does not parse',
      mutate: (r) => {
        (r.spec!.workspaces![1].value as { csi: { volumeAttributes: Record<string, string> } }).csi.volumeAttributes[
          'connector.name'
        ] = '{connector.metadata.}';
      },
      error:
        'spec.workspaces[1].value.csi.volumeAttributes["connector.name"]: the expression opened at column 1 does not parse: Unexpected token at column 21',
    },
    {
      breaks: 'a reference to an undeclared param',
      mutate: (r) => (r.spec!.attributes![0].expression = '{params.repo}'),
      error:
        'spec.attributes[0].expression: refers to params.repo, which spec.params does not declare (declared: repository, revision)',
    },
    {
      breaks: 'a dependsOn on an undeclared param',
      mutate: (r) => r.spec!.attributes![0].dependsOn!.push('params.branch'),
      error:
        'spec.attributes[0].dependsOn[2]: "params.branch" is neither "connector" nor "params.<name>" of a declared param',
    },
    {
      breaks: 'a param default of the wrong type',
      mutate: (r) => (r.spec!.params![1].default = ['main']),
      error: 'spec.params[1].default: param "revision" is of type string, but its default is ["main"]',
    },
    {
      breaks: 'a workspace with two volume sources',
      mutate: (r) => ((r.spec!.workspaces![0].value as Record<string, unknown>).emptyDir = {}),
      error:
        'spec.workspaces[0].value: must hold exactly one of configMap, csi, emptyDir, persistentVolumeClaim, ' +
        'projected, secret, volumeClaimTemplate; found volumeClaimTemplate, emptyDir',
    },
    {
      breaks: 'a workspace with an unknown field',
      mutate: (r) => ((r.spec!.workspaces![0].value as Record<string, unknown>).hostPath = { path: '/' }),
      error:
        'spec.workspaces[0].value: unknown field(s) hostPath; a workspace value is one of configMap, csi, ' +
        'emptyDir, persistentVolumeClaim, projected, secret, volumeClaimTemplate (and subPath)',
    },
    {
      breaks: 'a connectors-csi volume that names no Connector',
      mutate: (r) => {
        const attrs = (r.spec!.workspaces![1].value as { csi: { volumeAttributes: Record<string, string> } }).csi
          .volumeAttributes;
        delete attrs['connector.name'];
      },
      error:
        'spec.workspaces[1].value.csi.volumeAttributes: a connectors-csi volume needs "connectors" or "connector.name"',
    },
    {
      breaks: 'a schema-version label that is not a number',
      mutate: (r) => (r.metadata.labels!['resourceinterface.connectors.cpaas.io/schema-version'] = 'v2'),
      error:
        'metadata.labels["resourceinterface.connectors.cpaas.io/schema-version"]: "v2" is not a positive integer (default "1")',
    },
    {
      breaks: 'an attribute default outside its enum',
      mutate: (r) => Object.assign(r.spec!.attributes![1], { enum: ['main', 'dev'], default: 'other' }),
      error: 'spec.attributes[1].default: "other" is not one of enum ["main","dev"]',
    },
  ];
  for (const k of cases) {
    it(`rejects ${k.breaks}, naming the field`, () => {
      const r = git();
      k.mutate(r);
      expect(validateResourceInterface(r).errors).to.deep.equal([k.error]);
    });
  }

  it('warns about a constant attribute and a missing category, without rejecting', () => {
    const r = git();
    r.spec!.attributes![1].expression = 'refs/heads/main';
    delete r.metadata.labels!['resourceinterface.connectors.cpaas.io/category'];
    const v = validateResourceInterface(r);
    expect(v.errors).to.deep.equal([]);
    expect(v.warnings.join('\n')).to.include('attribute "revision" is the constant "refs/heads/main"');
    expect(v.warnings.join('\n')).to.include('can select this ResourceInterface only by name');
  });
});
