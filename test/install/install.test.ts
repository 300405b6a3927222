// `helm install` of the chart into a control plane of its own (etcd + kube-apiserver 1.36, no CRDs installed
// beforehand): every object of the release and every CRD exists afterwards; the chart-made webhook certificate
// is valid for the webhook Service and is what both webhook configurations trust; `helm upgrade` keeps it and
// changes the feature flags; `helm uninstall` removes the release's objects.
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { allCrds } from '../../core/api/index.ts';
import { startControlPlane, type ControlPlane } from '../../controlplane/index.ts';
import { CHART_DIR, runHelm } from '../../deploy/generate.ts';
import { kubectlWith } from '@connectors/test-support';
import { objects, type K8sObject } from './render.ts';
import { deployManifests } from '../../webhook/register.ts';

const NS = 'connectors-system';

describe('install: helm install into the embedded control plane', function () {
  this.timeout(300_000);
  let cp: ControlPlane;
  const kubectl = (args: string[], input?: string) => kubectlWith(cp.kubeconfigPath, args, { input });
  const helm = (args: string[]) => runHelm([...args, '--kubeconfig', cp.kubeconfigPath]);

  before(async () => {
    cp = await startControlPlane({ crdFiles: [], controllerManager: false });
  });
  after(async () => {
    await cp?.stop();
  });

  it('creates every object of the release and the CRDs, as the README tells a user', async () => {
    expect(await kubectl(['get', 'crd', '-o', 'name'])).to.equal('');
    await kubectl(['create', 'namespace', NS]);
    await kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged']);
    const out = await helm(['install', 'connectors', CHART_DIR, '--namespace', NS]);
    expect(out).to.match(/STATUS: deployed/);

    const crds = await kubectl([
      'get',
      'crd',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
    ]);
    for (const crd of allCrds()) expect(crds).to.include(`${(crd.metadata as { name: string }).name}=True`);

    const manifest = objects(await helm(['get', 'manifest', 'connectors', '--namespace', NS]));
    expect(manifest.length).to.be.greaterThan(40);
    const listed = (await kubectl(['get', '-f', '-', '-o', 'name'], manifest.map((o) => JSON.stringify(o)).join('\n')))
      .trim()
      .split('\n');
    expect(listed.length).to.equal(manifest.length);
    const kinds = new Set(manifest.map((o) => o.kind));
    for (const kind of [
      'Deployment',
      'DaemonSet',
      'CSIDriver',
      'Service',
      'ConfigMap',
      'Secret',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'MutatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
      'ConnectorClass',
    ])
      expect(kinds.has(kind), kind).to.equal(true);
    const deployments = (await kubectl(['get', 'deploy', '-n', NS, '-o', 'name'])).trim().split('\n').sort();
    expect(deployments).to.deep.equal([
      'deployment.apps/connectors-api',
      'deployment.apps/connectors-controller-manager',
      'deployment.apps/connectors-git-plugin',
      'deployment.apps/connectors-proxy',
      'deployment.apps/connectors-webhook',
    ]);
    const oci = JSON.parse(await kubectl(['get', 'connectorclass', 'oci', '-o', 'json'])) as K8sObject;
    expect((oci.spec as any).proxy.ref).to.deep.include({ name: 'connectors-proxy-service', namespace: NS });
  });

  it('serves the webhook with a chart-made certificate that both configurations trust, kept across upgrades', async () => {
    const secret = JSON.parse(await kubectl(['get', 'secret', 'connectors-webhook-tls', '-n', NS, '-o', 'json']));
    const ca = new X509Certificate(Buffer.from(secret.data['ca.crt'], 'base64'));
    const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
    expect(cert.verify(ca.publicKey), 'signed by the CA').to.equal(true);
    expect(cert.checkHost(`connectors-webhook.${NS}.svc`)).to.equal(`connectors-webhook.${NS}.svc`);
    const bundles = async () => {
      const out: string[] = [];
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        const cfg = JSON.parse(await kubectl(['get', kind, 'connectors-webhook', '-o', 'json']));
        for (const w of cfg.webhooks) {
          expect(w.clientConfig.service).to.deep.include({ name: 'connectors-webhook', namespace: NS });
          out.push(w.clientConfig.caBundle);
        }
      }
      return out;
    };
    const before = await bundles();
    // Every webhook of both configurations (webhook/register.ts).
    const webhookCount = deployManifests(NS)
      .map((c) => ((c as unknown as { webhooks: unknown[] }).webhooks ?? []).length)
      .reduce((a, b) => a + b, 0);
    expect(before.length).to.equal(webhookCount).and.be.greaterThan(0);
    for (const b of before) expect(b).to.equal(secret.data['ca.crt']);

    await helm([
      'upgrade',
      'connectors',
      CHART_DIR,
      '--namespace',
      NS,
      '--set',
      'featureFlags.enable-multi-connector=true',
    ]);
    expect(await bundles()).to.deep.equal(before);
    const again = JSON.parse(await kubectl(['get', 'secret', 'connectors-webhook-tls', '-n', NS, '-o', 'json']));
    expect(again.data).to.deep.equal(secret.data);
    const flags = JSON.parse(await kubectl(['get', 'configmap', 'connectors-config', '-n', NS, '-o', 'json']));
    expect(flags.data['enable-multi-connector']).to.equal('true');
    expect(flags.data['enable-custom-ca-certs']).to.equal('false');
  });

  it('removes the release on helm uninstall (CRDs stay, as Helm keeps them)', async () => {
    await helm(['uninstall', 'connectors', '--namespace', NS, '--wait']);
    expect((await kubectl(['get', 'deploy,ds,svc,configmap,secret', '-n', NS, '-o', 'name'])).trim()).to.not.match(
      /connectors-(proxy|controller|webhook|api|csi|config)/,
    );
    expect(await kubectl(['get', 'clusterrole', '-o', 'name'])).not.to.include('connectors-proxy');
    expect(await kubectl(['get', 'connectorclass', '-o', 'name'])).to.equal('');
    expect(await kubectl(['get', 'crd', '-o', 'name'])).to.include('connectors.connectors.alauda.io');
  });
});
