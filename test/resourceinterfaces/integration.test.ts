// The pipeline-integration decision (webhook/mutate/integrations.ts over core/resourceinterface/integration.ts):
// the annotation of a PipelineRun or TaskRun turned into params and workspace bindings with the built-in
// ResourceInterfaces, and every refusal naming its field. Pure: Connectors, classes and flags are given.
import { expect } from 'chai';
import type { Connector, ConnectorClass, ResourceInterface } from '../../core/api/index.ts';
import { Evaluator } from '../../core/resourceinterface/expression.ts';
import { builtinResourceInterfaces } from '../../resourceinterfaces/index.ts';
import { handlers } from '../../webhook/handlers.ts';
import { applyPatch } from '../../webhook/jsonpatch.ts';
import {
  INTEGRATIONS_ANNOTATION,
  integrationsDecision,
  runIntegrations,
  type RunLike,
} from '../../webhook/mutate/integrations.ts';
import type { Lookups } from '../../webhook/lookups.ts';

const NS = 'team-a';
const A = `metadata.annotations["${INTEGRATIONS_ANNOTATION}"]`;

const connector = (name: string, cls: string, address: string, namespace = NS): Connector => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name, namespace },
  spec: { connectorClassName: cls, address },
  status: { proxy: { httpAddress: { url: `http://10.0.0.5:8080/namespaces/${namespace}/connectors/${name}` } } },
});
const CONNECTORS = [
  connector('git', 'git', 'https://github.com/'),
  connector('harbor', 'oci', 'https://harbor.example.com'),
  connector('maven', 'maven', 'https://nexus.example.com/repository/releases'),
  connector('maven-mirror', 'maven', 'https://nexus.example.com/repository/public'),
  connector('shared', 'git', 'https://git.example.com', 'kube-public'),
  connector('elsewhere', 'git', 'https://git.example.com', 'team-b'),
];
const cls = (name: string, ris: string[]): ConnectorClass => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'ConnectorClass',
  metadata: {
    name,
    labels: Object.fromEntries(ris.map((r) => [`resourceinterface.connectors.cpaas.io/${r}`, 'true'])),
  },
});
const CLASSES = [cls('git', ['gitcoderepository']), cls('oci', ['ociartifact']), cls('maven', ['mavenrepository'])];

const run = (kind: 'PipelineRun' | 'TaskRun', integrations: unknown, spec: RunLike['spec'] = {}): RunLike => ({
  kind,
  metadata: {
    name: 'r',
    namespace: NS,
    annotations: {
      [INTEGRATIONS_ANNOTATION]: typeof integrations === 'string' ? integrations : JSON.stringify(integrations),
    },
  },
  spec,
});
const gitIntegration = (extra: Record<string, unknown> = {}) => ({
  name: 'source',
  interface: { category: 'GitCodeRepository' },
  connectorRef: { name: 'git' },
  params: [{ name: 'repository', value: 'org/app.git' }],
  ...extra,
});

describe('resourceinterfaces: pipeline integration', () => {
  let evaluator: Evaluator;
  before(async () => {
    evaluator = await Evaluator.create({ deadlineMs: 30_000 });
  });
  after(() => evaluator.dispose());

  function decide(
    r: RunLike,
    o: {
      multiConnector?: boolean;
      interfaces?: ResourceInterface[];
      labels?: Record<string, Record<string, string>>;
    } = {},
  ) {
    const kind = r.kind as 'PipelineRun' | 'TaskRun';
    return integrationsDecision({
      run: r,
      kind,
      namespace: NS,
      namespaceLabels: (name) => o.labels?.[name],
      integrations: runIntegrations(r, NS),
      multiConnector: o.multiConnector ?? false,
      connector: (ns, name) => CONNECTORS.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
      connectorClass: (name) => CLASSES.find((c) => c.metadata.name === name),
      resourceInterfaces: o.interfaces ?? builtinResourceInterfaces(),
      evaluator,
    });
  }
  /** The run after the decision's patch. */
  const expanded = async (r: RunLike, o?: Parameters<typeof decide>[1]) => {
    const d = await decide(r, o);
    if (!d.allowed) throw new Error(d.message);
    return { run: applyPatch(r, d.patch), warnings: d.warnings, patch: d.patch };
  };

  describe('GitCodeRepository', () => {
    it('a PipelineRun naming only the Connector and the repository gets git-url, git-revision and both workspaces', async () => {
      const { run: out } = await expanded(run('PipelineRun', [gitIntegration()], { pipelineRef: { name: 'p' } }));
      expect(out.spec).to.deep.equal({
        pipelineRef: { name: 'p' },
        params: [
          { name: 'git-url', value: 'https://github.com/org/app.git' },
          { name: 'git-revision', value: 'refs/heads/main' },
        ],
        workspaces: [
          {
            name: 'git-source',
            volumeClaimTemplate: {
              spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '200Mi' } } },
            },
          },
          {
            name: 'git-basic-auth',
            csi: {
              driver: 'connectors-csi',
              readOnly: true,
              volumeAttributes: {
                'connector.name': 'git',
                'connector.namespace': NS,
                'configuration.names': 'gitconfig',
                'token.expiration': '30m',
              },
            },
          },
        ],
      });
    });

    it('a TaskRun maps attributes and workspaces to the names its Task uses, and gives a revision', async () => {
      const { run: out } = await expanded(
        run(
          'TaskRun',
          [
            gitIntegration({
              params: [
                { name: 'repository', value: '/org/lib.git' },
                { name: 'revision', value: 'v2' },
              ],
              attributes: [
                { name: 'url', param: 'url' },
                { name: 'revision', param: 'revision' },
              ],
              workspaces: [{ name: 'git-basic-auth', workspace: 'basic-auth' }],
            }),
          ],
          { taskRef: { name: 'git-clone' }, workspaces: [{ name: 'output', emptyDir: {} }] },
        ),
      );
      expect(out.spec!.params).to.deep.equal([
        { name: 'url', value: 'https://github.com/org/lib.git' },
        { name: 'revision', value: 'v2' },
      ]);
      expect(out.spec!.workspaces!.map((w) => w.name)).to.deep.equal(['output', 'basic-auth']);
    });

    it('names an attribute listed without param after its parameterize.name', async () => {
      const { run: out } = await expanded(run('PipelineRun', [gitIntegration({ attributes: [{ name: 'revision' }] })]));
      expect(out.spec!.params).to.deep.equal([{ name: 'git-revision', value: 'refs/heads/main' }]);
    });

    it('leaves params and workspaces the run already sets, with a warning each', async () => {
      const r = run('PipelineRun', [gitIntegration()], {
        params: [{ name: 'git-revision', value: 'refs/heads/dev' }],
        workspaces: [{ name: 'git-source', emptyDir: {} }],
      });
      const { run: out, warnings, patch } = await expanded(r);
      expect(
        patch.every((op) => op.path.endsWith('/-')),
        'appended, never replaced',
      ).to.equal(true);
      expect(out.spec!.params).to.deep.equal([
        { name: 'git-revision', value: 'refs/heads/dev' },
        { name: 'git-url', value: 'https://github.com/org/app.git' },
      ]);
      expect(out.spec!.workspaces!.map((w) => w.name)).to.deep.equal(['git-source', 'git-basic-auth']);
      expect(out.spec!.workspaces![0]).to.deep.equal({ name: 'git-source', emptyDir: {} });
      expect(warnings).to.deep.equal([
        'param "git-revision" is already set in spec.params; integration "source" leaves it',
        'workspace "git-source" is already set in spec.workspaces; integration "source" leaves it',
      ]);
    });

    it('uses a cluster-level Connector (kube-public) and one of a project namespace', async () => {
      expect(
        (
          await expanded(
            run('PipelineRun', [gitIntegration({ connectorRef: { name: 'shared', namespace: 'kube-public' } })]),
          )
        ).run.spec!.params![0],
      ).to.deep.equal({ name: 'git-url', value: 'https://git.example.com/org/app.git' });
      expect(
        (
          await decide(
            run('PipelineRun', [gitIntegration({ connectorRef: { name: 'elsewhere', namespace: 'team-b' } })]),
            {
              // team-b is a project's namespace; team-a belongs to that project.
              labels: { 'team-b': { 'cpaas.io/inner-namespace': 'proj' }, [NS]: { 'cpaas.io/project': 'proj' } },
            },
          )
        ).allowed,
      ).to.equal(true);
    });
  });

  describe('OCIArtifact', () => {
    it('gives proxy references for the repository and each tag, and the registry-config workspace', async () => {
      const { run: out } = await expanded(
        run('PipelineRun', [
          {
            name: 'image',
            interface: { category: 'OCIArtifact' },
            connectorRef: { name: 'harbor' },
            params: [
              { name: 'repository', value: 'team/web' },
              { name: 'tags', value: ['1.0', 'latest'] },
            ],
          },
        ]),
      );
      const prefix = `10.0.0.5:8080/namespaces/${NS}/connectors/harbor/team/web`;
      expect(out.spec!.params).to.deep.equal([
        { name: 'oci-repository', value: prefix },
        { name: 'oci-artifacts', value: [`${prefix}:1.0`, `${prefix}:latest`] },
      ]);
      expect(out.spec!.workspaces).to.deep.equal([
        {
          name: 'registry-config',
          csi: {
            driver: 'connectors-csi',
            readOnly: true,
            volumeAttributes: {
              'connector.name': 'harbor',
              'connector.namespace': NS,
              'configuration.names': 'registry-config',
              'token.expiration': '60m',
            },
          },
        },
      ]);
    });

    it('refuses a Connector without a proxy address yet, naming the attribute', async () => {
      const noStatus = structuredClone(CONNECTORS[1]);
      delete noStatus.status;
      CONNECTORS.push({ ...noStatus, metadata: { name: 'fresh', namespace: NS } });
      try {
        const d = await decide(
          run('PipelineRun', [
            {
              name: 'image',
              interface: { category: 'OCIArtifact' },
              connectorRef: { name: 'fresh' },
              params: [{ name: 'repository', value: 'x' }],
            },
          ]),
        );
        expect(d).to.deep.include({ allowed: false, code: 400 });
        expect(d.allowed || d.message).to.equal(
          `${A}[0]: attribute "repository-address" of ResourceInterface "ociartifact": TypeError: cannot read property 'proxy' of undefined`,
        );
      } finally {
        CONNECTORS.pop();
      }
    });
  });

  describe('merged Connectors (MavenRepository)', () => {
    const maven = (extra: Record<string, unknown> = {}) => ({
      name: 'maven',
      interface: { category: 'MavenRepository' },
      connectorRef: { name: 'maven' },
      ...extra,
    });

    it('lists the main Connector first, then the merged ones, in one workspace', async () => {
      const { run: out } = await expanded(
        run('PipelineRun', [maven({ configuration: { connectors: [{ name: 'maven-mirror' }] } })]),
        { multiConnector: true },
      );
      expect(out.spec!.params).to.deep.equal([
        { name: 'maven-repository', value: 'https://nexus.example.com/repository/releases' },
      ]);
      expect(out.spec!.workspaces).to.deep.equal([
        {
          name: 'maven-settings',
          csi: {
            driver: 'connectors-csi',
            readOnly: true,
            volumeAttributes: {
              connectors: `${NS}/maven,${NS}/maven-mirror`,
              'configuration.names': 'settings',
              'token.expiration': '30m',
            },
          },
        },
      ]);
    });

    it('turns connector.name into connectors when an interface that merges names one Connector', async () => {
      const custom = structuredClone(builtinResourceInterfaces(['gitcoderepository'])[0]);
      custom.spec!.configurations = { multipleMergeConnectors: { enabled: true } };
      const { run: out } = await expanded(
        run('PipelineRun', [
          gitIntegration({
            configuration: { connectors: [{ name: 'shared', namespace: 'kube-public' }] },
            workspaces: [{ name: 'git-basic-auth' }],
          }),
        ]),
        { multiConnector: true, interfaces: [custom] },
      );
      expect((out.spec!.workspaces![0] as { csi: { volumeAttributes: unknown } }).csi.volumeAttributes).to.deep.equal({
        connectors: `${NS}/git,kube-public/shared`,
        'configuration.names': 'gitconfig',
        'token.expiration': '30m',
      });
    });

    const refusals: Array<{ what: string; r: RunLike; flag: boolean; code: number; message: string }> = [
      {
        what: 'without the feature flag',
        r: run('PipelineRun', [maven({ configuration: { connectors: [{ name: 'maven-mirror' }] } })]),
        flag: false,
        code: 403,
        message: `${A}[0].configuration.connectors: 2 connectors in one workspace need feature flag "enable-multi-connector"`,
      },
      {
        what: 'for an interface that does not merge',
        r: run('PipelineRun', [
          gitIntegration({ configuration: { connectors: [{ name: 'shared', namespace: 'kube-public' }] } }),
        ]),
        flag: true,
        code: 400,
        message:
          `${A}[0].configuration.connectors: ResourceInterface "gitcoderepository"` +
          ` does not merge Connectors (spec.configurations.multipleMergeConnectors.enabled)`,
      },
      {
        what: 'of another class',
        r: run('PipelineRun', [maven({ configuration: { connectors: [{ name: 'harbor' }] } })]),
        flag: true,
        code: 400,
        message:
          `${A}[0].configuration.connectors[0]: Connector "${NS}/harbor" is of class "oci"` +
          `; merged Connectors must be of the main Connector's class "maven"`,
      },
    ];
    for (const k of refusals) {
      it(`refuses merged Connectors ${k.what}`, async () => {
        const d = await decide(k.r, { multiConnector: k.flag });
        expect(d).to.deep.include({ allowed: false, code: k.code, message: k.message });
      });
    }
  });

  describe('choosing the interface', () => {
    const variant = (name: string, version: string, schema: string) => {
      const r = structuredClone(builtinResourceInterfaces(['gitcoderepository'])[0]);
      r.metadata.name = name;
      r.metadata.labels!['resourceinterface.connectors.cpaas.io/version'] = version;
      r.metadata.labels!['resourceinterface.connectors.cpaas.io/schema-version'] = schema;
      r.spec!.attributes![0].expression = `{'${name}'}`;
      return r;
    };
    const withClass = (ris: string[]) => {
      CLASSES.push(cls('git2', ris));
      CONNECTORS.push(connector('git2', 'git2', 'https://g.example.com'));
    };
    afterEach(() => {
      if (CLASSES.at(-1)!.metadata.name === 'git2') CLASSES.pop();
      if (CONNECTORS.at(-1)!.metadata.name === 'git2') CONNECTORS.pop();
    });
    const url = async (r: RunLike, interfaces: ResourceInterface[]) =>
      ((await expanded(r, { interfaces })).run.spec!.params!.find((p) => p.name === 'git-url') ?? {}).value;

    it('takes the highest schema-version it renders, then the highest version, among those the class declares', async () => {
      withClass(['git-v1', 'git-v2', 'git-v3-schema2']);
      const interfaces = [
        variant('git-v1', '1', '1'),
        variant('git-v2', '2', '1'),
        variant('git-v3-schema2', '3', '2'),
        variant('git-undeclared', '9', '1'),
      ];
      expect(await url(run('PipelineRun', [gitIntegration({ connectorRef: { name: 'git2' } })]), interfaces)).to.equal(
        'git-v2',
      );
      expect(
        await url(
          run('PipelineRun', [gitIntegration({ connectorRef: { name: 'git2' }, interface: { name: 'git-v1' } })]),
          interfaces,
        ),
      ).to.equal('git-v1');
    });

    const refusals: Array<{ what: string; integration: Record<string, unknown>; message: string }> = [
      {
        what: 'an interface name that does not exist',
        integration: { interface: { name: 'nope' } },
        message: `${A}[0].interface.name: ResourceInterface "nope" not found`,
      },
      {
        what: "an interface the Connector's class does not declare",
        integration: { interface: { name: 'ociartifact' } },
        message:
          `${A}[0].interface.name: ConnectorClass "git" of Connector "${NS}/git"` +
          ` does not declare ResourceInterface "ociartifact" (label resourceinterface.connectors.cpaas.io/ociartifact: "true")`,
      },
      {
        what: 'a category without a fitting interface',
        integration: { interface: { category: 'NPMRepository' } },
        message:
          `${A}[0].interface.category: no ResourceInterface of category "NPMRepository"` +
          ` fits ConnectorClass "git" of Connector "${NS}/git"` +
          ` (category members: npmrepository; the class declares none of them, or their schema-version is above 1)`,
      },
    ];
    for (const k of refusals) {
      it(`refuses ${k.what}`, async () => {
        expect(await decide(run('PipelineRun', [gitIntegration(k.integration)]))).to.deep.include({
          allowed: false,
          message: k.message,
        });
      });
    }
  });

  describe('refusals, each naming the field', () => {
    const cases: Array<{ what: string; annotation: unknown; code?: number; message: string }> = [
      { what: 'not YAML', annotation: '- [', message: `${A}: not YAML: ` },
      { what: 'not a list', annotation: 'name: x', message: `${A}: must be a list of integrations` },
      {
        what: 'an integration without name',
        annotation: [{ interface: { category: 'x' } }],
        message: `${A}[0].name: required`,
      },
      {
        what: 'two integrations with one name',
        annotation: [gitIntegration(), gitIntegration()],
        message: `${A}[1].name: "source" is used twice`,
      },
      {
        what: 'no interface',
        annotation: [gitIntegration({ interface: undefined })],
        message: `${A}[0].interface: required: {category} or {name}`,
      },
      {
        what: 'no connectorRef',
        annotation: [gitIntegration({ connectorRef: undefined })],
        message: `${A}[0].connectorRef: must be an object {name, namespace}`,
      },
      {
        what: 'a Connector name that cannot be one',
        annotation: [gitIntegration({ connectorRef: { name: 'Bad_Name' } })],
        message: `${A}[0].connectorRef.name: "Bad_Name" is not a Connector name`,
      },
      {
        what: 'a Connector that does not exist',
        annotation: [gitIntegration({ connectorRef: { name: 'nope' } })],
        code: 403,
        message: `${A}[0]: Connector "${NS}/nope" not found`,
      },
      {
        what: 'a Connector out of scope',
        annotation: [gitIntegration({ connectorRef: { name: 'elsewhere', namespace: 'team-b' } })],
        code: 403,
        message: `${A}[0]: a PipelineRun in namespace "${NS}" may not use Connector "team-b/elsewhere"`,
      },
      {
        what: 'a missing required param',
        annotation: [gitIntegration({ params: [] })],
        message: `${A}[0].params: param "repository" of ResourceInterface "gitcoderepository" is required`,
      },
      {
        what: 'an unknown param',
        annotation: [
          gitIntegration({
            params: [
              { name: 'repository', value: 'a' },
              { name: 'branch', value: 'b' },
            ],
          }),
        ],
        message: `${A}[0].params: ResourceInterface "gitcoderepository" has no param "branch" (params: repository, revision)`,
      },
      {
        what: 'a param of the wrong type',
        annotation: [gitIntegration({ params: [{ name: 'repository', value: ['a'] }] })],
        message: `${A}[0].params: param "repository" of ResourceInterface "gitcoderepository" is of type string, found ["a"]`,
      },
      {
        what: 'an unknown attribute',
        annotation: [gitIntegration({ attributes: [{ name: 'sha' }] })],
        message: `${A}[0].attributes[0].name: ResourceInterface "gitcoderepository" has no attribute "sha" (attributes: url, revision)`,
      },
      {
        what: 'an attribute mapped to a param name Tekton refuses',
        annotation: [gitIntegration({ attributes: [{ name: 'url', param: '1url' }] })],
        message: `${A}[0].attributes[0].param: "1url" is not a Tekton param name`,
      },
      {
        what: 'an unknown workspace',
        annotation: [gitIntegration({ workspaces: [{ name: 'ssh' }] })],
        message: `${A}[0].workspaces[0].name: ResourceInterface "gitcoderepository" has no workspace "ssh" (workspaces: git-source, git-basic-auth)`,
      },
      {
        what: 'two integrations setting one param',
        annotation: [gitIntegration(), gitIntegration({ name: 'other' })],
        message: 'param "git-url" is set by both integration "source" and integration "other"',
      },
    ];
    for (const k of cases) {
      it(`refuses ${k.what}`, async () => {
        const r = run('PipelineRun', k.annotation);
        let d;
        try {
          d = await decide(r);
        } catch (err) {
          d = { allowed: false, code: 400, message: (err as Error).message };
        }
        expect(d.allowed).to.equal(false);
        if (d.allowed) return;
        expect(d.code).to.equal(k.code ?? 400);
        expect(d.message.startsWith(k.message), d.message).to.equal(true);
      });
    }
  });

  it('leaves the TaskRuns of a PipelineRun alone (Tekton copies the annotation to them)', () => {
    const tr = run('TaskRun', [gitIntegration()]);
    tr.metadata!.labels = { 'tekton.dev/pipelineRun': 'p-1' };
    expect(runIntegrations(tr, NS)).to.deep.equal([]);
    const owned = run('TaskRun', [gitIntegration()]);
    owned.metadata!.ownerReferences = [{ kind: 'PipelineRun' }];
    expect(runIntegrations(owned, NS)).to.deep.equal([]);
    expect(runIntegrations(run('TaskRun', [gitIntegration()]), NS)).to.have.length(1);
  });

  it('the TaskRun webhook applies the integrations first, then the workspace annotations, in one patch', async () => {
    const lookups: Lookups = {
      connector: (ns, name) =>
        Promise.resolve(CONNECTORS.find((c) => c.metadata.namespace === ns && c.metadata.name === name)),
      namespaceLabels: () => Promise.resolve({}),
      connectorClass: (name) => Promise.resolve(CLASSES.find((c) => c.metadata.name === name)),
      secret: () => Promise.resolve(undefined),
      resourceInterfaces: () => Promise.resolve(builtinResourceInterfaces()),
      synced: Promise.resolve(),
      stop: async () => {},
    };
    const h = handlers({ lookups, flags: { enabled: () => false } as never, systemNamespace: 'connectors-system' });
    const tr = run(
      'TaskRun',
      [
        gitIntegration({
          attributes: [{ name: 'url', param: 'url' }],
          workspaces: [{ name: 'git-basic-auth', workspace: 'basic-auth' }],
        }),
      ],
      {
        taskRef: { name: 'git-clone' },
      },
    );
    tr.metadata!.annotations!['connectors.cpaas.io/workspace.extra'] = 'connector=git; configuration.names=gitconfig';
    const res = await h['/mutate/taskruns']({ uid: 'u1', operation: 'CREATE', namespace: NS, object: tr } as never);
    expect(res.allowed, JSON.stringify(res)).to.equal(true);
    const ops = JSON.parse(Buffer.from(res.patch!, 'base64').toString());
    const out = applyPatch(tr, ops);
    expect(out.spec!.params).to.deep.equal([{ name: 'url', value: 'https://github.com/org/app.git' }]);
    expect(out.spec!.workspaces!.map((w) => w.name)).to.deep.equal(['basic-auth', 'extra']);
  });
});
