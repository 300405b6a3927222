// Pure decisions of the mutating webhook: image parsing and rewriting, the Pod patch, the TaskRun contract.
import { expect } from 'chai';
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import { parseImage, proxyImagePrefix, rewriteImage } from '../../webhook/mutate/image.ts';
import { flagOffMessage, podDecision, podPatch, type PodLike } from '../../webhook/mutate/pod.ts';
import { parseWorkspaceAnnotation, taskRunDecision } from '../../webhook/mutate/taskrun.ts';
import { escapePointerToken, pointer } from '../../webhook/jsonpatch.ts';

const PROXY = 'http://192.168.1.10:31567/namespaces/oci-connector-demo/connectors/harbor';
const conn = (address: string, url: string | null = PROXY): Connector => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name: 'harbor', namespace: 'oci-connector-demo' },
  spec: { connectorClassName: 'oci', address },
  status: url ? { proxy: { httpAddress: { url } } } : {},
});
const P = '192.168.1.10:31567/namespaces/oci-connector-demo/connectors/harbor';
const CLASSES: Record<string, ConnectorClass> = { oci: loadBuiltinClass('oci'), git: loadBuiltinClass('git') };
/** Namespace labels for the scope rule, by namespace name. */
const labels =
  (byNamespace: Record<string, Record<string, string>> = {}) =>
  (name: string) =>
    byNamespace[name];
const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('webhook: image references', () => {
  const parseCases: Array<[string, ReturnType<typeof parseImage>]> = [
    ['nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['index.docker.io/library/nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    [
      'harbor.example.com/oci-connector-demo:v1',
      { registry: 'harbor.example.com', repository: 'oci-connector-demo', tag: 'v1' },
    ],
    ['localhost:5000/a/b/c:t', { registry: 'localhost:5000', repository: 'a/b/c', tag: 't' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    [`reg.io/app@${DIGEST}`, { registry: 'reg.io', repository: 'app', digest: DIGEST }],
    [`reg.io:8443/app:v2@${DIGEST}`, { registry: 'reg.io:8443', repository: 'app', tag: 'v2', digest: DIGEST }],
    ['Reg.Example.COM/app', { registry: 'reg.example.com', repository: 'app' }],
    ['', undefined],
    ['UPPER/app', { registry: 'upper', repository: 'app' }],
    ['reg.io/App', undefined],
    ['reg.io/app:bad tag', undefined],
    ['reg.io/app@sha256:short', undefined],
  ];
  for (const [image, want] of parseCases) {
    it(`parses ${JSON.stringify(image)}`, () => expect(parseImage(image)).to.deep.equal(want));
  }

  const rewriteCases: Array<{ image: string; address: string; want: string | undefined; why: string }> = [
    {
      image: 'harbor.example.com/oci-connector-demo:v1',
      address: 'https://harbor.example.com',
      want: `${P}/oci-connector-demo:v1`,
      why: 'the OCI quick start',
    },
    {
      image: 'harbor.example.com/oci-connector-demo:v1',
      address: 'https://harbor.example.com/',
      want: `${P}/oci-connector-demo:v1`,
      why: 'trailing slash in address',
    },
    {
      image: 'harbor.example.com/a/b',
      address: 'https://harbor.example.com/prefix',
      want: `${P}/a/b`,
      why: 'address path prefix ignored, no tag stays no tag',
    },
    {
      image: `harbor.example.com/app@${DIGEST}`,
      address: 'https://harbor.example.com',
      want: `${P}/app@${DIGEST}`,
      why: 'digest kept',
    },
    {
      image: `harbor.example.com/app:v1@${DIGEST}`,
      address: 'https://harbor.example.com',
      want: `${P}/app:v1@${DIGEST}`,
      why: 'tag and digest kept',
    },
    {
      image: 'harbor.example.com:443/app:v1',
      address: 'https://harbor.example.com',
      want: `${P}/app:v1`,
      why: 'explicit default port',
    },
    {
      image: 'harbor.example.com:5000/app:v1',
      address: 'https://harbor.example.com',
      want: undefined,
      why: 'other port is another registry',
    },
    {
      image: 'reg.local:5000/app:v1',
      address: 'http://reg.local:5000',
      want: `${P}/app:v1`,
      why: 'registry with port',
    },
    {
      image: 'nginx:1.27',
      address: 'https://registry-1.docker.io',
      want: `${P}/library/nginx:1.27`,
      why: 'Docker Hub default, library/ added',
    },
    {
      image: 'docker.io/bitnami/redis',
      address: 'https://index.docker.io',
      want: `${P}/bitnami/redis`,
      why: 'Docker Hub aliases',
    },
    {
      image: 'nginx',
      address: 'https://harbor.example.com',
      want: undefined,
      why: 'Docker Hub image, Harbor connector',
    },
    {
      image: 'other.example.com/app:v1',
      address: 'https://harbor.example.com',
      want: undefined,
      why: 'other registry',
    },
    {
      image: 'HARBOR.example.com/app',
      address: 'https://harbor.example.com',
      want: `${P}/app`,
      why: 'host case-insensitive',
    },
  ];
  for (const c of rewriteCases) {
    it(`rewrites ${c.image} for ${c.address} (${c.why})`, () =>
      expect(rewriteImage(c.image, conn(c.address))).to.equal(c.want));
  }

  it('needs a proxy URL; drops the scheme; gives a dotless host its port', () => {
    expect(rewriteImage('harbor.example.com/app', conn('https://harbor.example.com', null))).to.equal(undefined);
    expect(proxyImagePrefix('http://127.0.0.1:31567/namespaces/ns/connectors/harbor/')).to.equal(
      '127.0.0.1:31567/namespaces/ns/connectors/harbor',
    );
    expect(proxyImagePrefix('http://connectors-proxy/namespaces/ns/connectors/h')).to.equal(
      'connectors-proxy:80/namespaces/ns/connectors/h',
    );
    expect(proxyImagePrefix('https://proxy.example.com/namespaces/ns/connectors/h')).to.equal(
      'proxy.example.com/namespaces/ns/connectors/h',
    );
    expect(proxyImagePrefix('not a url')).to.equal(undefined);
  });

  it('escapes JSON pointers (RFC 6901)', () => {
    expect(escapePointerToken('a/b~c')).to.equal('a~1b~0c');
    expect(pointer('metadata', 'annotations', 'connectors.cpaas.io/x')).to.equal(
      '/metadata/annotations/connectors.cpaas.io~1x',
    );
  });
});

describe('webhook: Pod patch and decision', () => {
  const pod = (over: Partial<PodLike['spec']> = {}, meta: PodLike['metadata'] = {}): PodLike => ({
    metadata: {
      name: 'p',
      labels: { 'connectors.cpaas.io/proxy-inject': 'true' },
      annotations: { 'connectors.cpaas.io/connector': 'oci-connector-demo/harbor' },
      ...meta,
    },
    spec: { containers: [{ name: 'c', image: 'harbor.example.com/oci-connector-demo:v1' }], ...over },
  });
  const harbor = conn('https://harbor.example.com');

  it('rewrites containers, init containers and ephemeral containers, leaving other images', () => {
    const ops = podPatch(
      pod({
        initContainers: [
          { name: 'i', image: 'busybox' },
          { name: 'j', image: `harbor.example.com/tools@${DIGEST}` },
        ],
        containers: [
          { name: 'a', image: 'harbor.example.com/a:v1' },
          { name: 'b', image: 'quay.io/b:v1' },
        ],
        ephemeralContainers: [{ name: 'd', image: 'harbor.example.com/debug:1' }],
      }),
      harbor,
    );
    expect(ops).to.deep.equal([
      { op: 'replace', path: '/spec/initContainers/1/image', value: `${P}/tools@${DIGEST}` },
      { op: 'replace', path: '/spec/containers/0/image', value: `${P}/a:v1` },
      { op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `${P}/debug:1` },
    ]);
  });

  it('is idempotent: an already rewritten Pod gets no op', () => {
    expect(podPatch(pod({ containers: [{ name: 'c', image: `${P}/oci-connector-demo:v1` }] }), harbor)).to.deep.equal(
      [],
    );
  });

  const base = {
    namespace: 'oci-connector-demo',
    operation: 'CREATE' as const,
    systemNamespace: 'connectors-system',
    flagEnabled: true,
    namespaceLabels: labels(),
    connector: () => harbor,
    connectorClass: (name: string) => CLASSES[name],
  };
  const cases: Array<{
    name: string;
    input: Partial<Parameters<typeof podDecision>[0]>;
    allowed: boolean;
    match?: RegExp;
    ops?: number;
  }> = [
    { name: 'the OCI quick start Pod, flag on → rewritten', input: {}, allowed: true, ops: 1 },
    {
      name: 'flag off → rejected naming the field, the flag and where to set it',
      input: { flagEnabled: false },
      allowed: false,
      match:
        /^metadata\.annotations\["connectors\.cpaas\.io\/connector"\]: image pull via Connector "oci-connector-demo\/harbor" is disabled: feature flag "enable-pod-image-pull-via-connector" is off\. To enable it set "enable-pod-image-pull-via-connector": "true" in ConfigMap connectors-system\/connectors-config \(ConnectorsConfig spec\.components\.core\.spec\.featureFlags\)/,
    },
    {
      name: 'annotation without the label, flag off → rejected all the same',
      input: { flagEnabled: false, pod: pod({}, { labels: {} }) },
      allowed: false,
      match:
        /^metadata\.annotations\["connectors\.cpaas\.io\/connector"\]: .*feature flag "enable-pod-image-pull-via-connector" is off/,
    },
    {
      name: 'annotation without the label, flag off, an ephemeral container added → allowed (nothing to rewrite)',
      input: { flagEnabled: false, operation: 'UPDATE', pod: pod({}, { labels: {} }) },
      allowed: true,
      ops: 0,
    },
    {
      name: 'labelled, flag off, an ephemeral container added → rejected',
      input: { flagEnabled: false, operation: 'UPDATE' },
      allowed: false,
      match: /feature flag "enable-pod-image-pull-via-connector" is off/,
    },
    {
      name: 'annotation without the label, flag on → untouched',
      input: { pod: pod({}, { labels: {} }) },
      allowed: true,
      ops: 0,
    },
    {
      name: 'no label and no annotation, flag off → untouched',
      input: { flagEnabled: false, pod: pod({}, { labels: {}, annotations: {} }) },
      allowed: true,
      ops: 0,
    },
    {
      name: 'label without annotation → untouched',
      input: { pod: pod({}, { annotations: {} }) },
      allowed: true,
      ops: 0,
    },
    {
      name: 'Connector missing → denied',
      input: { connector: () => undefined },
      allowed: false,
      match: /Connector "oci-connector-demo\/harbor" not found/,
    },
    {
      name: 'Connector in another namespace → denied',
      input: { namespace: 'other' },
      allowed: false,
      match: /in namespace "other" may not use Connector "oci-connector-demo\/harbor"/,
    },
    {
      name: 'Connector in a project namespace the Pod namespace belongs to → allowed',
      input: {
        namespace: 'member',
        namespaceLabels: labels({
          member: { 'cpaas.io/project': 'team' },
          'oci-connector-demo': { 'cpaas.io/inner-namespace': 'team' },
        }),
      },
      allowed: true,
      ops: 1,
    },
    {
      name: 'a Pod namespace labelled cpaas.io/project=<the Connector namespace>, which is no project namespace → denied',
      input: { namespace: 'member', namespaceLabels: labels({ member: { 'cpaas.io/project': 'oci-connector-demo' } }) },
      allowed: false,
      match:
        /a Pod in namespace "member" may not use Connector "oci-connector-demo\/harbor": it is usable only from namespace "oci-connector-demo"/,
    },
    {
      name: 'a Connector of a class that is not OCI-kind → denied, naming the class',
      input: { connector: () => ({ ...harbor, spec: { ...harbor.spec, connectorClassName: 'git' } }) },
      allowed: false,
      match:
        /Connector "oci-connector-demo\/harbor" cannot serve images: its connectorclass "git" does not serve the OCI distribution API \(a class labelled connectors\.cpaas\.io\/oci: "true" does\)/,
    },
    {
      name: 'a Connector whose class is missing → denied',
      input: { connectorClass: () => undefined },
      allowed: false,
      match: /its connectorclass "oci" was not found/,
    },
    {
      name: 'malformed annotation → denied',
      input: { pod: pod({}, { annotations: { 'connectors.cpaas.io/connector': 'a/b/c' } }) },
      allowed: false,
      match: /is not a Connector reference/,
    },
    {
      name: 'Connector without proxy address → denied',
      input: { connector: () => conn('https://harbor.example.com', null) },
      allowed: false,
      match: /has no proxy address yet/,
    },
    {
      name: 'no image on the registry → allowed with a warning',
      input: { pod: pod({ containers: [{ name: 'c', image: 'nginx' }] }) },
      allowed: true,
      ops: 0,
    },
    {
      name: 'bare connector name means the Pod namespace',
      input: { pod: pod({}, { annotations: { 'connectors.cpaas.io/connector': 'harbor' } }) },
      allowed: true,
      ops: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = podDecision({ pod: pod(), ...base, ...c.input });
      expect(d.allowed).to.equal(c.allowed);
      if (!d.allowed && c.match) expect(d.message).to.match(c.match);
      if (d.allowed && c.ops !== undefined) expect(d.patch).to.have.length(c.ops);
    });
  }

  it('flag-off message text', () => {
    expect(flagOffMessage('ns/x', 'connectors-system')).to.include('"enable-pod-image-pull-via-connector": "true"');
  });
});

describe('webhook: TaskRun workspaces contract', () => {
  const git = {
    metadata: { name: 'gh', namespace: 'ci' },
    spec: { connectorClassName: 'git', address: 'https://github.com' },
  } as unknown as Connector;
  const flags = { imagePull: false, multiConnector: false };
  const trDeps = { namespaceLabels: labels(), connectorClass: (name: string) => CLASSES[name] };

  it('parses an annotation into a CSI workspace', () => {
    expect(
      parseWorkspaceAnnotation(
        'connectors.cpaas.io/workspace.basic-auth',
        'connector=ci/gh; configuration.names=gitconfig; token.expiration=30m',
        'ci',
      ),
    ).to.deep.equal({
      workspace: 'basic-auth',
      connectors: [{ namespace: 'ci', name: 'gh' }],
      volumeAttributes: { connectors: 'ci/gh', 'configuration.names': 'gitconfig', 'token.expiration': '30m' },
    });
  });

  const bad: Array<[string, RegExp]> = [
    ['configuration.names=x', /no connector/],
    ['connector=ci/gh; colour=blue', /unknown key "colour"/],
    ['connector=ci/gh; token.expiration=soon', /token\.expiration "soon" is not a duration/],
    ['connector=ci/gh; configuration.params={bad', /configuration\.params is not JSON/],
    ['connector=a/b/c', /is not a Connector reference/],
    ['connector', /is not key=value/],
  ];
  for (const [value, re] of bad) {
    it(`rejects ${JSON.stringify(value)}`, () => {
      const d = taskRunDecision({
        ...trDeps,
        taskRun: { metadata: { annotations: { 'connectors.cpaas.io/workspace.source': value } }, spec: {} },
        namespace: 'ci',
        flags,
        connector: () => git,
      });
      expect(d.allowed).to.equal(false);
      if (!d.allowed)
        expect(d.message).to.match(re).and.to.include('metadata.annotations["connectors.cpaas.io/workspace.source"]');
    });
  }

  it('adds spec.workspaces, appends to it, and never overrides a bound workspace', () => {
    const ann = {
      'connectors.cpaas.io/workspace.basic-auth': 'connector=gh; configuration.names=gitconfig',
      'connectors.cpaas.io/workspace.output': 'connector=ci/gh',
    };
    const none = taskRunDecision({
      ...trDeps,
      taskRun: { metadata: { annotations: ann }, spec: {} },
      namespace: 'ci',
      flags,
      connector: () => git,
    });
    expect(none.allowed && none.patch).to.deep.equal([
      {
        op: 'add',
        path: '/spec/workspaces',
        value: [
          {
            name: 'basic-auth',
            csi: {
              driver: 'connectors-csi',
              readOnly: true,
              volumeAttributes: { connectors: 'ci/gh', 'configuration.names': 'gitconfig' },
            },
          },
          {
            name: 'output',
            csi: { driver: 'connectors-csi', readOnly: true, volumeAttributes: { connectors: 'ci/gh' } },
          },
        ],
      },
    ]);
    const some = taskRunDecision({
      ...trDeps,
      taskRun: { metadata: { annotations: ann }, spec: { workspaces: [{ name: 'output', emptyDir: {} }] } },
      namespace: 'ci',
      flags,
      connector: () => git,
    });
    expect(some.allowed && some.patch).to.deep.equal([
      {
        op: 'add',
        path: '/spec/workspaces/-',
        value: {
          name: 'basic-auth',
          csi: {
            driver: 'connectors-csi',
            readOnly: true,
            volumeAttributes: { connectors: 'ci/gh', 'configuration.names': 'gitconfig' },
          },
        },
      },
    ]);
    expect(some.allowed && some.warnings[0]).to.match(/workspace "output" is already bound/);
  });

  it('needs enable-multi-connector for several connectors, and existing, in-scope connectors', () => {
    const multi = { 'connectors.cpaas.io/workspace.cfg': 'connectors=ci/a,ci/b' };
    const off = taskRunDecision({
      ...trDeps,
      taskRun: { metadata: { annotations: multi }, spec: {} },
      namespace: 'ci',
      flags,
      connector: () => git,
    });
    expect(!off.allowed && off.message).to.match(/need feature flag "enable-multi-connector"/);
    const on = taskRunDecision({
      ...trDeps,
      taskRun: { metadata: { annotations: multi }, spec: {} },
      namespace: 'ci',
      flags: { ...flags, multiConnector: true },
      connector: () => git,
    });
    expect(on.allowed).to.equal(true);
    const missing = taskRunDecision({
      ...trDeps,
      taskRun: { metadata: { annotations: { 'connectors.cpaas.io/workspace.x': 'connector=ci/nope' } }, spec: {} },
      namespace: 'ci',
      flags,
      connector: () => undefined,
    });
    expect(!missing.allowed && missing.message).to.match(/Connector "ci\/nope" not found/);
    const scope = taskRunDecision({
      ...trDeps,
      taskRun: { metadata: { annotations: { 'connectors.cpaas.io/workspace.x': 'connector=other/gh' } }, spec: {} },
      namespace: 'ci',
      flags,
      connector: () => git,
    });
    expect(!scope.allowed && scope.message).to.match(/may not use Connector "other\/gh"/);
  });

  it('rewrites inline step images when the TaskRun opts into the Pod contract and the flag is on', () => {
    const tr = {
      metadata: {
        labels: { 'connectors.cpaas.io/proxy-inject': 'true' },
        annotations: { 'connectors.cpaas.io/connector': 'oci-connector-demo/harbor' },
      },
      spec: { taskSpec: { steps: [{ image: 'harbor.example.com/build:1' }, { image: 'alpine' }] } },
    };
    const harbor = conn('https://harbor.example.com');
    const on = taskRunDecision({
      ...trDeps,
      taskRun: tr,
      namespace: 'oci-connector-demo',
      flags: { imagePull: true, multiConnector: false },
      connector: () => harbor,
    });
    expect(on.allowed && on.patch).to.deep.equal([
      { op: 'replace', path: '/spec/taskSpec/steps/0/image', value: `${P}/build:1` },
    ]);
    const off = taskRunDecision({
      ...trDeps,
      taskRun: tr,
      namespace: 'oci-connector-demo',
      flags,
      connector: () => harbor,
    });
    expect(off.allowed && off.patch).to.deep.equal([]);
    const gitKind = taskRunDecision({
      ...trDeps,
      taskRun: tr,
      namespace: 'oci-connector-demo',
      flags: { imagePull: true, multiConnector: false },
      connector: () => ({ ...harbor, spec: { ...harbor.spec, connectorClassName: 'git' } }),
    });
    expect(gitKind.allowed && gitKind.patch, 'a git-kind Connector serves no images').to.deep.equal([]);
  });
});
