// Pure parts of the controller and of the runtime pieces in core/kube: conditions, addresses, probe URLs and
// Go-like error messages, CEL, the policy ConfigMap codec, the work queue, durations and the git class.
import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { aggregateReady, mergeConditions, T, F, U } from '../../controller/conditions.ts';
import { resolveEndpoint, connectorProxyURL, externalNameTarget, AddressError } from '../../controller/addresses.ts';
import { httpProbeURL, apiProbeURL, goErrorMessage } from '../../controller/probe.ts';
import { evalResponseCel, CelError } from '../../controller/cel.ts';
import { jitter } from '../../controller/context.ts';
import { WorkQueue, ExponentialBackoff } from '../../core/kube/workqueue.ts';
import { canAcquire } from '../../core/kube/leaderelection.ts';
import {
  policyConfigMapName,
  encodePolicyConfigMap,
  decodePolicyConfigMap,
  policySourceHash,
  PolicyConfigMapError,
} from '../../core/opa/store.ts';
import { builtinClasses, loadBuiltinClass } from '../../connectorclasses/index.ts';
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import { createHash } from 'node:crypto';

const conn = (name: string, ns: string): Connector => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name, namespace: ns },
  spec: { connectorClassName: 'git', address: 'https://github.com' },
});
const klass = (spec: ConnectorClass['spec'], annotations?: Record<string, string>): ConnectorClass => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'ConnectorClass',
  metadata: { name: 'x', annotations },
  spec,
});

describe('controller units', () => {
  describe('Ready aggregate', () => {
    const cases: Array<[string, ReturnType<typeof T>[], string, string]> = [
      ['all True', [T('A'), T('B')], 'True', ''],
      [
        'any False wins over Unknown',
        [U('A', 'Checking'), F('B', 'Broken', 'b'), F('C', 'Other', 'c')],
        'False',
        'Broken',
      ],
      ['Unknown without False', [T('A'), U('B', 'Checking')], 'Unknown', 'Checking'],
      [
        'Info severity is ignored',
        [T('A'), { ...F('CACertReady', 'SecretNotFound', 'x'), severity: 'Info' }],
        'True',
        '',
      ],
    ];
    for (const [name, subs, status, reason] of cases) {
      it(name, () => {
        const r = aggregateReady(subs);
        expect(r.status).to.equal(status);
        expect(r.reason).to.equal(reason);
      });
    }
  });

  it('mergeConditions keeps lastTransitionTime and lastProbeTime unless changed or stale', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const first = mergeConditions(undefined, [{ ...T('LivenessReady'), probed: true }], {
      now: t0,
      generation: 1,
      probeTimeRefreshMs: 60_000,
    });
    expect(first[0]).to.include({
      lastTransitionTime: '2026-01-01T00:00:00Z',
      lastProbeTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    });
    const t1 = new Date('2026-01-01T00:00:30Z');
    const same = mergeConditions(first, [{ ...T('LivenessReady'), probed: true }], {
      now: t1,
      generation: 1,
      probeTimeRefreshMs: 60_000,
    });
    expect(same).to.deep.equal(first);
    const t2 = new Date('2026-01-01T00:01:30Z');
    const refreshed = mergeConditions(first, [{ ...T('LivenessReady'), probed: true }], {
      now: t2,
      generation: 1,
      probeTimeRefreshMs: 60_000,
    });
    expect(refreshed[0]).to.include({
      lastTransitionTime: '2026-01-01T00:00:00Z',
      lastProbeTime: '2026-01-01T00:01:30Z',
    });
    const flipped = mergeConditions(first, [{ ...F('LivenessReady', 'ConnectionFailed', 'x'), probed: true }], {
      now: t1,
      generation: 2,
      probeTimeRefreshMs: 60_000,
    });
    expect(flipped[0]).to.include({
      lastTransitionTime: '2026-01-01T00:00:30Z',
      lastProbeTime: '2026-01-01T00:00:30Z',
      observedGeneration: 2,
    });
  });

  describe('class endpoints (proxy and API: ref, uri, ref + uri)', () => {
    const cases: Array<[string, Parameters<typeof resolveEndpoint>[0], 'proxy' | 'api', string]> = [
      ['api ref', { ref: { kind: 'Service', name: 'git', namespace: 'default' } }, 'api', 'https://git.default.svc'],
      [
        'api ref + relative uri',
        { ref: { kind: 'Service', name: 'git', namespace: 'default' }, uri: '/api' },
        'api',
        'https://git.default.svc/api',
      ],
      ['api absolute uri', { uri: 'https://git.default.svc/api' }, 'api', 'https://git.default.svc/api'],
      [
        'proxy ref, namespace defaulted',
        { ref: { kind: 'Service', name: 'connectors-proxy-service' } },
        'proxy',
        'http://connectors-proxy-service.sys.svc.cluster.local',
      ],
      [
        'proxy ref.address (local mode)',
        { ref: { kind: 'Service', name: 'connectors-proxy-service', address: 'http://127.0.0.1:8080' } },
        'proxy',
        'http://127.0.0.1:8080',
      ],
      ['proxy absolute uri', { uri: 'https://proxy.example.com' }, 'proxy', 'https://proxy.example.com'],
    ];
    for (const [name, ep, kind, want] of cases) it(name, () => expect(resolveEndpoint(ep, kind, 'sys')).to.equal(want));
    it('a relative uri without ref is an error', () =>
      expect(() => resolveEndpoint({ uri: '/api' }, 'api', 'sys')).to.throw(AddressError, 'relative'));
  });

  describe('Connector proxy address (host and path resolvers, local mode)', () => {
    const proxy = { ref: { kind: 'Service', name: 'connectors-proxy-service', namespace: 'connectors-system' } };
    const base = 'http://connectors-proxy-service.connectors-system.svc.cluster.local';
    it('host resolver (default)', () => {
      const cls = klass({ proxy });
      expect(connectorProxyURL(cls, base, conn('github', 'default'))).to.equal(
        'http://c-github.default.svc.cluster.local',
      );
      expect(externalNameTarget(cls, base)).to.equal('connectors-proxy-service.connectors-system.svc.cluster.local');
    });
    it('path resolver', () => {
      const cls = klass({ proxy }, { 'connectors.cpaas.io/proxy-resolver': 'path' });
      expect(connectorProxyURL(cls, base, conn('github', 'default'))).to.equal(
        `${base}/namespaces/default/connectors/github`,
      );
      expect(externalNameTarget(cls, base)).to.equal(undefined);
    });
    it('local mode always uses the path form on ref.address', () => {
      const cls = klass({ proxy: { ref: { ...proxy.ref, address: 'http://127.0.0.1:18080' } } });
      expect(connectorProxyURL(cls, 'http://127.0.0.1:18080', conn('github', 'default'))).to.equal(
        'http://127.0.0.1:18080/namespaces/default/connectors/github',
      );
      expect(externalNameTarget(cls, 'http://127.0.0.1:18080')).to.equal(undefined);
    });
    it('host resolver keeps a non-default port of the class proxy', () => {
      expect(connectorProxyURL(klass({ proxy }), 'http://p.ns.svc.cluster.local:8080', conn('a', 'b'))).to.equal(
        'http://c-a.b.svc.cluster.local:8080',
      );
    });
  });

  describe('probe URLs (scheme and host only; probe host and scheme; API path)', () => {
    const cases: Array<[string, string, { path: string; host?: string; scheme?: string }, string]> = [
      ['path prefix dropped', 'https://h.example.com/gitlab', { path: '/' }, 'https://h.example.com/'],
      ['connector scheme and port', 'http://127.0.0.1:8080/x', { path: '/a?b=c' }, 'http://127.0.0.1:8080/a?b=c'],
      [
        'other host defaults to http',
        'https://h.example.com',
        { path: '/', host: 'other.example.com' },
        'http://other.example.com/',
      ],
      [
        'same host keeps the connector scheme',
        'https://h.example.com',
        { path: '/', host: 'h.example.com' },
        'https://h.example.com/',
      ],
      [
        'explicit scheme wins',
        'https://h.example.com',
        { path: '/', host: 'other', scheme: 'https' },
        'https://other/',
      ],
    ];
    for (const [name, address, probe, want] of cases)
      it(name, () => expect(httpProbeURL(address, probe)).to.equal(want));
    it('api probes keep the class API prefix', () =>
      expect(apiProbeURL('https://example-api.default.svc/api', '/auth/check')).to.equal(
        'https://example-api.default.svc/api/auth/check',
      ));
  });

  describe('Go-like transport errors', () => {
    const cases: Array<[string, string, unknown, string]> = [
      [
        'no such host',
        'https://github.invalid.com/',
        { code: 'ENOTFOUND' },
        'Get "https://github.invalid.com": dial tcp: lookup github.invalid.com: no such host',
      ],
      [
        'refused',
        'http://127.0.0.1:1/x',
        { cause: { code: 'ECONNREFUSED' } },
        'Get "http://127.0.0.1:1/x": dial tcp 127.0.0.1:1: connect: connection refused',
      ],
      [
        'timeout',
        'https://a.b/',
        { name: 'TimeoutError' },
        'Get "https://a.b": context deadline exceeded (Client.Timeout exceeded while awaiting headers after 10s)',
      ],
    ];
    for (const [name, url, err, want] of cases)
      it(name, () => expect(goErrorMessage('GET', url, err, 10_000)).to.equal(want));
  });

  describe('response.cel (CEL via @marcbachmann/cel-js)', () => {
    const res = (statusCode: number, body: unknown) => ({
      statusCode,
      headers: { 'Content-Type': ['application/json'] },
      bodyString: JSON.stringify(body),
      body,
      url: 'http://x/',
    });
    const expr = "response.statusCode == 200 && response.body.status == 'ok'";
    it('the documented expression', () => {
      expect(evalResponseCel(expr, res(200, { status: 'ok' }))).to.equal(true);
      expect(evalResponseCel(expr, res(200, { status: 'bad' }))).to.equal(false);
      expect(evalResponseCel(expr, res(500, { status: 'ok' }))).to.equal(false);
    });
    it('headers and bodyString', () => {
      expect(
        evalResponseCel(
          "response.headers['Content-Type'][0] == 'application/json' && response.bodyString.contains('ok')",
          res(200, { status: 'ok' }),
        ),
      ).to.equal(true);
    });
    it('not a bool, not compiling, failing at evaluation: CelError with a clear message', () => {
      expect(() => evalResponseCel('response.statusCode', res(200, {}))).to.throw(
        CelError,
        'must evaluate to a bool, got int',
      );
      expect(() => evalResponseCel("'x'", res(200, {}))).to.throw(CelError, 'got string');
      expect(() => evalResponseCel('response.statusCode ==', res(200, {}))).to.throw(CelError, /^does not compile: /);
      expect(() => evalResponseCel('response.body.missing == 1', res(200, {}))).to.throw(
        CelError,
        /^failed to evaluate: /,
      );
    });
  });

  describe('policy ConfigMaps (core/opa/store.ts)', () => {
    const source = 'package proxy\nauth = {"position": "header", "auth": {}}\n';
    const wasm = Buffer.from('0061736d0100000001', 'hex');
    const sha = createHash('sha256').update(wasm).digest('hex');
    it('is named by sha256(entrypoint + "\\n" + source), first 20 hex', () => {
      const full = createHash('sha256')
        .update('proxy/auth\n' + source)
        .digest('hex');
      expect(policySourceHash(source, 'proxy/auth')).to.equal(full);
      expect(policyConfigMapName(source, 'proxy/auth')).to.equal(`connectors-policy-${full.slice(0, 20)}`);
      expect(policyConfigMapName(source, 'permissions/result')).to.not.equal(policyConfigMapName(source, 'proxy/auth'));
    });
    it('round-trips, with labels, annotations and owners', () => {
      const cm = encodePolicyConfigMap({
        source,
        namespace: 'sys',
        compiled: { wasm, sha256: sha, entrypoint: 'proxy/auth', regoVersion: 'v0' },
        owners: [{ apiVersion: 'connectors.alauda.io/v1alpha1', kind: 'ConnectorClass', name: 'git', uid: 'u1' }],
      });
      expect(cm.metadata.labels).to.deep.equal({
        'app.kubernetes.io/part-of': 'connectors',
        'connectors.cpaas.io/policy': 'true',
      });
      expect(cm.metadata.annotations['connectors.cpaas.io/policy-entrypoint']).to.equal('proxy/auth');
      expect(cm.metadata.annotations['connectors.cpaas.io/policy-sha256']).to.equal(
        policySourceHash(source, 'proxy/auth'),
      );
      expect(cm.metadata.ownerReferences![0]).to.include({ kind: 'ConnectorClass', uid: 'u1' });
      const back = decodePolicyConfigMap(cm);
      expect(back.wasm.equals(wasm)).to.equal(true);
      expect(back).to.include({ entrypoint: 'proxy/auth', sha256: sha, regoVersion: 'v0' });
    });
    it('rejects a damaged module', () => {
      const cm = encodePolicyConfigMap({
        source,
        namespace: 'sys',
        compiled: { wasm, sha256: sha, entrypoint: 'proxy/auth' },
      });
      cm.binaryData['policy.wasm.gz'] = gzipSync(Buffer.from('other')).toString('base64');
      expect(() => decodePolicyConfigMap(cm)).to.throw(PolicyConfigMapError, 'does not match');
    });
  });

  describe('work queue', () => {
    it('deduplicates, never hands a key to two workers, and re-queues a key added while processing', async () => {
      const q = new WorkQueue();
      q.add('a');
      q.add('a');
      q.add('b');
      expect(q.len()).to.equal(2);
      const k = await q.get();
      expect(k).to.equal('a');
      q.add('a'); // dirty while processing: not queued twice, not handed out
      expect(q.len()).to.equal(1);
      expect(await q.get()).to.equal('b');
      q.done('b');
      expect(q.len()).to.equal(0);
      q.done('a');
      expect(q.len()).to.equal(1);
      expect(await q.get()).to.equal('a');
      q.shutDown();
      expect(await q.get()).to.equal(undefined);
    });
    it('addAfter keeps the earliest due time', async () => {
      const q = new WorkQueue();
      q.addAfter('x', 30);
      q.addAfter('x', 10_000);
      const t0 = Date.now();
      expect(await q.get()).to.equal('x');
      expect(Date.now() - t0).to.be.below(1000);
      q.shutDown();
    });
    it('addAfter of more than setTimeout can hold (2^31-1 ms) waits instead of firing at once', async () => {
      const q = new WorkQueue();
      q.addAfter('x', 30 * 24 * 3_600_000);
      await sleep(100);
      expect([q.len(), q.waitingLen()]).to.deep.equal([0, 1]);
      q.shutDown();
    });
    it('backs off exponentially per key, up to the cap, and forget resets', () => {
      const b = new ExponentialBackoff({ baseDelayMs: 5, maxDelayMs: 100 });
      expect([b.when('k'), b.when('k'), b.when('k'), b.when('k'), b.when('k'), b.when('k')]).to.deep.equal([
        5, 10, 20, 40, 80, 100,
      ]);
      expect(b.when('other')).to.equal(5);
      b.forget('k');
      expect(b.when('k')).to.equal(5);
    });
  });

  it('lease: free, own, expired and held leases', () => {
    const now = Date.parse('2026-01-01T00:00:30Z');
    expect(canAcquire(undefined, 'me', now, 15_000)).to.equal(true);
    expect(
      canAcquire(
        { holderIdentity: 'me', renewTime: '2026-01-01T00:00:29.000000Z', leaseDurationSeconds: 15 },
        'me',
        now,
        15_000,
      ),
    ).to.equal(true);
    expect(
      canAcquire(
        { holderIdentity: 'you', renewTime: '2026-01-01T00:00:29.000000Z', leaseDurationSeconds: 15 },
        'me',
        now,
        15_000,
      ),
    ).to.equal(false);
    expect(
      canAcquire(
        { holderIdentity: 'you', renewTime: '2026-01-01T00:00:10.000000Z', leaseDurationSeconds: 15 },
        'me',
        now,
        15_000,
      ),
    ).to.equal(true);
  });

  it('jitter', () => {
    expect(jitter(300_000, () => 0)).to.equal(270_000);
    expect(jitter(300_000, () => 1)).to.equal(330_000);
  });

  describe('built-in git class', () => {
    it('is the seed example plus the built-in proxy, display metadata and gitconfig', () => {
      const git = loadBuiltinClass('git');
      expect(git.metadata.labels).to.include({ 'connectors.cpaas.io/git': 'true' });
      expect(git.metadata.annotations).to.include({ 'cpaas.io/display-name': 'Git' });
      expect(git.spec.auth!.types![0]).to.deep.include({
        name: 'basicAuth',
        secretType: 'kubernetes.io/basic-auth',
        optional: true,
      });
      expect(git.spec.livenessProbe).to.deep.equal({ http: { path: '/' } });
      expect(git.spec.authProbes![0].probe!.http!.path).to.equal(
        '/{{- range .Connector.Spec.Auth.Params }}{{- if eq .Name "repository" }}{{ .Value.StringVal }}{{ end }}{{- end }}/info/refs?service=git-upload-pack',
      );
      expect(git.spec.authProbes![0].probe!.http!.httpHeaders).to.deep.equal([
        {
          name: 'Authorization',
          value:
            '{{- if .Secret }}Basic {{ printf "%s:%s" .Secret.StringData.username .Secret.StringData.password | b64enc }} {{- end }}',
        },
      ]);
      expect(git.spec.proxy!.ref).to.deep.include({ kind: 'Service', name: 'connectors-proxy-service' });
    });
    it('builtinClasses sets the system namespace and, in local mode, the proxy address', () => {
      const [inCluster] = builtinClasses({ systemNamespace: 'sys-ns', names: ['git'] });
      expect(inCluster.spec.proxy!.ref).to.deep.include({ namespace: 'sys-ns' });
      expect(inCluster.spec.proxy!.ref!.address).to.equal(undefined);
      const [local] = builtinClasses({
        systemNamespace: 'sys-ns',
        proxyAddress: 'http://127.0.0.1:18080',
        names: ['git'],
      });
      expect(local.spec.proxy!.ref!.address).to.equal('http://127.0.0.1:18080');
    });
  });
});

describe('controller units: no credential in probe error messages', () => {
  it('redacts a URL password (as Go does) and, for auth probes, query values', async () => {
    const { goErrorMessage: msg } = await import('../../controller/probe.ts');
    expect(msg('GET', 'https://user:hunter2@h.invalid/', { code: 'ENOTFOUND' }, 10_000)).to.equal(
      'Get "https://user:xxxxx@h.invalid": dial tcp: lookup h.invalid: no such host',
    );
    expect(msg('GET', 'https://h.invalid/api?private_token=abc&x=1', { code: 'ENOTFOUND' }, 10_000, true)).to.equal(
      'Get "https://h.invalid/api?private_token=xxxxx&x=xxxxx": dial tcp: lookup h.invalid: no such host',
    );
  });
});
