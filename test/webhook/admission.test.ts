// The webhooks through the real kube-apiserver: registered by startWebhook (url clientConfig on
// 127.0.0.1), scoped to this test's namespaces (and, for the cluster-scoped ConnectorClass webhook, to
// objects carrying this test's label) so other test files sharing the control plane are never affected.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { builtinClasses } from '../../connectorclasses/index.ts';
import type { Connector } from '../../core/api/index.ts';
import { KindClient } from '../../core/kube/resources.ts';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import {
  registerConfigurations,
  unregisterConfigurations,
  webhookConfigurations,
  type LabelSelectorRequirement,
} from '../../webhook/register.ts';
import { createCA } from '../../core/pki/index.ts';
import {
  cluster,
  createConnectorWithProxyAddress,
  kubectl,
  type Cluster,
  eventually,
  fixtureDocuments,
  indentedBlocks,
  textToApply,
  objects,
} from '@connectors/test-support';

const TEST_LABEL = 'connectors.test/webhook';
const FLAG = 'enable-pod-image-pull-via-connector';
const PROXY_URL = 'http://127.0.0.1:31567/namespaces/oci-connector-demo/connectors/harbor';
const REWRITTEN = '127.0.0.1:31567/namespaces/oci-connector-demo/connectors/harbor/oci-connector-demo:v1';
const DIGEST = 'sha256:' + 'b'.repeat(64);

const TASKRUN_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'taskruns.tekton.dev' },
  spec: {
    group: 'tekton.dev',
    names: { kind: 'TaskRun', plural: 'taskruns', singular: 'taskrun', categories: ['tekton'] },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
        subresources: { status: {} },
      },
    ],
  },
};

const applyJson = (obj: unknown, ns?: string) =>
  kubectl(['apply', ...(ns ? ['-n', ns] : []), '-f', '-'], { input: JSON.stringify(obj) });
const createJson = (obj: unknown, ns?: string) =>
  kubectl(['create', ...(ns ? ['-n', ns] : []), '-f', '-'], { input: JSON.stringify(obj) });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the API server to reject the request');
    },
    (e: Error) => e.message,
  );

describe('webhook: admission through the real API server', function () {
  this.timeout(120_000);
  const id = randomBytes(4).toString('hex');
  const scope: LabelSelectorRequirement[] = [{ key: TEST_LABEL, operator: 'In', values: [id] }];
  const systemNamespace = `wh-system-${id}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'webhook-test-'));
  let c: Cluster;
  let wh: RunningWebhook;

  async function labelledNamespace(prefix: string, value = id): Promise<string> {
    const ns = await c.createNamespace(prefix);
    await kubectl(['label', 'namespace', ns, `${TEST_LABEL}=${value}`, '--overwrite']);
    return ns;
  }

  async function setFlag(on: boolean, hook: RunningWebhook = wh): Promise<void> {
    await applyJson({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'connectors-config', namespace: systemNamespace },
      data: { [FLAG]: String(on) },
    });
    await eventually(`flag ${FLAG}=${on} seen by the webhook`, () => hook.flags.enabled(FLAG) === on);
  }

  async function seedConnector(ns: string, name = 'harbor', address = 'https://harbor.example.com'): Promise<void> {
    await createConnectorWithProxyAddress(
      c.kubeConfig,
      objects.connector(name, { namespace: ns, className: 'oci', address }),
      `http://127.0.0.1:31567/namespaces/${ns}/connectors/${name}`,
    );
  }

  const getPod = async (ns: string, name: string) =>
    JSON.parse(await kubectl(['get', 'pod', '-n', ns, name, '-o', 'json']));
  const labelledPod = (name: string, connector: string, spec: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: { 'connectors.cpaas.io/proxy-inject': 'true' },
      annotations: { 'connectors.cpaas.io/connector': connector },
    },
    spec,
  });

  before(async () => {
    c = await cluster();
    await kubectl(['create', 'namespace', systemNamespace]);
    await applyJson(TASKRUN_CRD);
    await kubectl(['wait', '--for=condition=Established', 'crd/taskruns.tekton.dev', '--timeout=60s']);
    await applyJson({
      apiVersion: 'v1',
      kind: 'List',
      items: builtinClasses({ systemNamespace: 'connectors-system', names: ['oci'] }),
    });
    wh = await startWebhook(c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      register: true,
      stateDir,
      systemNamespace,
      configName: `connectors-webhook-${id}`,
      namespaceRequirements: scope,
      objectRequirements: scope,
    });
  });

  after(async () => {
    await wh?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  describe('Pods (the OCI quick start)', () => {
    const ns = 'oci-connector-demo';
    before(async () => {
      await kubectl(['create', 'namespace', ns]).catch((e: Error) => {
        if (!/AlreadyExists/.test(e.message)) throw e;
      });
      await c.waitForServiceAccount(ns);
      await kubectl(['label', 'namespace', ns, `${TEST_LABEL}=${id}`, '--overwrite']);
      await kubectl(['delete', 'pod', '-n', ns, '--all', '--grace-period=0', '--force', '--wait=true']).catch(
        () => undefined,
      );
      for (const doc of fixtureDocuments('003').filter((d) => /kind: Connector/.test(d.text)))
        await kubectl(['apply', '-n', ns, '-f', '-'], { input: doc.text });
      const client = new KindClient(c.kubeConfig, 'Connector');
      const harbor = await client.get('harbor', ns);
      harbor.status = { proxy: { httpAddress: { url: PROXY_URL } } };
      await client.replaceStatus(harbor);
    });
    after(async () => {
      await kubectl(['label', 'namespace', ns, `${TEST_LABEL}-`]).catch(() => undefined);
      await kubectl(['delete', 'pod', '-n', ns, '--all', '--grace-period=0', '--force']).catch(() => undefined);
    });

    it('flag off (the default): the seed Pod is rejected with a message naming the flag and where to enable it', async () => {
      await setFlag(false);
      const pod = fixtureDocuments('003').find((d) => /kind: Pod/.test(d.text))!;
      const msg = await failure(kubectl(['apply', '-n', ns, '-f', '-'], { input: pod.text }));
      expect(msg).to.include('admission webhook "pods.connectors.cpaas.io" denied the request');
      expect(msg).to.include(
        `metadata.annotations["connectors.cpaas.io/connector"]: image pull via Connector "oci-connector-demo/harbor" is disabled: ` +
          `feature flag "${FLAG}" is off. To enable it set "${FLAG}": "true" in ConfigMap ` +
          `${systemNamespace}/connectors-config (ConnectorsConfig spec.components.core.spec.featureFlags)`,
      );
    });

    it('flag off: a Pod with only the annotation (no label) is rejected too', async () => {
      await setFlag(false);
      const msg = await failure(
        createJson(
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'annotated-only', annotations: { 'connectors.cpaas.io/connector': `${ns}/harbor` } },
            spec: { containers: [{ name: 'c', image: 'harbor.example.com/oci-connector-demo:v1' }] },
          },
          ns,
        ),
      );
      expect(msg).to.include('admission webhook "pods.connectors.cpaas.io" denied the request');
      expect(msg).to.include(`metadata.annotations["connectors.cpaas.io/connector"]`);
      expect(msg).to.include(`feature flag "${FLAG}" is off`);
      // A Pod with neither is not even sent to the webhook.
      await createJson(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'neither' },
          spec: { containers: [{ name: 'c', image: 'harbor.example.com/oci-connector-demo:v1' }] },
        },
        ns,
      );
    });

    it('flag on: the seed Pod is stored with its image rewritten to the Connector proxy', async () => {
      await setFlag(true);
      const pod = fixtureDocuments('003').find((d) => /kind: Pod/.test(d.text))!;
      await kubectl(['apply', '-n', ns, '-f', '-'], { input: pod.text });
      const stored = await getPod(ns, 'oci-connector-pod');
      expect(stored.spec.containers[0].image).to.equal(REWRITTEN);
    });

    it('a Pod without the label is untouched', async () => {
      await createJson(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'plain', annotations: { 'connectors.cpaas.io/connector': `${ns}/harbor` } },
          spec: { containers: [{ name: 'c', image: 'harbor.example.com/oci-connector-demo:v1' }] },
        },
        ns,
      );
      expect((await getPod(ns, 'plain')).spec.containers[0].image).to.equal('harbor.example.com/oci-connector-demo:v1');
    });

    it('init containers and digests are rewritten; other registries are left alone', async () => {
      await createJson(
        labelledPod('with-init', `${ns}/harbor`, {
          initContainers: [{ name: 'init', image: `harbor.example.com/tools/init@${DIGEST}` }],
          containers: [
            { name: 'app', image: 'harbor.example.com/app:v2' },
            { name: 'side', image: 'busybox:1.36' },
          ],
        }),
        ns,
      );
      const stored = await getPod(ns, 'with-init');
      expect(stored.spec.initContainers[0].image).to.equal(
        `127.0.0.1:31567/namespaces/${ns}/connectors/harbor/tools/init@${DIGEST}`,
      );
      expect(stored.spec.containers.map((x: { image: string }) => x.image)).to.deep.equal([
        `127.0.0.1:31567/namespaces/${ns}/connectors/harbor/app:v2`,
        'busybox:1.36',
      ]);
    });

    it('ephemeral containers added later (pods/ephemeralcontainers) are rewritten', async () => {
      await kubectl([
        'patch',
        'pod',
        '-n',
        ns,
        'oci-connector-pod',
        '--subresource=ephemeralcontainers',
        '--type=strategic',
        '-p',
        JSON.stringify({
          spec: { ephemeralContainers: [{ name: 'debugger', image: 'harbor.example.com/debug/shell:1', stdin: true }] },
        }),
      ]);
      const stored = await getPod(ns, 'oci-connector-pod');
      expect(stored.spec.ephemeralContainers[0].image).to.equal(
        `127.0.0.1:31567/namespaces/${ns}/connectors/harbor/debug/shell:1`,
      );
      expect(stored.spec.containers[0].image).to.equal(REWRITTEN);
    });

    it('a missing Connector, or one in a namespace the Pod may not use, is denied', async () => {
      const missing = await failure(
        createJson(
          labelledPod('missing', `${ns}/nope`, { containers: [{ name: 'c', image: 'harbor.example.com/a:1' }] }),
          ns,
        ),
      );
      expect(missing).to.include(`Connector "${ns}/nope" not found`);
      const other = await labelledNamespace('wh-other');
      await c.waitForServiceAccount(other);
      const denied = await failure(
        createJson(
          labelledPod('cross', `${ns}/harbor`, { containers: [{ name: 'c', image: 'harbor.example.com/a:1' }] }),
          other,
        ),
      );
      expect(denied).to.include(`a Pod in namespace "${other}" may not use Connector "${ns}/harbor"`);
    });
  });

  describe('TaskRuns (tekton.dev/v1)', () => {
    it('get CSI workspaces for their connector annotations, without overriding bound ones', async () => {
      const ns = await labelledNamespace('wh-taskrun');
      await seedConnector(ns, 'git-connector', 'https://github.com');
      await createJson(
        {
          apiVersion: 'tekton.dev/v1',
          kind: 'TaskRun',
          metadata: {
            name: 'clone',
            annotations: {
              'connectors.cpaas.io/workspace.basic-auth':
                'connector=git-connector; configuration.names=gitconfig; token.expiration=30m',
              'connectors.cpaas.io/workspace.output': `connector=${ns}/git-connector`,
            },
          },
          spec: { taskRef: { name: 'git-clone' }, workspaces: [{ name: 'output', emptyDir: {} }] },
        },
        ns,
      );
      const tr = JSON.parse(await kubectl(['get', 'taskrun', '-n', ns, 'clone', '-o', 'json']));
      expect(tr.spec.workspaces).to.deep.equal([
        { name: 'output', emptyDir: {} },
        {
          name: 'basic-auth',
          csi: {
            driver: 'connectors-csi',
            readOnly: true,
            volumeAttributes: {
              connectors: `${ns}/git-connector`,
              'configuration.names': 'gitconfig',
              'token.expiration': '30m',
            },
          },
        },
      ]);
      const bad = await failure(
        createJson(
          {
            apiVersion: 'tekton.dev/v1',
            kind: 'TaskRun',
            metadata: { name: 'bad', annotations: { 'connectors.cpaas.io/workspace.x': 'connector=nope' } },
            spec: {},
          },
          ns,
        ),
      );
      expect(bad).to.include(
        `metadata.annotations["connectors.cpaas.io/workspace.x"]: Connector "${ns}/nope" not found`,
      );
    });
  });

  describe('Connectors and ConnectorClasses (validating)', () => {
    let ns: string;
    const className = `wh-${id}-tool`;
    before(async () => {
      ns = await labelledNamespace('wh-validate', id);
      await applyJson(
        objects.connectorClass(
          className,
          {
            addressExtensions: [{ name: 'api' }],
            auth: { types: [{ name: 'basicAuth', secretType: objects.SECRET_TYPES.basicAuth, optional: true }] },
          },
          { labels: { [TEST_LABEL]: id } },
        ),
      );
    });
    after(async () => {
      await kubectl(['delete', 'connectorclass', '-l', `${TEST_LABEL}=${id}`]).catch(() => undefined);
    });
    const conn = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'connectors.alauda.io/v1alpha1',
      kind: 'Connector',
      metadata: { name, namespace: ns },
      spec: { connectorClassName: className, address: 'https://tool.example.com', ...spec },
    });
    const api = { name: 'api', value: 'https://api.tool.example.com' };

    const cases: Array<{ name: string; spec: Record<string, unknown>; includes: string[] }> = [
      {
        name: 'required extension missing',
        spec: {},
        includes: [
          'admission webhook "connectors.connectors.alauda.io" denied the request',
          'spec.addressExtensions: required extension "api" is missing',
        ],
      },
      {
        name: 'undeclared extension',
        spec: { addressExtensions: [api, { name: 'foo', value: 'https://foo.example.com' }] },
        includes: ['spec.addressExtensions[1].name: "foo" is not declared by ConnectorClass'],
      },
      {
        name: 'duplicate name (CRD list-map key, before the webhook)',
        spec: { addressExtensions: [api, { ...api, value: 'https://api2.tool.example.com' }] },
        includes: ['spec.addressExtensions[1]: Duplicate value'],
      },
      {
        name: 'value equal to spec.address',
        spec: { addressExtensions: [{ name: 'api', value: 'https://tool.example.com' }] },
        includes: ['spec.addressExtensions[0].value: must differ from spec.address'],
      },
      {
        name: 'ftp://x (CRD pattern, before the webhook)',
        spec: { addressExtensions: [{ name: 'api', value: 'ftp://x' }] },
        includes: ['spec.addressExtensions[0].value: Invalid value: "ftp://x"'],
      },
      {
        name: '"" (CRD minLength, before the webhook)',
        spec: { addressExtensions: [{ name: 'api', value: '' }] },
        includes: ['spec.addressExtensions[0].value: Invalid value: ""'],
      },
      {
        name: 'unknown auth name',
        spec: { addressExtensions: [api], auth: { name: 'basic-auth' } },
        includes: ['spec.auth.name: "basic-auth" is not an auth type of ConnectorClass'],
      },
      {
        name: 'undeclared param',
        spec: { addressExtensions: [api], params: [{ name: 'colour', value: 'x' }] },
        includes: ['spec.params[0].name: "colour" is not declared'],
      },
    ];
    cases.forEach((t, i) => {
      it(`rejects ${t.name}`, async () => {
        const msg = await failure(createJson(conn(`bad-${i}`, t.spec)));
        for (const s of t.includes) expect(msg).to.include(s);
      });
    });

    it('rejects a Secret of the wrong type; accepts the right one', async () => {
      await createJson(objects.opaqueSecret('opaque', { username: 'u', password: 'p' }, { namespace: ns }));
      await createJson(objects.basicAuthSecret('basic', 'u', 'p', { namespace: ns }));
      const msg = await failure(
        createJson(
          conn('wrong-secret', {
            addressExtensions: [api],
            auth: { name: 'basicAuth', secretRef: { name: 'opaque' } },
          }),
        ),
      );
      expect(msg).to.include('spec.auth.secretRef: Secret "opaque" has type "Opaque", but auth type "basicAuth"');
      await createJson(
        conn('right-secret', { addressExtensions: [api], auth: { name: 'basicAuth', secretRef: { name: 'basic' } } }),
      );
    });

    it('rejects a secretRef into another namespace without reading it: the message names the field, not the Secret', async () => {
      const other = await labelledNamespace('wh-secrets');
      await createJson(
        objects.secret('deploy-key', {
          namespace: other,
          type: objects.SECRET_TYPES.sshAuth,
          stringData: { 'ssh-privatekey': 'not a key' },
        }),
      );
      const msg = await failure(
        createJson(
          conn('foreign-secret', {
            addressExtensions: [api],
            auth: { name: 'basicAuth', secretRef: { name: 'deploy-key', namespace: other } },
          }),
        ),
      );
      expect(msg).to.include(
        `spec.auth.secretRef.namespace "${other}" is not the Connector's namespace "${ns}": only Secrets of the Connector's namespace can be used`,
      );
      expect(msg).to.not.include('ssh-auth');
      expect(msg).to.not.include('has type');
    });

    it('rejects a spec.address no URL parser reads, naming the field', async () => {
      const msg = await failure(createJson(conn('bad-address', { address: 'http://[x', addressExtensions: [api] })));
      expect(msg).to.include('spec.address: "http://[x" is not a valid URL');
    });

    it('refuses spec.caCertSecretRef.namespace: the field does not exist, so no other namespace can be named', async () => {
      const msg = await failure(
        createJson(conn('ca-elsewhere', { addressExtensions: [api], caCertSecretRef: { name: 'ca', namespace: 'x' } })),
      );
      expect(msg).to.match(/unknown field "spec\.caCertSecretRef\.namespace"/);
    });

    it('accepts the reference git Connector without spec.auth.params (a warning says what is checked instead)', async () => {
      await createJson(objects.basicAuthSecret('github-secret', 'u', 'p', { namespace: ns }));
      await applyJson({
        apiVersion: 'v1',
        kind: 'List',
        items: builtinClasses({ systemNamespace: 'connectors-system', names: ['git'] }).map((x) => ({
          ...x,
          metadata: { ...x.metadata, name: `git-${id}`, labels: { ...x.metadata?.labels, [TEST_LABEL]: id } },
        })),
      });
      const out = await kubectl(['create', '-f', '-', '--warnings-as-errors=false'], {
        input: JSON.stringify(
          objects.connector('git-github', {
            namespace: ns,
            className: `git-${id}`,
            address: 'https://github.com',
            auth: { name: 'basicAuth', secret: 'github-secret' },
          }),
        ),
      });
      expect(out).to.include('created');
    });

    it('accepts a kubernetes.io/basic-auth Secret on an OCI Connector', async () => {
      await createJson(objects.basicAuthSecret('registry-basic', 'robot', 'p', { namespace: ns }));
      const out = await createJson(
        objects.connector('registry', {
          namespace: ns,
          className: 'oci',
          address: 'https://harbor.example.com',
          auth: { name: 'tokenAuth', secret: 'registry-basic' },
        }),
      );
      expect(out).to.include('created');
    });

    it('allows a Connector of an unknown class, with a warning', async () => {
      const out = await kubectl(['create', '-f', '-', '--warnings-as-errors=false'], {
        input: JSON.stringify({
          ...conn('orphan', {}),
          spec: { connectorClassName: `nope-${id}`, address: 'https://x.example.com' },
        }),
      });
      expect(out).to.include('created');
    });

    const classCases: Array<{ name: string; spec: Record<string, unknown>; includes: string }> = [
      {
        name: 'a template that does not parse',
        spec: { configurations: [{ name: 'c', data: { 'config.json': '{{ .context.token | nosuchfunc }}' } }] },
        includes:
          'spec.configurations[0].data["config.json"]: template: config.json:1: function "nosuchfunc" not defined',
      },
      {
        name: 'a bad file name',
        spec: { configurations: [{ name: 'c', data: { 'a b': 'x' } }] },
        includes: 'spec.configurations[0].data["a b"]: file name may contain only',
      },
      {
        name: 'headers of the wrong shape',
        spec: { livenessProbe: { http: { path: '/', httpHeaders: [{ name: 'A', value: 1 }] } } },
        includes: 'spec.livenessProbe.http.httpHeaders[0].value: must be a string',
      },
      {
        name: 'rego that does not compile',
        spec: {
          auth: { types: [{ name: 'a', secretType: 'Opaque', generator: { rego: 'package proxy\nauth = {' } }] },
        },
        includes: 'spec.auth.types[0].generator.rego: generator.rego:',
      },
      {
        name: 'a probe header template that does not parse',
        spec: {
          auth: { types: [{ name: 'a', secretType: 'Opaque' }] },
          authProbes: [
            {
              authName: 'a',
              probe: { http: { path: '/', httpHeaders: [{ name: 'Authorization', value: '{{ if .Secret }}' }] } },
            },
          ],
        },
        includes: 'spec.authProbes[0].probe.http.httpHeaders[0].value: template: value:1: unexpected EOF',
      },
    ];
    classCases.forEach((t, i) => {
      it(`rejects a ConnectorClass with ${t.name}`, async () => {
        const msg = await failure(
          createJson({
            apiVersion: 'connectors.alauda.io/v1alpha1',
            kind: 'ConnectorClass',
            metadata: { name: `wh-${id}-bad-${i}`, labels: { [TEST_LABEL]: id } },
            spec: t.spec,
          }),
        );
        expect(msg).to.include('admission webhook "connectorclasses.connectors.alauda.io" denied the request');
        expect(msg).to.include(t.includes);
      });
    });

    it('accepts every seed ConnectorClass (001, 002) and the seed Connectors (000, 003)', async () => {
      const docs = [...indentedBlocks('001'), ...indentedBlocks('002')];
      let n = 0;
      for (const doc of docs) {
        const text = textToApply(
          {
            ...doc,
            text: doc.text.replace(
              /Authorization: \{\{ \.Secret\.StringData\.token \}\}/,
              "Authorization: '{{ .Secret.StringData.token }}'",
            ),
          },
          5000 + n++,
        );
        for (const d of parseAllDocuments(text)) {
          const obj = d.toJS();
          if (!obj) continue;
          obj.metadata.name = `wh-${id}-${obj.metadata.name}`.slice(0, 63).replace(/-+$/, '');
          obj.metadata.labels = { ...(obj.metadata.labels ?? {}), [TEST_LABEL]: id };
          const out = await applyJson(obj).catch((e: Error) => e.message);
          expect(out, `${doc.origin}: ${out}`).to.match(/created|configured|unchanged/);
        }
      }
      for (const prefix of ['000', '003']) {
        for (const doc of fixtureDocuments(prefix)) {
          if (!/kind: Connector/.test(doc.text)) continue;
          for (const d of parseAllDocuments(doc.text)) {
            const obj = d.toJS();
            if (!obj) continue;
            obj.metadata.namespace = ns; // the Git quick start names its own namespace; here it is this test's
            expect(await applyJson(obj, ns), doc.origin).to.match(/created|configured|unchanged/);
          }
        }
      }
    });
  });

  describe('TLS', () => {
    it('rotates the serving certificate and the caBundle, and keeps answering', async () => {
      const rid = `${id}r`;
      const ns = await labelledNamespace('wh-rotate', rid);
      await seedConnector(ns);
      const short = await startWebhook(c.kubeConfig, {
        port: 0,
        register: true,
        systemNamespace,
        configName: `connectors-webhook-${rid}`,
        namespaceRequirements: [{ key: TEST_LABEL, operator: 'In', values: [rid] }],
        objectRequirements: [{ key: TEST_LABEL, operator: 'In', values: [rid] }],
        certValiditySeconds: 6,
      });
      try {
        await eventually('flag seen', () => short.flags.enabled(FLAG));
        const fingerprint = () =>
          new Promise<string>((resolve, reject) => {
            const s = connect({ host: '127.0.0.1', port: short.port, rejectUnauthorized: false }, () => {
              resolve(s.getPeerCertificate().fingerprint256);
              s.end();
            });
            s.on('error', reject);
          });
        const bundleOf = async () =>
          JSON.parse(await kubectl(['get', 'mutatingwebhookconfiguration', `connectors-webhook-${rid}`, '-o', 'json']))
            .webhooks[0].clientConfig.caBundle as string;
        const before = { fp: await fingerprint(), bundle: await bundleOf() };
        const mkPod = async (name: string) => {
          await createJson(
            labelledPod(name, `${ns}/harbor`, { containers: [{ name: 'c', image: 'harbor.example.com/app:v1' }] }),
            ns,
          );
          return (await getPod(ns, name)).spec.containers[0].image as string;
        };
        expect(await mkPod('before')).to.equal(`127.0.0.1:31567/namespaces/${ns}/connectors/harbor/app:v1`);
        await eventually('two rotations', () => short.certificates.rotations >= 2, 30_000);
        const after = { fp: await fingerprint(), bundle: await bundleOf() };
        expect(after.fp).to.not.equal(before.fp);
        expect(after.bundle).to.not.equal(before.bundle);
        expect(Buffer.from(after.bundle, 'base64').toString()).to.equal(short.caBundle());
        expect(short.caBundle().match(/BEGIN CERTIFICATE/g)).to.have.length(2, 'the new CA and the previous one');
        expect(await mkPod('after')).to.equal(`127.0.0.1:31567/namespaces/${ns}/connectors/harbor/app:v1`);
      } finally {
        await short.stop();
      }
    });
  });

  describe('blast radius', () => {
    it('never blocks kube-system, even with the production selectors and the server down', async () => {
      const name = `connectors-webhook-down-${id}`;
      const ca = await createCA({ commonName: 'unused' });
      // Production selectors (no test scoping), pointing at a port nothing listens on.
      const objs = webhookConfigurations({
        systemNamespace,
        target: { url: 'https://127.0.0.1:1' },
        caBundlePem: ca.certPem,
        name,
      });
      // Not labelled for this test's own webhook: only the down configuration applies here.
      const ns = await c.createNamespace('wh-down');
      try {
        await registerConfigurations(c.kubeConfig, objs);
        const probe = labelledPod('probe', 'x/y', { containers: [{ name: 'c', image: 'busybox' }] });
        // The configuration is live: an opted-in Pod elsewhere fails closed.
        const msg = await eventually('the down webhook to be in effect', async () => {
          const m = await createJson(probe, ns).then(
            async () => {
              await kubectl(['delete', 'pod', '-n', ns, 'probe', '--grace-period=0', '--force']);
              return undefined;
            },
            (e: Error) => e.message,
          );
          return m && /failed calling webhook "pods.connectors.cpaas.io"/.test(m) ? m : undefined;
        });
        expect(msg).to.include('failed calling webhook');
        // kube-system is excluded: the same opted-in Pod, a ConfigMap.
        const sysName = `probe-${id}`;
        await createJson({ ...probe, metadata: { ...probe.metadata, name: sysName } }, 'kube-system');
        await createJson(
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: sysName }, data: { a: 'b' } },
          'kube-system',
        );
        await kubectl(['delete', 'pod,configmap', '-n', 'kube-system', sysName, '--grace-period=0', '--force']);
        // Validation fails open: a Connector (here in kube-public, where cluster-level Connectors live) is admitted.
        await applyJson(
          objects.connector(`down-${id}`, {
            namespace: 'kube-public',
            className: 'oci',
            address: 'https://r.example.com',
          }),
        );
        await kubectl(['delete', 'connector', '-n', 'kube-public', `down-${id}`]);
      } finally {
        await unregisterConfigurations(c.kubeConfig, name);
      }
    });
  });

  describe('manifests', () => {
    it('deploy/webhook is exactly what `connectors webhook --print-manifests` generates', async () => {
      const { readFileSync } = await import('node:fs');
      const { deployManifests } = await import('../../webhook/register.ts');
      const [m, v] = deployManifests('connectors-system');
      const dir = new URL('../../deploy/webhook/', import.meta.url);
      expect(parseYaml(readFileSync(new URL('mutatingwebhookconfiguration.yaml', dir), 'utf8'))).to.deep.equal(m);
      expect(parseYaml(readFileSync(new URL('validatingwebhookconfiguration.yaml', dir), 'utf8'))).to.deep.equal(v);
    });
  });
});

export type { Connector };
