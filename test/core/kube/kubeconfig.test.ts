// Kubeconfig loading without client-node: the forms of a cluster and a user a component meets (data fields,
// files relative to the kubeconfig, a token file read again, an exec credential plugin, $KUBECONFIG merged,
// the in-cluster ServiceAccount), each used against the real apiserver where it can be, and clear errors.
import { expect } from 'chai';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cluster, type Cluster } from '@connectors/test-support';
import { kubeClient } from '../../../core/kube/client.ts';
import { Kubeconfig, KubeconfigError } from '../../../core/kube/kubeconfig.ts';
import { resources } from '../../../core/kube/resources.ts';

const whoami = async (kc: Kubeconfig): Promise<string> => {
  const client = kubeClient(kc);
  try {
    const review = await client.call<{ status: { userInfo: { username: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    return review.status.userInfo.username;
  } finally {
    await client.close();
  }
};

describe('core/kube: kubeconfig loading', function () {
  this.timeout(60_000);
  let c: Cluster;
  let dir: string;
  let tls: { ca: string; cert: string; key: string };
  let ns: string;
  let token: string;

  before(async () => {
    c = await cluster();
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
    const o: RequestOptions = {};
    await c.kubeConfig.applyToHTTPSOptions(o);
    if (typeof o.key !== 'string' && !Buffer.isBuffer(o.key)) throw new Error('the harness gives one PEM key');
    tls = { ca: String(o.ca), cert: String(o.cert), key: o.key.toString() };
    ns = await c.createNamespace('kubeconfig');
    await c.createServiceAccount(ns, 'reader');
    token = await c.createToken(ns, 'reader');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const doc = (user: Record<string, unknown>, clusterFields: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'ctx',
    contexts: [{ name: 'ctx', context: { cluster: 'cl', user: 'u', namespace: 'team' } }],
    clusters: [
      {
        name: 'cl',
        cluster: {
          server: c.server,
          'certificate-authority-data': Buffer.from(tls.ca).toString('base64'),
          ...clusterFields,
        },
      },
    ],
    users: [{ name: 'u', user }],
  });

  it('the harness kubeconfig (client certificate data): the admin', async () => {
    const kc = Kubeconfig.fromYaml(c.kubeconfigYaml);
    expect(kc.getCurrentCluster().server).to.equal(c.server);
    expect(await whoami(kc)).to.match(/admin/);
    const client = kubeClient(kc);
    expect((await client.get(resources.Namespace, ns)).metadata.name).to.equal(ns);
    await client.close();
  });

  it('certificate files relative to the kubeconfig file', async () => {
    await writeFile(join(dir, 'ca.crt'), tls.ca);
    await writeFile(join(dir, 'admin.crt'), tls.cert);
    await writeFile(join(dir, 'admin.key'), tls.key);
    const file = join(dir, 'files.yaml');
    const d = doc({ 'client-certificate': 'admin.crt', 'client-key': 'admin.key' });
    d.clusters[0].cluster = { server: c.server, 'certificate-authority': 'ca.crt' } as never;
    await writeFile(file, stringify(d));
    const kc = Kubeconfig.load(file);
    expect(kc.namespace).to.equal('team');
    expect(await whoami(kc)).to.match(/admin/);
  });

  it('a token file is read again each time (a rotated ServiceAccount token)', async () => {
    const file = join(dir, 'token');
    await writeFile(file, `${token}\n`);
    const kc = Kubeconfig.fromYaml(stringify(doc({ tokenFile: file })), join(dir, 'k.yaml'));
    expect(await whoami(kc)).to.equal(`system:serviceaccount:${ns}:reader`);
    await writeFile(file, 'rotated-token');
    const o: RequestOptions = {};
    await kc.applyToHTTPSOptions(o);
    expect((o.headers as Record<string, string>).Authorization).to.equal('Bearer rotated-token');
  });

  it('an exec credential plugin: run once, its token reused until it expires', async () => {
    const plugin = join(dir, 'plugin.sh');
    const count = join(dir, 'runs');
    await writeFile(
      plugin,
      `#!/bin/sh\necho run >> ${count}\n[ -n "$KUBERNETES_EXEC_INFO" ] || exit 3\n` +
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",` +
        `"status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}' "$TOKEN"\n`,
    );
    await chmod(plugin, 0o755);
    const kc = Kubeconfig.fromYaml(
      stringify(
        doc({
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: plugin,
            env: [{ name: 'TOKEN', value: token }],
          },
        }),
      ),
    );
    expect(await whoami(kc)).to.equal(`system:serviceaccount:${ns}:reader`);
    expect(await whoami(kc)).to.equal(`system:serviceaccount:${ns}:reader`);
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(count, 'utf8')).trim().split('\n')).to.have.length(1);
  });

  it('$KUBECONFIG: files merged, the first definition of a name and the first current-context win; missing files skipped', async () => {
    const first = join(dir, 'first.yaml');
    const second = join(dir, 'second.yaml');
    await writeFile(first, stringify({ 'current-context': 'ctx', users: [{ name: 'u', user: { token } }] }));
    await writeFile(second, stringify({ ...doc({ token: 'not-this-one' }), 'current-context': 'other' }));
    const kc = Kubeconfig.load(undefined, { KUBECONFIG: [join(dir, 'missing.yaml'), first, second].join(':') });
    expect(await whoami(kc)).to.equal(`system:serviceaccount:${ns}:reader`);
  });

  it('in cluster: the ServiceAccount token, CA and namespace files', async () => {
    const sa = join(dir, 'sa');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(sa);
    await writeFile(join(sa, 'token'), token);
    await writeFile(join(sa, 'ca.crt'), tls.ca);
    await writeFile(join(sa, 'namespace'), `${ns}\n`);
    const url = new URL(c.server);
    const kc = Kubeconfig.inCluster({ KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }, sa);
    expect(kc.getCurrentCluster().server).to.equal(`https://${url.hostname}:${url.port}`);
    expect(kc.namespace).to.equal(ns);
    expect(await whoami(kc)).to.equal(`system:serviceaccount:${ns}:reader`);
  });

  it('clear errors: no current context, an undefined context, an auth-provider, proxy-url, nothing configured', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => Kubeconfig.fromYaml(stringify({ ...doc({ token }), 'current-context': undefined })), /no current-context/],
      [
        () => Kubeconfig.fromYaml(stringify({ ...doc({ token }), 'current-context': 'nope' })),
        /context "nope" is not defined/,
      ],
      [
        () => Kubeconfig.fromYaml(stringify(doc({ 'auth-provider': { name: 'oidc' } }))),
        /auth-provider "oidc" is not supported.*exec/,
      ],
      [() => Kubeconfig.fromYaml(stringify(doc({ token }, { 'proxy-url': 'http://p' }))), /proxy-url is not supported/],
      [() => Kubeconfig.load(undefined, { HOME: dir }), /no Kubernetes cluster configured/],
      [
        () => Kubeconfig.load(undefined, { KUBECONFIG: join(dir, 'missing.yaml') }),
        /none of the KUBECONFIG files exists/,
      ],
    ];
    for (const [f, re] of cases) expect(f).to.throw(KubeconfigError, re);
  });
});
