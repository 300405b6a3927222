// The CRDs generated from core/api, against the real kube-apiserver: they are what deploy/crds holds,
// round-trip objects (create, get, status update, printer columns) and reject invalid objects with a
// message that names the field.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { crdFiles } from '../../cli/commands/crds.ts';
import { KindClient } from '../../core/kube/resources.ts';
import { cluster, createNamespace, kubectl } from '@connectors/test-support';
import type { Connector } from '../../core/api/index.ts';

const crdDir = fileURLToPath(new URL('../../deploy/crds', import.meta.url));

const connector = (name: string, namespace: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name, namespace },
  spec: { connectorClassName: 'git', address: 'https://github.com', ...spec },
});

describe('CRDs', () => {
  it('deploy/crds is exactly what `npm run gen:crds` generates from core/api', () => {
    const generated = crdFiles();
    expect(readdirSync(crdDir).sort()).to.deep.equal(Object.keys(generated).sort());
    for (const [name, text] of Object.entries(generated))
      expect(readFileSync(join(crdDir, name), 'utf8'), name).to.equal(text);
  });

  it('are all installed and Established in the control plane', async () => {
    const out = await kubectl([
      'get',
      'crd',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
    ]);
    for (const name of ['connectors', 'connectorclasses', 'accesspolicies', 'accessrequests', 'resourceinterfaces']) {
      expect(out).to.include(`${name}.connectors.alauda.io=True`);
    }
  });

  it('round-trips a Connector: create, get, status update through the status subresource', async () => {
    const ns = await createNamespace('crd-roundtrip');
    const c = await cluster();
    const client = new KindClient(c.kubeConfig, 'Connector');
    const created = await client.create(
      connector('github', ns, {
        auth: {
          name: 'basicAuth',
          secretRef: { name: 'git-auth' },
          params: [{ name: 'repository', value: 'org/repo.git' }],
        },
        addressExtensions: [{ name: 'api', value: 'https://api.github.com' }],
      }) as Connector,
    );
    expect(created.metadata.generation).to.equal(1);
    const got = await client.get('github', ns);
    expect(got.spec.auth?.params).to.deep.equal([{ name: 'repository', value: 'org/repo.git' }]);

    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    got.status = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'SecretNotFound',
          message: 'secrets "git-auth" not found',
          lastTransitionTime: now,
          observedGeneration: 1,
        },
      ],
      proxy: { httpAddress: { url: `http://c-github.${ns}.svc.cluster.local` } },
    };
    const updated = await client.replaceStatus(got);
    expect(updated.status?.conditions?.[0].reason).to.equal('SecretNotFound');
    expect(updated.metadata.generation, 'a status write does not bump generation').to.equal(1);

    // A spec change through the main resource does not touch status.
    const again = await client.get('github', ns);
    expect(again.status?.proxy?.httpAddress?.url).to.equal(`http://c-github.${ns}.svc.cluster.local`);
  });

  it('shows NAME, CLASS, ADDRESS, READY, REASON and AGE in `kubectl get connector`', async () => {
    const ns = await createNamespace('crd-columns');
    const c = await cluster();
    const client = new KindClient(c.kubeConfig, 'Connector');
    const obj = await client.create(connector('git-connector', ns) as Connector);
    obj.status = {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
    };
    await client.replaceStatus(obj);
    const out = await kubectl(['get', 'connector', 'git-connector', '-n', ns]);
    const [header, row] = out.trim().split('\n');
    expect(header.split(/\s+/)).to.deep.equal(['NAME', 'CLASS', 'ADDRESS', 'READY', 'REASON', 'AGE']);
    expect(row.split(/\s+/).slice(0, 5)).to.deep.equal(['git-connector', 'git', 'https://github.com', 'True', 'Ready']);
  });

  it('shows READY and REASON for ConnectorClasses and the approval columns for AccessRequests', async () => {
    await kubectl(['apply', '-f', '-'], {
      input: stringify({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'ConnectorClass',
        metadata: { name: 'crd-columns-class' },
        spec: {},
      }),
    });
    const classHeader = (await kubectl(['get', 'connectorclass', 'crd-columns-class'])).split('\n')[0];
    expect(classHeader.split(/\s+/)).to.deep.equal(['NAME', 'READY', 'REASON', 'AGE']);
    const ns = await createNamespace('crd-ar-columns');
    await kubectl(['apply', '-n', ns, '-f', '-'], {
      input: stringify({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'AccessRequest',
        metadata: { name: 'ar' },
        spec: {
          subject: { kind: 'ServiceAccount', name: 'builder', namespace: ns },
          connectorRef: { name: 'harbor' },
          context: { objectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: ns } },
        },
      }),
    });
    const arHeader = (await kubectl(['get', 'accessrequest', 'ar', '-n', ns])).split('\n')[0];
    expect(arHeader.split(/\s+/)).to.deep.equal(['NAME', 'CONNECTOR', 'SUBJECT', 'CONTEXTVALID', 'PERMISSION', 'AGE']);
  });

  it('defaults spec.address.name of a ConnectorClass to "address" and accepts httpHeaders as a list or a map', async () => {
    await kubectl(['apply', '-f', '-'], {
      input: stringify({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'ConnectorClass',
        metadata: { name: 'crd-defaults' },
        spec: {
          address: { type: 'string' },
          livenessProbe: { http: { path: '/', httpHeaders: { Authorization: 'abc' } } },
          authProbes: [
            {
              authName: 'basicAuth',
              probe: { http: { path: '/', httpHeaders: [{ name: 'Authorization', value: 'abc' }] } },
            },
          ],
        },
      }),
    });
    const cls = JSON.parse(await kubectl(['get', 'connectorclass', 'crd-defaults', '-o', 'json']));
    expect(cls.spec.address).to.deep.equal({ name: 'address', type: 'string' });
    expect(cls.spec.livenessProbe.http).to.include({ method: 'GET', disableRedirect: false });
    expect(cls.spec.livenessProbe.http.httpHeaders).to.deep.equal({ Authorization: 'abc' });
    expect(cls.spec.authProbes[0].probe.http.httpHeaders).to.deep.equal([{ name: 'Authorization', value: 'abc' }]);
  });

  it('explains fields: `kubectl explain connector.spec.auth` describes the credentials', async () => {
    const out = await kubectl(['explain', 'connector.spec.auth']);
    expect(out).to.match(/Credentials of the Connector/);
    expect(out).to.match(/secretRef/);
    expect(out).to.match(/name\s+<string> -required-/);
  });

  const invalid: Array<{ name: string; object: (ns: string) => Record<string, unknown>; field: RegExp }> = [
    {
      name: 'a Connector without connectorClassName',
      object: (ns) => ({ ...connector('x', ns), spec: { address: 'https://github.com' } }),
      field: /spec\.connectorClassName: Required value/,
    },
    {
      name: 'a Connector whose address is not an http(s) URL',
      object: (ns) => connector('x', ns, { address: 'ftp://example.com' }),
      field: /spec\.address: Invalid value: "ftp:\/\/example\.com"/,
    },
    {
      name: 'a Connector with two addressExtensions of the same name',
      object: (ns) =>
        connector('x', ns, {
          addressExtensions: [
            { name: 'api', value: 'https://a.example.com' },
            { name: 'api', value: 'https://b.example.com' },
          ],
        }),
      field: /spec\.addressExtensions\[1\]: Duplicate value/,
    },
    {
      name: 'a Connector whose addressExtension value is empty',
      object: (ns) => connector('x', ns, { addressExtensions: [{ name: 'api', value: '' }] }),
      field: /spec\.addressExtensions\[0\]\.value/,
    },
    {
      name: 'a Connector whose auth has no name',
      object: (ns) => connector('x', ns, { auth: { secretRef: { name: 's' } } }),
      field: /spec\.auth\.name: Required value/,
    },
    {
      name: 'a ConnectorClass with two auth types of the same name',
      object: () => ({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'ConnectorClass',
        metadata: { name: 'crd-dup-auth' },
        spec: {
          auth: {
            types: [
              { name: 'basicAuth', secretType: 'kubernetes.io/basic-auth' },
              { name: 'basicAuth', secretType: 'Opaque' },
            ],
          },
        },
      }),
      field: /spec\.auth\.types\[1\]: Duplicate value/,
    },
    {
      name: 'a ConnectorClass probe with an unknown method',
      object: () => ({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'ConnectorClass',
        metadata: { name: 'crd-bad-method' },
        spec: { livenessProbe: { http: { path: '/', method: 'DELETE' } } },
      }),
      field: /spec\.livenessProbe\.http\.method: Unsupported value: "DELETE"/,
    },
    {
      name: 'an AccessPolicy with an empty checks list',
      object: (ns) => ({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'AccessPolicy',
        metadata: { name: 'ap', namespace: ns },
        spec: { checkGrantedPermission: { spec: { checks: [], roleTemplate: { ref: { configMap: { name: 'r' } } } } } },
      }),
      field:
        /spec\.checkGrantedPermission\.spec\.checks: Invalid value: \d+: spec\.checkGrantedPermission\.spec\.checks in body should have at least 1 items/,
    },
    {
      name: 'an AccessPolicy check with both ref and spec',
      object: (ns) => ({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'AccessPolicy',
        metadata: { name: 'ap', namespace: ns },
        spec: {
          checkGrantedPermission: {
            spec: {
              checks: [
                {
                  name: 'c',
                  ref: { configMap: { name: 'x' } },
                  spec: { selector: { objectRef: { apiVersion: 'v1', kind: 'ConfigMap' } } },
                },
              ],
              roleTemplate: { ref: { configMap: { name: 'r' } } },
            },
          },
        },
      }),
      field: /spec\.checkGrantedPermission\.spec\.checks\[0\]: Invalid value: exactly one of ref or spec must be set/,
    },
    {
      name: 'an AccessPolicy with neither permission',
      object: (ns) => ({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'AccessPolicy',
        metadata: { name: 'ap', namespace: ns },
        spec: { connector: {} },
      }),
      field: /spec: Invalid value: at least one of defaultPermission or checkGrantedPermission must be set/,
    },
    {
      name: 'an AccessRequest whose context is not a Pod',
      object: (ns) => ({
        apiVersion: 'connectors.alauda.io/v1alpha1',
        kind: 'AccessRequest',
        metadata: { name: 'ar', namespace: ns },
        spec: {
          subject: { kind: 'ServiceAccount', name: 'sa' },
          connectorRef: { name: 'c' },
          context: { objectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' } },
        },
      }),
      field: /spec\.context\.objectRef: Invalid value: only kind Pod is supported/,
    },
  ];

  for (const { name, object, field } of invalid) {
    it(`rejects ${name}, naming the field`, async () => {
      const ns = await createNamespace('crd-invalid');
      const err = await kubectl(['create', '-f', '-'], { input: JSON.stringify(object(ns)) }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, 'the apiserver accepted it').to.be.instanceOf(Error);
      expect(err!.message).to.match(field);
    });
  }

  it('rejects changes to an AccessRequest spec (immutable)', async () => {
    const ns = await createNamespace('crd-ar-immutable');
    const ar = {
      apiVersion: 'connectors.alauda.io/v1alpha1',
      kind: 'AccessRequest',
      metadata: { name: 'ar', namespace: ns },
      spec: {
        subject: { kind: 'ServiceAccount', name: 'sa', namespace: ns },
        connectorRef: { name: 'c' },
        context: { objectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p' } },
      },
    };
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(ar) });
    const err = await kubectl([
      'patch',
      'accessrequest',
      'ar',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"subject":{"name":"other"}}}',
    ]).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/spec: Invalid value: spec is immutable/);
  });
});
