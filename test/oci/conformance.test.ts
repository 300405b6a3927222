// The OCI distribution-spec conformance suite (v1.1.1: pull, push, content discovery, content management)
// through the proxy in front of a real distribution 2.8 registry, as a client holding only a ServiceAccount
// token (OCI_USERNAME=u, OCI_PASSWORD=<token>), for a token-auth and an htpasswd registry. The same suite runs
// directly against each registry with its own credentials: the proxy must pass every spec the registry
// passes (distribution 2.8 predates the referrers API and other v1.1 features, so a few specs fail directly;
// they are listed in the test output and docs/proxy.md).
import { expect } from 'chai';
import type { Registry } from '../peers/registry.ts';
import { conformanceBinary, runConformance, type ConformanceRun } from './conformance.ts';
import { ociSetup, ROBOT, type OciEnv } from './fixture.ts';

function summary(run: ConformanceRun): string {
  const count = (s: string) => run.specs.filter((x) => x.status === s).length;
  return `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`;
}

describe('proxy: OCI distribution-spec conformance (v1.1.1) through the proxy', function () {
  this.timeout(900_000);
  let o: OciEnv;
  let token: string;

  before(async () => {
    await conformanceBinary();
    o = await ociSetup('oci-conf');
    await o.env.serviceAccount('conformance');
    token = await o.env.token('conformance');
  });
  after(async () => {
    await o?.stop();
  });

  for (const auth of ['token', 'htpasswd'] as const) {
    it(`passes every spec through the proxy that a ${auth}-auth registry passes directly`, async () => {
      const name = `conf-${auth}`;
      const registry: Registry = await o.addRegistry(name, { auth });
      const direct = await runConformance({
        rootUrl: registry.url, namespace: 'conformance/repo', crossmountNamespace: 'conformance/other', username: ROBOT, password: o.robotPassword,
      });
      registry.clearRequests();
      const prefix = `namespaces/${o.env.ns}/connectors/${name}`;
      const proxied = await runConformance({
        rootUrl: o.env.proxy.url, namespace: `${prefix}/conformance/proxied`, crossmountNamespace: `${prefix}/conformance/proxied-other`, username: 'u', password: token,
      });
      const failedDirect = direct.specs.filter((s) => s.status === 'failed').map((s) => s.name);
      const failedProxied = proxied.specs.filter((s) => s.status === 'failed');
      console.log(`      conformance ${auth}: direct ${summary(direct)}; through the proxy ${summary(proxied)}`);
      for (const f of failedDirect) console.log(`        fails directly too (distribution 2.8): ${f}`);
      expect(proxied.specs.length, proxied.output.slice(-3000)).to.be.greaterThan(50);
      expect(proxied.specs.filter((s) => s.status === 'passed').length).to.be.greaterThan(0);
      const regressions = failedProxied.filter((s) => !failedDirect.includes(s.name));
      expect(regressions.map((s) => `${s.name}: ${s.failure}`), 'specs that pass directly but fail through the proxy').to.deep.equal([]);
      // The registry never saw the ServiceAccount token.
      for (const r of registry.requests) for (const v of Object.values(r.headers)) expect(String(v)).to.not.include(token);
    });
  }
});
