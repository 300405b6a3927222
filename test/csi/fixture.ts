// Shared set-up for the CSI tests against the real apiserver: a pod namespace with a real Pod (TokenRequest
// binds tokens to its uid), a private system namespace (feature flags, proxy CA), a ConnectorClass with test
// configurations, Connectors with their status set as the controller would, and a running driver whose logs
// are captured.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cluster, createConnectorWithProxyAddress, objects, type Cluster } from '@connectors/test-support';
import { KindClient } from '../../core/kube/resources.ts';
import { FEATURE_FLAGS_CONFIGMAP, type Connector, type ConnectorClass } from '../../core/api/index.ts';
import { setLogSink } from '../../core/observability/log.ts';
import { startCsiDriver, TmpfsMounter, type CsiDriver, type CsiDriverOptions } from '../../csi/index.ts';
import { mountPoints } from '../../csi/mounter.ts';
import { csiClient, publishRequest, type CsiClient, type PodIdentity } from './client.ts';

export const GITCONFIG_TEMPLATE = `[http]
    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}
{{- range .connectors }}
[url "{{ .status.proxyAddress }}"]
    insteadOf = {{ .spec.address }}
{{- end }}
`;

export interface CsiEnv {
  c: Cluster;
  ns: string;
  systemNs: string;
  className: string;
  pod: PodIdentity;
  dir: string;
  driver: CsiDriver;
  client: CsiClient;
  logs: string[];
  connectors: KindClient<'Connector'>;
  /** Creates a Connector of the test class with its proxy address in status (as the controller sets it). */
  connector(namespace: string, name: string, address?: string): Promise<Connector>;
  createPod(namespace: string, name?: string): Promise<PodIdentity>;
  setFlag(flag: string, on: boolean): Promise<void>;
  target(name?: string): string;
  publish(
    attributes: Record<string, string>,
    o?: Parameters<typeof publishRequest>[3] & { target?: string; pod?: PodIdentity },
  ): Promise<{ target: string; volumeId: string }>;
  stop(): Promise<void>;
}

export function testClass(name: string, extra: Partial<ConnectorClass['spec']> = {}): ConnectorClass {
  return objects.connectorClass(name, {
    address: { name: 'address', type: 'string' },
    proxy: { ref: { kind: 'Service', name: 'connectors-proxy-service', namespace: 'connectors-system' } },
    configurations: [
      { name: 'gitconfig', data: { '.gitconfig': GITCONFIG_TEMPLATE } },
      {
        name: 'npmrc',
        params: [{ name: 'registry' }, { name: 'strictSSL', default: 'true' }],
        data: { '.npmrc': 'registry={{ .configurations.registry }}\nstrict-ssl={{ .configurations.strictSSL }}\n' },
      },
      { name: 'config1', data: { 'config1.conf': 'one\n', 'config1.extra': 'two\n' } },
      { name: 'broken', data: { 'broken.conf': '{{ .context.token | nosuchfunction }}' } },
    ],
    ...extra,
  });
}

export async function setupCsi(prefix: string, opts: Partial<CsiDriverOptions> = {}): Promise<CsiEnv> {
  const c = await cluster();
  const ns = await c.createNamespace(prefix);
  const systemNs = await c.createNamespace(`${prefix}-sys`);
  const className = `${prefix}-${randomBytes(3).toString('hex')}`;
  const classes = new KindClient(c.kubeConfig, 'ConnectorClass');
  await classes.create(testClass(className));
  const connectors = new KindClient(c.kubeConfig, 'Connector');
  const createPod = async (namespace: string, name = 'app'): Promise<PodIdentity> => {
    const pod = await c.core.createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: { containers: [{ name: 'c', image: 'registry.invalid/none:1' }] } },
    });
    return { name, namespace, uid: pod.metadata!.uid!, serviceAccount: 'default' };
  };
  const pod = await createPod(ns);
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const logs: string[] = [];
  const restoreLogs = setLogSink((line) => logs.push(line));
  const driver = await startCsiDriver(c.kubeConfig, {
    endpoint: `unix://${join(dir, 'csi.sock')}`,
    nodeId: 'test-node',
    systemNamespace: systemNs,
    proxyURL: 'http://127.0.0.1:3128',
    ...opts,
  });
  await driver.synced;
  const client = csiClient(driver.endpoint);
  let n = 0;
  const target = (name = `vol-${++n}`) => join(dir, 'pods', name, 'mount');
  return {
    c,
    ns,
    systemNs,
    className,
    pod,
    dir,
    driver,
    client,
    logs,
    connectors,
    createPod,
    async connector(namespace, name, address = `https://${name}.example.com`) {
      return createConnectorWithProxyAddress(
        c.kubeConfig,
        objects.connector(name, { namespace, className, address }),
        `http://c-${name}.${namespace}.svc.cluster.local`,
      );
    },
    async setFlag(flag, on) {
      await c.kubectl(['apply', '-n', systemNs, '-f', '-'], {
        input: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${FEATURE_FLAGS_CONFIGMAP}}\ndata:\n  ${flag}: "${on}"\n`,
      });
    },
    target,
    async publish(attributes, o = {}) {
      const t = o.target ?? target();
      const req = publishRequest(t, o.pod ?? pod, attributes, o);
      await client.call('Node', 'NodePublishVolume', req);
      return { target: t, volumeId: req.volume_id };
    },
    async stop() {
      client.close();
      await driver.stop();
      restoreLogs();
      await classes.delete(className).catch(() => {});
      await c.deleteNamespace(ns);
      await c.deleteNamespace(systemNs);
      for (const m of await mountPoints())
        if (m.startsWith(dir + '/')) await new TmpfsMounter().unmount(m).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The claims of a JWT (no verification: the apiserver issued it). */
export function jwtClaims(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
