// The built-in classes' configuration templates render byte for byte as the reference documentation prints them
// (test/fixtures/classes/packages/README.md says where each golden file comes from), through the CSI driver's own renderer
// with the page's inputs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import { renderVolume } from '../../csi/render.ts';
import type { Connector } from '../../core/api/index.ts';
import { FIXTURES_DIR } from '../harness/seeds.ts';

const GOLDEN = join(FIXTURES_DIR, '..', 'classes', 'packages');
const CA = '-----BEGIN CERTIFICATE-----\nreference placeholder\n-----END CERTIFICATE-----\n';
const CLASS_PROXY = 'http://connectors-proxy-service.connectors-system.svc.cluster.local';

interface Case {
  golden: string;
  cls: string;
  configuration: string;
  file: string;
  ns: string;
  name: string;
  address: string;
  params?: Record<string, string>;
  configurationParams?: Record<string, string>;
  token: string;
  /** The golden file is the end of the rendered one. */
  tail?: boolean;
}

const host = (ns: string, name: string) => `http://c-${name}.${ns}.svc.cluster.local`;

const CASES: Case[] = [
  {
    golden: 'k8s-kubeconfig',
    cls: 'k8s',
    configuration: 'kubeconfig',
    file: 'kubeconfig',
    ns: 'k8s-connector-demo',
    name: 'k8s-connector',
    address: 'https://192.168.1.100:6443',
    token: 'eyJhbGcxxxx',
  },
  {
    golden: 'maven-settings.xml',
    cls: 'maven',
    configuration: 'settings',
    file: 'settings.xml',
    ns: 'connectors-maven-demo',
    name: 'maven-connector',
    address: 'https://nexus.example.com/repository/maven-snapshots',
    token: 'eyJhbGciOiJEnEZaTQ',
  },
  {
    golden: 'nexus-settings.xml',
    cls: 'nexus',
    configuration: 'settings',
    file: 'settings.xml',
    ns: 'connectors-nexus-demo',
    name: 'nexus-connector',
    address: 'https://nexus.example.com',
    token: 'eyJhbGciOiJEnEZaTQ',
  },
  ...(['npmrc', 'yarnrc'] as const).map((configuration): Case => ({
    golden: configuration === 'npmrc' ? 'npm-npmrc' : 'npm-yarnrc.yml',
    cls: 'npm',
    configuration,
    file: configuration === 'npmrc' ? '.npmrc' : '.yarnrc.yml',
    ns: 'connectors-npm-demo',
    name: 'npm-connector',
    address: 'https://nexus.example.com/repository/npm',
    params: { registryType: 'all', 'strict-ssl': 'false' },
    token: 'fAd326jYkI123456789xxx',
  })),
  ...(['pipconf', 'pypirc'] as const).map((configuration): Case => ({
    golden: configuration === 'pipconf' ? 'pypi-pip.conf' : 'pypi-pypirc',
    cls: 'pypi',
    configuration,
    file: configuration === 'pipconf' ? 'pip.conf' : '.pypirc',
    ns: 'connectors-pypi-demo',
    name: 'pypi-connector',
    address: 'https://nexus.example.com/repository/pypi',
    token: 'eyJhbGciOiJEnEZaTQ',
  })),
  {
    golden: 'jfrog-settings-body.xml',
    cls: 'jfrog',
    configuration: 'settings',
    file: 'settings.xml',
    ns: 'connectors-jfrog-demo',
    name: 'jfrog-connector',
    address: 'https://jfrog.example.com',
    configurationParams: { mirrorRepository: 'libs-release' },
    token: 'TOKEN',
    tail: true,
  },
];

function render(c: Case): string {
  const cls = loadBuiltinClass(c.cls);
  cls.status = { proxy: { httpAddress: { url: CLASS_PROXY } } } as unknown as typeof cls.status;
  const connector: Connector = {
    apiVersion: 'connectors.alauda.io/v1alpha1',
    kind: 'Connector',
    metadata: { name: c.name, namespace: c.ns },
    spec: {
      connectorClassName: c.cls,
      address: c.address,
      params: Object.entries(c.params ?? {}).map(([name, value]) => ({ name, value })),
    },
    status: { proxy: { httpAddress: { url: host(c.ns, c.name) } } },
  } as Connector;
  const files = renderVolume({
    connectors: [{ connector, cls }],
    includes: [c.configuration],
    excludes: [],
    params: c.configurationParams ? { [c.configuration]: c.configurationParams } : {},
    token: c.token,
    caCert: CA,
    forwardProxyURL: CLASS_PROXY,
  });
  return files.get(c.file)!;
}

describe('classes: configuration templates render as the reference documentation prints them', () => {
  for (const c of CASES) {
    it(`${c.cls} ${c.configuration} → ${c.file} = test/fixtures/classes/packages/${c.golden}`, () => {
      const golden = readFileSync(join(GOLDEN, c.golden), 'utf8');
      const out = render(c);
      if (c.tail) expect(out.endsWith(golden), out).to.equal(true);
      else expect(out).to.equal(golden);
    });
  }

  it('every configuration with a CA writes ca.cert as the proxy CA', () => {
    for (const [cls, configs] of Object.entries({
      maven: ['settings'],
      npm: ['npmrc', 'yarnrc'],
      nexus: ['settings', 'npmrc', 'yarnrc'],
      jfrog: ['settings', 'npmrc', 'yarnrc'],
    }))
      for (const configuration of configs) {
        const data = loadBuiltinClass(cls).spec.configurations!.find((x) => x.name === configuration)!.data!;
        expect(data['ca.cert'], `${cls} ${configuration}`).to.equal('{{ .context.proxy.caCert }}');
      }
  });
});
