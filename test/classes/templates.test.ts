// The configurations of the built-in classes, rendered by the CSI driver's code (csi/render.ts):
// - byte for byte as the reference documentation prints them, for every one it prints (golden files copied
//   verbatim, test/fixtures/classes/golden; SOURCES.md there says where each comes from and what the test masks);
// - exactly as Go text/template + sprig renders the same templates over the same data (the oracle of the
//   template tests), for one and for two Connectors, host-form and path-form proxy addresses;
// - and what each file means to its client: parsed back and checked.
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { builtinClasses, loadBuiltinClass } from '../../connectorclasses/index.ts';
import { FIXTURES_DIR } from '@connectors/test-support';
import { runOracle, type OracleResult } from '../oracles/gotemplate/oracle.ts';
import { b64, connectorOf, renderClass, type ConnectorInput } from './render.ts';

const GOLDEN = join(FIXTURES_DIR, '..', 'classes', 'golden');
const golden = (path: string) => readFileSync(join(GOLDEN, path), 'utf8');

interface GoldenCase {
  cls: string;
  configuration: string;
  file: string;
  connector: ConnectorInput;
  token: string;
  /** The volume attribute configuration.params. */
  params?: Record<string, Record<string, string>>;
  /** The class's proxy address (.connectorclass.proxyAddress). */
  classProxy?: string;
  /** Values the example masks or leaves out: [rendered value, what the example prints], after checking the first. */
  masks?: (token: string) => Array<[value: string, mask: string]>;
  /** The example prints only the end of the file (its root element abbreviated): the rendered file ends with it. */
  tail?: boolean;
}

const OCI_EXAMPLE: ConnectorInput = {
  namespace: '<namespace>',
  name: '<connector-name>',
  address: 'https://registry.example.com',
  proxy: 'http://c-<connector-name>.<namespace>.svc.cluster.local',
};
/** The proxy CA renderClass mounts, and the class-level proxy address of the built-in proxy. */
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const CLASS_PROXY = 'http://connectors-proxy-service.connectors-system.svc.cluster.local';
const example = (namespace: string, name: string, address: string): ConnectorInput => ({
  namespace,
  name,
  address,
  proxy: `http://c-${name}.${namespace}.svc.cluster.local`,
});
/** npm's and Yarn's placeholder credentials (so that they always send an Authorization for the proxy to replace). */
const placeholderAuth = (): Array<[string, string]> => [[b64('user:password'), 'fAd326jYkI123456789xxx']];

const GOLDEN_CASES: GoldenCase[] = [
  {
    cls: 'k8s',
    configuration: 'kubeconfig',
    file: 'kubeconfig',
    connector: example('k8s-connector-demo', 'k8s-connector', 'https://192.168.1.100:6443'),
    token: 'eyJhbGcxxxx',
    masks: () => [[b64(CA), 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0xxxxxQo=']],
  },
  {
    cls: 'maven',
    configuration: 'settings',
    file: 'settings.xml',
    connector: example(
      'connectors-maven-demo',
      'maven-connector',
      'https://nexus.example.com/repository/maven-snapshots',
    ),
    token: 'eyJhbGciOiJEnEZaTQ',
  },
  ...(['npmrc', 'yarnrc'] as const).map((configuration): GoldenCase => ({
    cls: 'npm',
    configuration,
    file: configuration === 'npmrc' ? '.npmrc' : '.yarnrc.yml',
    connector: {
      ...example('connectors-npm-demo', 'npm-connector', 'https://nexus.example.com/repository/npm'),
      params: { registryType: 'all', 'strict-ssl': 'false' },
    },
    token: 'fAd326jYkI123456789xxx',
    masks: placeholderAuth,
  })),
  ...(['pipconf', 'pypirc'] as const).map((configuration): GoldenCase => ({
    cls: 'pypi',
    configuration,
    file: configuration === 'pipconf' ? 'pip.conf' : '.pypirc',
    connector: example('connectors-pypi-demo', 'pypi-connector', 'https://nexus.example.com/repository/pypi'),
    token: 'eyJhbGciOiJEnEZaTQ',
  })),
  {
    cls: 'nexus',
    configuration: 'settings',
    file: 'settings.xml',
    connector: example('connectors-nexus-demo', 'nexus-connector', 'https://nexus.example.com'),
    token: 'eyJhbGciOiJEnEZaTQ',
    classProxy: CLASS_PROXY,
  },
  {
    cls: 'jfrog',
    configuration: 'settings',
    file: 'settings.xml',
    connector: example('connectors-jfrog-demo', 'jfrog-connector', 'https://jfrog.example.com'),
    token: 'TOKEN',
    params: { settings: { mirrorRepository: 'libs-release' } },
    classProxy: CLASS_PROXY,
    tail: true,
  },
  {
    cls: 'gitlab',
    configuration: 'gitconfig',
    file: '.gitconfig',
    connector: {
      namespace: 'default',
      name: 'gitlab-demo',
      address: 'https://gitlab.com',
      proxy: 'http://c-gitlab-demo.default.svc',
    },
    token: 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.payload.signature',
    masks: (token) => [[b64(':' + token), 'OmV5Smhixxxxxxxxx==']],
  },
  {
    cls: 'gitlab',
    configuration: 'gitlabconfig',
    file: 'config.yml',
    connector: example('default', 'gitlab-demo', 'https://gitlab.com'),
    token: 'k8s-api-token-xxxxxxxx',
    // The example predates connector_address, which the gitlab-connector-automatic-creation Task reads.
    masks: () => [['connector_address: https://gitlab.com\n', '']],
  },
  {
    cls: 'sonarqube',
    configuration: 'sonar-scanner',
    file: 'sonar-project.properties',
    connector: example('default', 'sonarqube-connector', 'https://sonarqube.example.com'),
    token: '<connector-token>',
  },
  ...['oci', 'harbor'].flatMap((cls): GoldenCase[] => [
    { cls, configuration: 'buildkitd', file: 'buildkitd.toml', connector: OCI_EXAMPLE, token: 'tok' },
    {
      cls,
      configuration: 'registry-config',
      file: 'config.json',
      connector: OCI_EXAMPLE,
      token: 'eyJ.sa.token',
      masks: (token) => [[b64('u:' + token), '<base64-encoded-token>']],
    },
  ]),
];

describe('classes: configuration templates', function () {
  this.timeout(600_000);

  describe('render byte for byte as the reference documentation prints them', () => {
    for (const g of GOLDEN_CASES) {
      const path = `${g.cls}/${g.configuration}.${g.file}`;
      it(`${g.cls} ${g.configuration} → ${g.file} = test/fixtures/classes/golden/${path}`, () => {
        let out = renderClass(g.cls, [g.connector], [g.configuration], {
          token: g.token,
          caCert: CA,
          params: g.params,
          classProxy: g.classProxy,
        }).get(g.file);
        expect(out, `${g.file} rendered`).to.be.a('string');
        for (const [value, mask] of g.masks?.(g.token) ?? []) {
          expect(out).to.include(value);
          out = out!.replaceAll(value, mask);
        }
        if (g.tail) expect(out!.endsWith(golden(path)), out).to.equal(true);
        else expect(out).to.equal(golden(path));
      });
    }
  });

  describe('render as Go text/template + sprig does', () => {
    // The data renderVolume (csi/render.ts) gives a template, for the given Connectors.
    const dataOf = (cls: string, connectors: ConnectorInput[], configurations: Record<string, string> = {}) => {
      const klass = loadBuiltinClass(cls);
      const views = connectors.map((c) => {
        const k = connectorOf(cls, c);
        return { ...k, status: { ...k.status, proxyAddress: c.proxy } };
      });
      return JSON.stringify({
        connector: views[views.length - 1],
        connectors: views.map((v) => ({ ...v, name: v.metadata.name, namespace: v.metadata.namespace })),
        connectorclass: { ...klass, status: {}, proxyAddress: CLASS_PROXY },
        context: {
          token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
          proxy: { caCert: '-----BEGIN CERTIFICATE-----\n' },
        },
        configurations,
      });
    };
    const hostForm = (cls: string, name: string, address: string, ext?: ConnectorInput['addressExtensions']) => ({
      namespace: 'team-a',
      name,
      address,
      proxy: `http://c-${name}.team-a.svc.cluster.local`,
      addressExtensions: ext,
    });
    const pathForm = (cls: string, name: string, address: string): ConnectorInput => ({
      namespace: 'team-b',
      name,
      address,
      proxy: `http://127.0.0.1:38080/namespaces/team-b/connectors/${name}`,
    });
    const withParams = (c: ConnectorInput, params: Record<string, string>): ConnectorInput => ({ ...c, params });
    const SETS: Record<string, ConnectorInput[][]> = {
      git: [
        [hostForm('git', 'g', 'https://github.com')],
        [hostForm('git', 'g1', 'https://git.example.com/'), pathForm('git', 'g2', 'https://git2.example.com')],
      ],
      github: [
        [hostForm('github', 'gh', 'https://github.com', [{ name: 'api', value: 'https://api.github.com' }])],
        [hostForm('github', 'gh', 'https://github.com'), pathForm('github', 'ghe', 'https://0.0.0.0:8443')],
      ],
      gitlab: [
        [hostForm('gitlab', 'gl', 'https://gitlab.com/')],
        [pathForm('gitlab', 'gl2', 'https://gitlab.example.com')],
      ],
      harbor: [
        [hostForm('harbor', 'hb', 'https://harbor.example.com')],
        [pathForm('harbor', 'hb1', 'https://harbor.example.com'), pathForm('harbor', 'hb2', 'https://h2.example.com')],
      ],
      sonarqube: [
        [hostForm('sonarqube', 'sq', 'https://sonar.example.com/')],
        [pathForm('sonarqube', 'sq2', 'http://sonar.example.com:9000')],
        [{ ...pathForm('sonarqube', 'sq3', 'https://s.example.com'), proxy: 'https://proxy.example.com/x' }],
      ],
      oci: [
        [hostForm('oci', 'reg', 'https://registry.example.com')],
        [pathForm('oci', 'reg', 'https://r.example.com')],
      ],
      k8s: [
        [hostForm('k8s', 'k', 'https://192.168.1.100:6443')],
        [
          {
            ...pathForm('k8s', 'k2', 'https://platform.example.com/kubernetes/global'),
            proxy: 'https://p.example.com:8443',
          },
        ],
      ],
      maven: [
        [
          withParams(hostForm('maven', 'm', 'https://nexus.example.com/repository/maven-public'), {
            useAsMirror: 'true',
          }),
        ],
        [
          hostForm('maven', 'deploy', 'https://nexus.example.com/repository/maven-releases'),
          withParams(pathForm('maven', 'mirror', 'https://repo.maven.apache.org/maven2'), { useAsMirror: 'true' }),
        ],
      ],
      npm: [
        [
          withParams(hostForm('npm', 'n', 'https://registry.npmjs.org'), {
            registryType: 'all',
            'strict-ssl': 'false',
          }),
        ],
        [
          withParams(hostForm('npm', 'pub', 'https://nexus.example.com/repository/npm-hosted/'), {
            registryType: 'publish',
          }),
          withParams(pathForm('npm', 'mir', 'http://npm.example.com:4873'), { registryType: 'mirror' }),
        ],
        [hostForm('npm', 'a', 'https://a.example.com/npm'), hostForm('npm', 'b', 'https://b.example.com')],
      ],
      pypi: [
        [hostForm('pypi', 'p', 'https://pypi.org')],
        [pathForm('pypi', 'p2', 'https://nexus.example.com/repository/pypi/')],
      ],
      nexus: [[hostForm('nexus', 'nx', 'https://nexus.example.com')], [pathForm('nexus', 'nx2', 'http://nexus:8081/')]],
      jfrog: [[hostForm('jfrog', 'jf', 'https://jfrog.example.com')], [pathForm('jfrog', 'jf2', 'http://af:8082/')]],
    };
    // configuration.params of the repository managers' configurations (ignored by the other classes).
    const CONFIGURATION_PARAMS = {
      mirrorRepository: 'maven-public',
      registry: 'npm-proxy',
      repository: 'pypi-proxy',
      deployRepository: 'pypi-hosted',
      strictSSL: 'false',
    };
    const cases = Object.entries(SETS).flatMap(([cls, sets]) =>
      sets.flatMap((connectors, i) =>
        (loadBuiltinClass(cls).spec.configurations ?? []).flatMap((cfg) =>
          Object.entries(cfg.data ?? {}).map(([file, template]) => ({
            title: `${cls} ${cfg.name} ${file} (data set ${i + 1}, ${connectors.length} connector${connectors.length > 1 ? 's' : ''})`,
            template,
            data: dataOf(cls, connectors, CONFIGURATION_PARAMS),
          })),
        ),
      ),
    );
    let results: OracleResult[] = [];
    before(async function () {
      this.timeout(900_000);
      results = await runOracle(cases.map((c) => ({ name: 'tpl', template: c.template, data: c.data })));
    });
    it('every template of every built-in class, with every data set, renders as Go renders it', async () => {
      const { parse, parseJSON } = await import('../../core/template/index.ts');
      expect(Object.keys(SETS).sort()).to.deep.equal(
        builtinClasses({ systemNamespace: 'connectors-system' })
          .map((c) => c.metadata.name!)
          .sort(),
      );
      cases.forEach((c, i) => {
        const go = results[i];
        expect(go.error, `${c.title}: Go failed`).to.equal(undefined);
        expect(parse('tpl', c.template).execute(parseJSON(c.data)), c.title).to.equal(go.output);
      });
    });
  });

  describe('mean what their clients read', () => {
    it('every configuration that names a ca.cert mounts the proxy CA there', () => {
      const c = { namespace: 'n', name: 'c', address: 'https://r.example.com', proxy: 'http://c-c.n.svc' };
      const params = {
        settings: {},
        npmrc: { registry: 'r', repository: 'r' },
        yarnrc: { registry: 'r', repository: 'r' },
      };
      let seen = 0;
      for (const cls of builtinClasses({ systemNamespace: 'connectors-system' }))
        for (const cfg of cls.spec.configurations ?? []) {
          if (!cfg.data?.['ca.cert']) continue;
          seen++;
          const files = renderClass(cls.metadata.name!, [c], [cfg.name], { caCert: CA, params });
          expect(files.get('ca.cert'), `${cls.metadata.name} ${cfg.name}`).to.equal(CA);
        }
      // maven settings; npm npmrc, yarnrc; nexus and jfrog settings, npmrc, yarnrc; github githubconfig
      expect(seen).to.be.greaterThanOrEqual(10);
    });

    it('github hosts.yml: one gh host per Connector (the host of spec.address) with the placeholder token; gitconfig as the git class', () => {
      const files = renderClass(
        'github',
        [
          { namespace: 'a', name: 'gh', address: 'https://github.com', proxy: 'http://c-gh.a.svc.cluster.local' },
          {
            namespace: 'a',
            name: 'ghe',
            address: 'https://ghe.example.com:8443/',
            proxy: 'http://c-ghe.a.svc.cluster.local',
          },
        ],
        ['githubconfig', 'gitconfig'],
        { token: 'sa-token' },
      );
      const hosts = parseYaml(files.get('hosts.yml')!);
      expect(Object.keys(hosts)).to.deep.equal(['github.com', 'ghe.example.com:8443']);
      for (const h of Object.values<Record<string, any>>(hosts)) {
        expect(h.oauth_token).to.equal('connectors-proxy-injects-the-token');
        expect(h.users[h.user].oauth_token).to.equal(h.oauth_token);
        expect(h.git_protocol).to.equal('https');
      }
      expect(parseYaml(files.get('config.yml')!)).to.deep.equal({
        version: '1',
        git_protocol: 'https',
        prompt: 'disabled',
      });
      expect(files.get('ca.cert')).to.match(/^-----BEGIN CERTIFICATE-----/);
      expect(files.get('.gitconfig')).to.equal(
        `[http]\n    extraHeader = Authorization: Basic ${b64(':sa-token')}\n` +
          `[url "http://c-gh.a.svc.cluster.local"]\n    insteadOf = https://github.com\n` +
          `[url "http://c-ghe.a.svc.cluster.local"]\n    insteadOf = https://ghe.example.com:8443/\n`,
      );
    });

    it('gitlab config.yml with a path-form proxy address: api_host carries the path, so <api_protocol>://<api_host>/api/v4 is the Connector', () => {
      const proxy = 'http://127.0.0.1:38080/namespaces/team/connectors/gl';
      const config = parseYaml(
        renderClass(
          'gitlab',
          [{ namespace: 'team', name: 'gl', address: 'https://gitlab.example.com', proxy }],
          ['gitlabconfig'],
          { token: 'sa-token' },
        ).get('config.yml')!,
      );
      const host = config.hosts[config.host];
      expect(config.host).to.equal('127.0.0.1:38080');
      expect(`${host.api_protocol}://${host.api_host}/api/v4`).to.equal(`${proxy}/api/v4`);
      expect(host.token).to.equal('sa-token');
      expect(config.connector_address).to.equal('https://gitlab.example.com');
    });

    it(
      'harbor-cli config.yaml: one context per Connector named <ns>/<name>, the original URL, a dummy ' +
        'password harbor-cli can decrypt with HARBOR_ENCRYPTION_KEY',
      () => {
        const files = renderClass(
          'harbor',
          [
            {
              namespace: 'ns1',
              name: 'h1',
              address: 'https://harbor.example.com',
              proxy: 'http://p/namespaces/ns1/connectors/h1',
            },
            {
              namespace: 'ns2',
              name: 'h2',
              address: 'https://h2.example.com',
              proxy: 'http://p/namespaces/ns2/connectors/h2',
            },
          ],
          ['harbor-cli-config'],
        );
        const config = parseYaml(files.get('config.yaml')!);
        expect(config['current-credential-name']).to.equal('ns2/h2');
        expect(
          config.credentials.map((c: Record<string, string>) => [c.name, c.serveraddress, c.username]),
        ).to.deep.equal([
          ['ns1/h1', 'https://harbor.example.com', 'connector-proxy'],
          ['ns2/h2', 'https://h2.example.com', 'connector-proxy'],
        ]);
        // harbor-cli's Decrypt: AES-GCM, key = base64 of 32 bytes, data = base64(nonce(12) || ciphertext || tag(16)).
        const key = Buffer.from(files.get('HARBOR_ENCRYPTION_KEY')!, 'base64');
        expect(key.length).to.equal(32);
        for (const c of config.credentials) {
          const data = Buffer.from(c.password, 'base64');
          const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
          decipher.setAuthTag(data.subarray(data.length - 16));
          const password = Buffer.concat([
            decipher.update(data.subarray(12, data.length - 16)),
            decipher.final(),
          ]).toString();
          // harbor-cli's ValidatePassword: 8-256 characters, a lower-case and an upper-case letter, a digit.
          expect(password).to.match(/^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,256}$/);
        }
      },
    );

    it('the legacy names docker-config (oci) and config (harbor) render what registry-config renders', () => {
      const c = {
        namespace: 'n',
        name: 'r',
        address: 'https://r.example.com',
        proxy: 'http://h:1/namespaces/n/connectors/r',
      };
      for (const [cls, legacy] of [
        ['oci', 'docker-config'],
        ['harbor', 'config'],
      ]) {
        const now = renderClass(cls, [c], ['registry-config'], { token: 't' }).get('config.json');
        expect(renderClass(cls, [c], [legacy], { token: 't' }).get('config.json'), `${cls} ${legacy}`).to.equal(now);
        expect(JSON.parse(now!)).to.deep.equal({ auths: { 'h:1': { auth: b64('u:t') } } });
      }
    });

    it('sonar-project.properties: the proxy port of the address, else 80/443 by scheme; the user is <ns>%2F<name>', () => {
      const props = (proxy: string) =>
        Object.fromEntries(
          renderClass(
            'sonarqube',
            [{ namespace: 'ns', name: 'sq', address: 'https://sonar.example.com/', proxy }],
            ['sonar-scanner'],
            { token: 'sa' },
          )
            .get('sonar-project.properties')!
            .split('\n')
            .filter((l) => l && !l.startsWith('#'))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
      expect(props('http://127.0.0.1:38080/namespaces/ns/connectors/sq')).to.deep.equal({
        'sonar.host.url': 'https://sonar.example.com',
        'sonar.scanner.proxyHost': '127.0.0.1',
        'sonar.scanner.proxyPort': '38080',
        'sonar.scanner.proxyUser': 'ns%2Fsq',
        'sonar.scanner.proxyPassword': 'sa',
      });
      expect(props('https://c-sq.ns.svc.cluster.local')['sonar.scanner.proxyPort']).to.equal('443');
      expect(props('http://c-sq.ns.svc.cluster.local')['sonar.scanner.proxyPort']).to.equal('80');
    });
  });
});
