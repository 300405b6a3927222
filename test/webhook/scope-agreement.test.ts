// The webhook and the CSI driver decide every case of the scope table alike, through their real paths: for
// each case, a Pod naming the Connector is created through the API server (the registered webhook rewrites
// its image, or refuses it) and a volume naming the same Connector is published to the running CSI driver
// for a Pod of the same namespace (mounted, or PERMISSION_DENIED). Both must give the table's answer, and a
// refusal the same reason.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import { createConnectorWithProxyAddress, eventually, objects } from '@connectors/test-support';
import { setupCsi, testClass, type CsiEnv } from '../csi/fixture.ts';
import type { RpcError } from '../csi/client.ts';
import { SCOPE_CASES, labelsOf } from '../core/connector/scope-table.ts';
import { KindClient } from '../../core/kube/resources.ts';

const TEST_LABEL = 'connectors.test/scope-agreement';
const FLAG = 'enable-pod-image-pull-via-connector';

describe('scope: the webhook and the CSI driver agree on every case of the scope table', function () {
  this.timeout(180_000);
  const id = randomBytes(3).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), 'scope-agreement-'));
  let env: CsiEnv;
  let wh: RunningWebhook;
  const ociClass = `scope-oci-${id}`;
  const namespaces: string[] = [];
  const publicConnectors: string[] = [];

  before(async () => {
    env = await setupCsi('scope-agree');
    // A registry class (label connectors.cpaas.io/oci) with a proxy: the webhook rewrites images only for such
    // Connectors, and the CSI driver needs the proxy address of a class that has a proxy.
    const cls = testClass(ociClass);
    cls.metadata.labels = { 'connectors.cpaas.io/oci': 'true' };
    await new KindClient(env.c.kubeConfig, 'ConnectorClass').create(cls);
    wh = await startWebhook(env.c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      register: true,
      stateDir,
      systemNamespace: env.systemNs,
      configName: `connectors-webhook-scope-${id}`,
      namespaceRequirements: [{ key: TEST_LABEL, operator: 'In', values: [id] }],
    });
    await env.setFlag(FLAG, true);
    await eventually(`${FLAG} seen by the webhook`, () => wh.flags.enabled(FLAG), 20_000);
  });

  after(async () => {
    await wh?.stop();
    for (const name of publicConnectors) await env?.connectors.delete(name, 'kube-public').catch(() => {});
    for (const ns of namespaces) await env?.c.deleteNamespace(ns);
    await new KindClient(env.c.kubeConfig, 'ConnectorClass').delete(ociClass).catch(() => {});
    await env?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function namespace(name: string | undefined, labels: Record<string, string> = {}): Promise<string> {
    const c = env.c;
    let ns: string;
    if (name) {
      await c.core.createNamespace({ body: { metadata: { name } } });
      if (c.controllerManager) await c.waitForServiceAccount(name);
      ns = name;
    } else ns = await c.createNamespace('scope');
    namespaces.push(ns);
    await c.kubectl([
      'label',
      'namespace',
      ns,
      '--overwrite',
      `${TEST_LABEL}=${id}`,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    ]);
    return ns;
  }

  SCOPE_CASES.forEach((t, i) => {
    it(`${t.name}: both ${t.allowed ? 'allow' : 'refuse'}`, async () => {
      const project = `scope-proj-${id}-${i}`;
      const name = `reg-${id}-${i}`;
      // Namespaces as the case describes them: the Connector's first, then the workload's.
      const connectorNs = t.connector === 'kube-public' ? 'kube-public' : await namespace(undefined);
      const names = { project, connector: connectorNs };
      const connectorLabels = labelsOf(t.connectorLabels, names);
      if (connectorLabels && connectorNs !== 'kube-public')
        await env.c.kubectl([
          'label',
          'namespace',
          connectorNs,
          ...Object.entries(connectorLabels).map(([k, v]) => `${k}=${v}`),
        ]);
      const workloadNs =
        t.workload === 'same'
          ? connectorNs
          : await namespace(t.workload === 'project' ? project : undefined, labelsOf(t.workloadLabels, names));
      if (connectorNs === 'kube-public') publicConnectors.push(name);
      // As the controller would leave it: the proxy address in status.
      await createConnectorWithProxyAddress(
        env.c.kubeConfig,
        objects.connector(name, {
          namespace: connectorNs,
          className: ociClass,
          address: `https://${name}.example.com`,
        }),
        `http://c-${name}.${connectorNs}.svc.cluster.local`,
      );

      // The webhook, through the API server.
      const image = `${name}.example.com/app:v1`;
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'app',
          labels: { 'connectors.cpaas.io/proxy-inject': 'true' },
          annotations: { 'connectors.cpaas.io/connector': `${connectorNs}/${name}` },
        },
        spec: { containers: [{ name: 'c', image }] },
      };
      const admitted = await env.c
        .kubectl(['create', '-n', workloadNs, '-o', 'json', '-f', '-'], {
          input: JSON.stringify(pod),
        })
        .then(
          (out) => ({ allowed: true as const, image: JSON.parse(out).spec.containers[0].image as string }),
          (err: Error) => ({ allowed: false as const, message: err.message }),
        );

      // The CSI driver, for a Pod of the same namespace that names the Connector in a volume only.
      const volumePod = await env.createPod(workloadNs, 'volume-user');
      const published = await env.publish({ connectors: `${connectorNs}/${name}` }, { pod: volumePod }).then(
        () => ({ allowed: true as const }),
        (err: RpcError) => ({ allowed: false as const, code: err.code, details: err.details }),
      );

      expect(admitted.allowed, `webhook: ${JSON.stringify(admitted)}`).to.equal(t.allowed);
      expect(published.allowed, `csi: ${JSON.stringify(published)}`).to.equal(t.allowed);
      if (admitted.allowed) expect(admitted.image).to.equal(`c-${name}.${connectorNs}.svc.cluster.local/app:v1`);
      if (!admitted.allowed && !published.allowed) {
        expect(published.code).to.equal(status.PERMISSION_DENIED);
        const reason = published.details.replace(/^permission denied: /, '');
        expect(reason).to.match(/^a Pod in namespace "[^"]+" may not use Connector/);
        // The same rule said the same thing on both paths.
        expect(admitted.message).to.include(reason);
      }
    });
  });
});
