// The k8s class end to end: a Connector holding a ServiceAccount token that may list the namespace's Pods, the
// real controller (probes against the real apiserver, which it trusts through the Connector's caCertSecretRef),
// the real proxy (forward mode; HTTPS to the apiserver intercepted with the proxy CA, the apiserver verified with
// the same caCertSecretRef, the Connector's bearer token injected), `connectors render` of the kubeconfig
// configuration for a workload ServiceAccount that may NOT list Pods, and the pinned kubectl with KUBECONFIG=<rendered kubeconfig> and nothing else.
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { ensureBinary } from '../../core/peers/index.ts';
import { cluster } from '@connectors/test-support';
import { auditLines } from '../proxy/fixture.ts';
import { connectorYaml, podListerYaml, setupClasses, writeIn, type ClassEnv } from './packages-fixture.ts';

describe('classes: k8s — kubectl through the proxy with the rendered kubeconfig', function () {
  this.timeout(300_000);
  let env: ClassEnv;
  let kubectl: string;
  let connectorToken: string;

  before(async () => {
    kubectl = await ensureBinary('kubectl');
    const cp = (await cluster()).controlPlane;
    // The controller's probes and the proxy's upstream TLS trust the apiserver's private CA through the Connector's
    // caCertSecretRef (feature flag enable-custom-ca-certs), as a deployment would configure it.
    env = await setupClasses('class-k8s', { classes: ['k8s'], flags: ['enable-custom-ca-certs'] });
    // The identity the Connector lends: a ServiceAccount that may list Pods in the namespace.
    await env.c.createServiceAccount(env.ns, 'pod-lister');
    await env.apply(podListerYaml(env.ns, cp.caPem));
    connectorToken = await env.c.createToken(env.ns, 'pod-lister', { expirationSeconds: 3600 });
    const connector = connectorYaml({
      name: 'k8s-connector',
      className: 'k8s',
      address: env.c.server,
      authName: 'bearerTokenAuth',
      secretType: 'connectors.cpaas.io/bearer-token',
      data: { token: connectorToken },
      caSecret: 'apiserver-ca',
    });
    await env.apply(connector);
    await env.c.core.createNamespacedPod({
      namespace: env.ns,
      body: {
        metadata: { name: 'listed-pod' },
        spec: { containers: [{ name: 'c', image: 'registry.invalid/none:1' }] },
      },
    });
    // The workload: may use the Connector, may not list Pods itself.
    await env.workload('app', ['k8s-connector']);
  });
  after(async () => {
    await env?.stop();
  });

  it('is Ready with its probes passing against the real apiserver', async () => {
    await env.ready('k8s-connector');
    expect(await env.condition('k8s-connector', 'LivenessReady')).to.include({ status: 'True' });
    expect(await env.condition('k8s-connector', 'AuthReady')).to.include({ status: 'True' });
  });

  it("kubectl get pods works through the proxy with the Connector's token, which the workload's own cannot do", async () => {
    const connector = await env.ready('k8s-connector');
    const r = await env.render({ connectors: ['k8s-connector'], configuration: 'kubeconfig', serviceAccount: 'app' });
    const kubeconfig = parseYaml(await r.file('kubeconfig'));
    const proxyHost = new URL(connector.status!.proxy!.httpAddress!.url!).host;
    expect(kubeconfig.clusters[0].cluster).to.deep.equal({
      server: env.c.server,
      'proxy-url': `http://${env.ns}%2Fk8s-connector:${r.token}@${proxyHost}`,
      'certificate-authority-data': Buffer.from(env.proxy.caPem()!).toString('base64'),
    });
    expect(kubeconfig.users[0].user).to.deep.equal({ token: 'fake-token' });

    const home = await mkdtemp(join(env.work, 'home-'));
    const clientEnv = { PATH: '/usr/bin:/bin', HOME: home, KUBECONFIG: join(r.dir, 'kubeconfig') };
    const { stdout } = await env.run(kubectl, ['get', 'pods', '-n', env.ns, '-o', 'name'], { env: clientEnv });
    expect(stdout.trim()).to.equal('pod/listed-pod');

    // The proxy intercepted the TLS and injected the Connector's credentials for the workload's ServiceAccount.
    const lines = auditLines(env.logs).filter((l) => l.connector === `${env.ns}/k8s-connector`);
    expect(
      lines.some(
        (l) =>
          l.mode === 'connect' &&
          l.path === `${env.c.server}/api/v1/namespaces/${env.ns}/pods` &&
          l.serviceAccount === `${env.ns}/app` &&
          l.status === 200,
      ),
      JSON.stringify(lines),
    ).to.equal(true);

    // The workload's own token (for the apiserver itself) is refused: listing Pods needs the Connector.
    const own = await env.c.createToken(env.ns, 'app');
    const ownConfig = await writeIn(home, 'own-kubeconfig', env.c.tokenKubeconfig(own));
    let refused = '';
    await env
      .run(kubectl, ['get', 'pods', '-n', env.ns, '-o', 'name'], { env: { ...clientEnv, KUBECONFIG: ownConfig } })
      .catch((e: Error) => (refused = e.message));
    expect(refused).to.match(/forbidden/i);
    // A kubeconfig that does not trust the proxy CA is refused by kubectl (the proxy intercepts TLS).
    const noCa = structuredClone(kubeconfig);
    delete noCa.clusters[0].cluster['certificate-authority-data'];
    const noCaPath = await writeIn(home, 'no-ca-kubeconfig', JSON.stringify(noCa));
    let untrusted = '';
    await env
      .run(kubectl, ['get', 'pods', '-n', env.ns], { env: { ...clientEnv, KUBECONFIG: noCaPath } })
      .catch((e: Error) => (untrusted = e.message));
    expect(untrusted).to.match(/certificate|x509/i);

    await env.expectNowhere(connectorToken, [r.dir, home]);
  });
});
