// Pure parts of the CSI driver: volume attributes, Go durations, scope, built-in files, rendering rules,
// the atomic writer and the mounters.
import { mkdtemp, readFile, readdir, readlink, rm, stat, lstat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import {
  parseConnectors,
  parseParams,
  parseSelectors,
  parseTokenExpiration,
  parseVolumeRequest,
  kubeletToken,
} from '../../csi/attributes.ts';
import { renderVolume, forwardProxyWithAuth, unknownConfigurations, type ResolvedConnector } from '../../csi/render.ts';
import { writeFileSet, readFileSet } from '../../csi/atomicwriter.ts';
import { DirMounter, TmpfsMounter, detectMounter, mountPoints } from '../../csi/mounter.ts';
import { CsiError } from '../../csi/errors.ts';
import type { Connector, ConnectorClass } from '../../core/api/index.ts';

function code(fn: () => unknown): { code: status; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CsiError);
    return { code: (err as CsiError).code, message: (err as Error).message };
  }
  throw new Error('expected an error');
}

describe('csi: token.expiration', () => {
  it('token.expiration defaults to 30m and must be at least 10m', () => {
    expect(parseTokenExpiration(undefined)).to.equal(1800);
    expect(parseTokenExpiration('60m')).to.equal(3600);
    expect(code(() => parseTokenExpiration('5m')).code).to.equal(status.INVALID_ARGUMENT);
    expect(code(() => parseTokenExpiration('soon')).message).to.contain('token.expiration');
  });
});

describe('csi: volume attributes', () => {
  it('reads connectors as name or ns/name, defaulting to the pod namespace', () => {
    expect(parseConnectors({ connectors: 'a, ns2/b ,a' }, 'pod-ns')).to.deep.equal([
      { namespace: 'pod-ns', name: 'a' },
      { namespace: 'ns2', name: 'b' },
    ]);
  });
  it("reads the deprecated connector.name + connector.namespace (empty namespace = the pod's)", () => {
    expect(parseConnectors({ 'connector.name': 'git-connector' }, 'p')).to.deep.equal([
      { namespace: 'p', name: 'git-connector' },
    ]);
    expect(parseConnectors({ 'connector.name': 'x', 'connector.namespace': '' }, 'p')).to.deep.equal([
      { namespace: 'p', name: 'x' },
    ]);
    expect(parseConnectors({ 'connector.name': 'x', 'connector.namespace': 'kube-public' }, 'p')).to.deep.equal([
      { namespace: 'kube-public', name: 'x' },
    ]);
  });
  it('accepts connectors and connector.name together only when they agree', () => {
    expect(parseConnectors({ connectors: 'x', 'connector.name': 'x' }, 'p')).to.have.length(1);
    expect(code(() => parseConnectors({ connectors: 'x', 'connector.name': 'y' }, 'p')).code).to.equal(
      status.INVALID_ARGUMENT,
    );
  });
  const invalid: Array<[string, Record<string, string>]> = [
    ['no connector', {}],
    ['a bad name', { connectors: 'Bad_Name' }],
    ['three path parts', { connectors: 'a/b/c' }],
  ];
  for (const [what, attrs] of invalid)
    it(`rejects ${what} with InvalidArgument`, () =>
      expect(code(() => parseConnectors(attrs, 'p')).code).to.equal(status.INVALID_ARGUMENT));
  it('splits configuration.names into includes and !file excludes', () => {
    expect(parseSelectors('config1, !config1.conf,!context.token,config1')).to.deep.equal({
      includes: ['config1'],
      excludes: ['config1.conf', 'context.token'],
    });
    expect(parseSelectors(undefined)).to.deep.equal({ includes: [], excludes: [] });
  });
  it('parses configuration.params as {config: {param: value}}', () => {
    expect(parseParams('{"npmrc":{"registry":"npm-proxy","strictSSL":false}}')).to.deep.equal({
      npmrc: { registry: 'npm-proxy', strictSSL: 'false' },
    });
    expect(parseParams('')).to.deep.equal({});
    for (const bad of ['{npmrc', '[1]', '{"npmrc":"x"}', '{"npmrc":{"a":{"b":1}}}']) {
      const e = code(() => parseParams(bad));
      expect(e.code, bad).to.equal(status.INVALID_ARGUMENT);
      expect(e.message).to.contain('configuration.params');
    }
  });
  it('needs the pod information kubelet adds with podInfoOnMount', () => {
    const e = code(() => parseVolumeRequest({ connectors: 'a' }, {}, 'connectors-proxy'));
    expect(e.code).to.equal(status.INVALID_ARGUMENT);
    expect(e.message).to.contain('podInfoOnMount');
  });
  it('takes kubelet tokens from secrets first (KEP-5538), then volume_context', () => {
    const json = (t: string) =>
      JSON.stringify({
        'connectors-proxy': { token: t, expirationTimestamp: '2030-01-01T00:00:00Z' },
        other: { token: 'no' },
      });
    const key = 'csi.storage.k8s.io/serviceAccount.tokens';
    expect(kubeletToken({ [key]: json('ctx') }, { [key]: json('sec') }, 'connectors-proxy')?.token).to.equal('sec');
    expect(kubeletToken({ [key]: json('ctx') }, {}, 'connectors-proxy')).to.deep.equal({
      token: 'ctx',
      expiresAt: Date.parse('2030-01-01T00:00:00Z'),
    });
    expect(kubeletToken({ [key]: JSON.stringify({ other: { token: 'x' } }) }, {}, 'connectors-proxy')).to.equal(
      undefined,
    );
  });
});

function connector(ns: string, name: string, address: string, proxy: string, cls = 'git'): Connector {
  return {
    apiVersion: 'connectors.alauda.io/v1alpha1',
    kind: 'Connector',
    metadata: { name, namespace: ns, generation: 3 },
    spec: { connectorClassName: cls, address, params: [{ name: 'repository', value: 'org/repo.git' }] },
    status: { proxy: { httpAddress: { url: proxy } } },
  };
}

const GITCONFIG = `[http]
    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}
{{- range .connectors }}
[url "{{ .status.proxyAddress }}"]
    insteadOf = {{ .spec.address }}
{{- end }}
`;

function gitClass(extra: Partial<ConnectorClass['spec']> = {}): ConnectorClass {
  return {
    apiVersion: 'connectors.alauda.io/v1alpha1',
    kind: 'ConnectorClass',
    metadata: { name: 'git' },
    spec: {
      proxy: { ref: { kind: 'Service', name: 'connectors-proxy-service' } },
      configurations: [
        { name: 'gitconfig', data: { '.gitconfig': GITCONFIG } },
        {
          name: 'npmrc',
          params: [{ name: 'registry' }, { name: 'strictSSL', default: 'true' }],
          data: {
            '.npmrc':
              'registry={{ .configurations.registry }}\nstrict-ssl={{ .configurations.strictSSL }}\nname={{ ' +
              '.connector.metadata.name }} gen={{ .connector.metadata.generation }} class={{ ' +
              '.connectorclass.metadata.name }} {{ .connectorclass.proxyAddress }}\n',
          },
        },
        { name: 'config1', data: { 'config1.conf': 'one', 'config1.extra': 'two' } },
        { name: 'override', data: { '.gitconfig': 'overridden' } },
      ],
      ...extra,
    },
    status: {
      proxy: { httpAddress: { url: 'http://connectors-proxy-service.connectors-system.svc.cluster.local' } },
    },
  };
}

describe('csi: rendering', () => {
  const token = 'eyJhbGciOiJSUzI1NiJ9.payload.sig';
  const proxy = 'http://proxy.example:8080';
  const base = (connectors: ResolvedConnector[], o: Partial<Parameters<typeof renderVolume>[0]> = {}) =>
    renderVolume({
      connectors,
      includes: [],
      excludes: [],
      params: {},
      token,
      caCert: 'PEM',
      forwardProxyURL: proxy,
      ...o,
    });
  const one = [
    {
      connector: connector(
        'demo',
        'git-connector',
        'https://github.com',
        'http://c-git-connector.demo.svc.cluster.local',
      ),
      cls: gitClass(),
    },
  ];

  it('writes only the built-in files when configuration.names is omitted', () => {
    const files = base(one);
    expect([...files.keys()].sort()).to.deep.equal([
      '.env',
      'ca.cert',
      'ca.crt',
      'connector.status.proxyAddress',
      'context.proxy.caCert',
      'context.token',
      'http.proxy',
      'https.proxy',
    ]);
    const url = `http://demo%2Fgit-connector:${token}@proxy.example:8080`;
    expect(files.get('http.proxy')).to.equal(url);
    expect(files.get('https.proxy')).to.equal(url);
    expect(files.get('.env')).to.equal(`http_proxy=${url}\nhttps_proxy=${url}\nno_proxy=localhost,127.0.0.1,::1\n`);
    expect(files.get('context.token')).to.equal(token);
    for (const f of ['ca.crt', 'ca.cert', 'context.proxy.caCert']) expect(files.get(f)).to.equal('PEM');
    expect(files.get('connector.status.proxyAddress')).to.equal('http://c-git-connector.demo.svc.cluster.local');
  });

  it('renders the gitconfig in the documented form', () => {
    const files = base(one, { includes: ['gitconfig'] });
    const b64 = Buffer.from(`:${token}`).toString('base64');
    expect(files.get('.gitconfig')).to.equal(
      `[http]\n    extraHeader = Authorization: Basic ${b64}\n[url "http://c-git-connector.demo.svc.cluster.local"]\n    insteadOf = https://github.com\n`,
    );
  });

  it("applies declared defaults, the volume's params, and exposes .connector and .connectorclass", () => {
    const files = base(one, { includes: ['npmrc'], params: { npmrc: { registry: 'npm-proxy' } } });
    expect(files.get('.npmrc')).to.equal(
      'registry=npm-proxy\nstrict-ssl=true\nname=git-connector gen=3 class=git http://connectors-proxy-service.connectors-system.svc.cluster.local\n',
    );
  });

  it('rejects a missing required param with InvalidArgument', () => {
    const e = code(() => base(one, { includes: ['npmrc'] }));
    expect(e.code).to.equal(status.INVALID_ARGUMENT);
    expect(e.message).to.contain('requires parameter "registry"');
  });

  it('excludes files after merging, built-in and rendered', () => {
    expect(base(one, { excludes: ['context.token'] }).has('context.token')).to.equal(false);
    const files = base(one, { includes: ['config1'], excludes: ['config1.conf'] });
    expect(files.has('config1.conf')).to.equal(false);
    expect(files.get('config1.extra')).to.equal('two');
  });

  it("lets a later configuration overwrite an earlier one's file", () => {
    expect(base(one, { includes: ['gitconfig', 'override'] }).get('.gitconfig')).to.equal('overridden');
    expect(base(one, { includes: ['override', 'gitconfig'] }).get('.gitconfig')).to.contain('[http]');
  });

  it('fails when none of the configurations is found, even with exclusions', () => {
    const e = code(() => base(one, { includes: ['nonexistent', 'other'], excludes: ['context.token'] }));
    expect(e.code).to.equal(status.NOT_FOUND);
    expect(e.message).to.equal('configuration "nonexistent", "other" not found in connectorclass "git"');
  });

  it('renders the configurations found and skips unknown ones; exclusions still apply', () => {
    const files = base(one, { includes: ['nonexistent', 'config1'], excludes: ['config1.extra', 'context.token'] });
    expect(files.get('config1.conf')).to.equal('one');
    expect(files.has('config1.extra')).to.equal(false);
    expect(files.has('context.token')).to.equal(false);
    expect(unknownConfigurations(one, ['nonexistent', 'config1', 'gitconfig'])).to.deep.equal(['nonexistent']);
  });

  it('reports template errors as failed to generate configuration with the Go error', () => {
    const cls = gitClass({ configurations: [{ name: 'broken', data: { 'x.conf': '{{ .context.token ' } }] });
    const e = code(() => base([{ connector: one[0].connector, cls }], { includes: ['broken'] }));
    expect(e.code).to.equal(status.INTERNAL);
    expect(e.message).to.match(
      /^failed to generate configuration: configuration "broken" of connectorclass "git": template: x\.conf:1: /,
    );
  });

  it('renders one merged file over .connectors for several connectors, proxy files from the last one', () => {
    const a = connector('ns1', 'a', 'https://github.com', 'http://c-a.ns1.svc.cluster.local');
    const b = connector('ns2', 'b', 'https://gitlab.com', 'http://c-b.ns2.svc.cluster.local');
    const cls = gitClass();
    const files = base(
      [
        { connector: a, cls },
        { connector: b, cls },
      ],
      { includes: ['gitconfig'] },
    );
    expect(files.get('.gitconfig')).to.contain(
      '[url "http://c-a.ns1.svc.cluster.local"]\n    insteadOf = https://github.com\n[url "http://c-b.ns2.svc.cluster.local"]\n    insteadOf = https://gitlab.com\n',
    );
    expect(files.get('connector.status.proxyAddress')).to.equal('http://c-b.ns2.svc.cluster.local');
    expect(files.get('http.proxy')).to.equal(forwardProxyWithAuth(proxy, { namespace: 'ns2', name: 'b' }, token));
  });

  it('exposes .name and .namespace on each .connectors item', () => {
    const cls = gitClass({
      configurations: [
        {
          name: 'names',
          data: { names: '{{ range .connectors }}{{ .namespace }}/{{ .name }}={{ .metadata.name }};{{ end }}' },
        },
      ],
    });
    const files = base(
      [
        { connector: connector('n1', 'a', 'https://x', 'http://p/a'), cls },
        { connector: connector('n2', 'b', 'https://y', 'http://p/b'), cls },
      ],
      { includes: ['names'] },
    );
    expect(files.get('names')).to.equal('n1/a=a;n2/b=b;');
  });

  it('lets the later class win for the same file name from different classes', () => {
    const oci: ConnectorClass = {
      ...gitClass({ configurations: [{ name: 'gitconfig', data: { '.gitconfig': 'from oci' } }] }),
      metadata: { name: 'oci' },
    };
    const files = base(
      [
        { connector: connector('n', 'a', 'https://github.com', 'http://p/a'), cls: gitClass() },
        { connector: connector('n', 'b', 'https://r.example', 'http://p/b', 'oci'), cls: oci },
      ],
      { includes: ['gitconfig'] },
    );
    expect(files.get('.gitconfig')).to.equal('from oci');
  });
});

describe('csi: atomic writer', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'csi-atomic-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('writes 0444 files behind ..data and swaps whole sets', async () => {
    expect(
      await writeFileSet(
        dir,
        new Map([
          ['a', '1'],
          ['.b', '2'],
        ]),
      ),
    ).to.equal(true);
    expect(await readFile(join(dir, 'a'), 'utf8')).to.equal('1');
    expect((await lstat(join(dir, 'a'))).isSymbolicLink()).to.equal(true);
    expect(await readlink(join(dir, 'a'))).to.equal('..data/a');
    const gen1 = await readlink(join(dir, '..data'));
    expect((await stat(join(dir, gen1, '.b'))).mode & 0o777).to.equal(0o444);
    expect(
      await writeFileSet(
        dir,
        new Map([
          ['a', '1'],
          ['.b', '2'],
        ]),
      ),
    ).to.equal(false);
    expect(
      await writeFileSet(
        dir,
        new Map([
          ['a', '3'],
          ['c', '4'],
        ]),
      ),
    ).to.equal(true);
    const gen2 = await readlink(join(dir, '..data'));
    expect(gen2).to.not.equal(gen1);
    expect((await readdir(dir)).sort()).to.deep.equal(['..data', gen2, 'a', 'c'].sort());
    expect(Object.fromEntries((await readFileSet(dir))!)).to.deep.equal({ a: '3', c: '4' });
  });

  it('never shows a reader a mixed set while rewriting', async () => {
    await writeFileSet(
      dir,
      new Map([
        ['x', '0'],
        ['y', '0'],
      ]),
    );
    let stop = false;
    let mixed = 0;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        try {
          const gen = await readlink(join(dir, '..data'));
          const [x, y] = await Promise.all([
            readFile(join(dir, gen, 'x'), 'utf8'),
            readFile(join(dir, gen, 'y'), 'utf8'),
          ]);
          reads++;
          if (x !== y) mixed++;
        } catch {
          // the generation was removed between readlink and read: a reader retries, as with kubelet volumes
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 1; i <= 50; i++)
      await writeFileSet(
        dir,
        new Map([
          ['x', String(i)],
          ['y', String(i)],
        ]),
      );
    stop = true;
    await reader;
    expect(reads).to.be.greaterThan(0);
    expect(mixed).to.equal(0);
  });
});

describe('csi: mounters', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'csi-mnt-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('the directory mounter creates and removes the target, idempotently', async () => {
    const m = new DirMounter();
    const target = join(dir, 'v', 'mount');
    await m.mount(target);
    await m.mount(target);
    await writeFileSet(target, new Map([['f', 'x']]));
    expect(await m.isMounted(target)).to.equal(true);
    await m.unmount(target);
    await m.unmount(target);
    expect(await m.isMounted(target)).to.equal(false);
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'foreign'), 'not ours');
    await m.unmount(target).catch(() => {});
    expect(await readFile(join(target, 'foreign'), 'utf8')).to.equal('not ours');
  });

  it('detects whether a tmpfs can be mounted here and the tmpfs mounter mounts and unmounts', async function () {
    const m = await detectMounter();
    process.stdout.write(`      mounter detected on this machine: ${m.kind}\n`);
    if (m.kind !== 'tmpfs') return; // no CAP_SYS_ADMIN: the directory mounter is what the driver uses here
    const t = new TmpfsMounter();
    const target = join(dir, 'mount');
    await t.mount(target);
    await t.mount(target);
    expect((await mountPoints()).has(target)).to.equal(true);
    await writeFileSet(target, new Map([['f', 'x']]));
    await t.unmount(target);
    await t.unmount(target);
    expect((await mountPoints()).has(target)).to.equal(false);
    expect(
      await stat(target).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
  });
});
