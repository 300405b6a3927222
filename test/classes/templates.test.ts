// The configurations of the built-in classes github, gitlab, harbor, sonarqube and oci, rendered by the CSI
// driver's code (csi/render.ts):
// - byte for byte as the reference documentation prints them (golden files, test/fixtures/classes/golden,
//   SOURCES.md there says where each comes from);
// - exactly as Go text/template + sprig renders the same templates over the same data (the oracle of the
//   template tests), for one and for two Connectors, host-form and path-form proxy addresses;
// - and what each file means to its client: parsed back and checked.
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import { FIXTURES_DIR } from '../harness/seeds.ts';
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
  /** The value the example masks, derived from the token, and the example's mask. */
  mask?: (token: string) => [value: string, mask: string];
}

const OCI_EXAMPLE: ConnectorInput = {
  namespace: '<namespace>',
  name: '<connector-name>',
  address: 'https://registry.example.com',
  proxy: 'http://c-<connector-name>.<namespace>.svc.cluster.local',
};

const GOLDEN_CASES: GoldenCase[] = [
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
    mask: (token) => [b64(':' + token), 'OmV5Smhixxxxxxxxx=='],
  },
  {
    cls: 'gitlab',
    configuration: 'gitlabconfig',
    file: 'config.yml',
    connector: {
      namespace: 'default',
      name: 'gitlab-demo',
      address: 'https://gitlab.com',
      proxy: 'http://c-gitlab-demo.default.svc.cluster.local',
    },
    token: 'k8s-api-token-xxxxxxxx',
  },
  {
    cls: 'sonarqube',
    configuration: 'sonar-scanner',
    file: 'sonar-project.properties',
    connector: {
      namespace: 'default',
      name: 'sonarqube-connector',
      address: 'https://sonarqube.example.com',
      proxy: 'http://c-sonarqube-connector.default.svc.cluster.local',
    },
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
      mask: (token) => [b64('u:' + token), '<base64-encoded-token>'],
    },
  ]),
];

describe('classes: configuration templates', function () {
  this.timeout(600_000);

  describe('render byte for byte as the reference documentation prints them', () => {
    for (const g of GOLDEN_CASES) {
      it(`${g.cls} ${g.configuration} → ${g.file}`, () => {
        let out = renderClass(g.cls, [g.connector], [g.configuration], { token: g.token }).get(g.file);
        expect(out, `${g.file} rendered`).to.be.a('string');
        if (g.mask) {
          const [value, mask] = g.mask(g.token);
          expect(out).to.include(value);
          out = out!.replaceAll(value, mask);
        }
        expect(out).to.equal(golden(`${g.cls}/${g.configuration}.${g.file}`));
      });
    }
  });

  describe('render as Go text/template + sprig does', () => {
    // The data renderVolume (csi/render.ts) gives a template, for the given Connectors.
    const dataOf = (cls: string, connectors: ConnectorInput[]) => {
      const klass = loadBuiltinClass(cls);
      const views = connectors.map((c) => {
        const k = connectorOf(cls, c);
        return { ...k, status: { ...k.status, proxyAddress: c.proxy } };
      });
      return JSON.stringify({
        connector: views[views.length - 1],
        connectors: views.map((v) => ({ ...v, name: v.metadata.name, namespace: v.metadata.namespace })),
        connectorclass: { ...klass, status: {}, proxyAddress: '' },
        context: {
          token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
          proxy: { caCert: '-----BEGIN CERTIFICATE-----\n' },
        },
        configurations: {},
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
    const SETS: Record<string, ConnectorInput[][]> = {
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
    };
    const cases = Object.entries(SETS).flatMap(([cls, sets]) =>
      sets.flatMap((connectors, i) =>
        (loadBuiltinClass(cls).spec.configurations ?? []).flatMap((cfg) =>
          Object.entries(cfg.data ?? {}).map(([file, template]) => ({
            title: `${cls} ${cfg.name} ${file} (data set ${i + 1}, ${connectors.length} connector${connectors.length > 1 ? 's' : ''})`,
            template,
            data: dataOf(cls, connectors),
          })),
        ),
      ),
    );
    let results: OracleResult[] = [];
    before(async function () {
      this.timeout(900_000);
      results = await runOracle(cases.map((c) => ({ name: 'tpl', template: c.template, data: c.data })));
    });
    it('every template of the five classes, with every data set, renders as Go renders it', async () => {
      const { parse, parseJSON } = await import('../../core/template/index.ts');
      expect(cases.length).to.be.greaterThan(30);
      cases.forEach((c, i) => {
        const go = results[i];
        expect(go.error, `${c.title}: Go failed`).to.equal(undefined);
        expect(parse('tpl', c.template).execute(parseJSON(c.data)), c.title).to.equal(go.output);
      });
    });
  });

  describe('mean what their clients read', () => {
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
      for (const h of Object.values(hosts) as Array<Record<string, any>>) {
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
      for (const [, text] of files) expect(text).to.not.include('ghp_');
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

    it('harbor-cli config.yaml: one context per Connector named <ns>/<name>, the original URL, a dummy password harbor-cli can decrypt with HARBOR_ENCRYPTION_KEY', () => {
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
    });

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
