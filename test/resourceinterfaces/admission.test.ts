// ResourceInterfaces through the real API server: the CRD takes the built-in ones as written, the validating
// webhook (registered by startWebhook, scoped to objects carrying this test's label) rejects an expression that
// does not parse with the field's name, and deploy/pipeline-integration is what `connectors pipeline-integration`
// generates.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineIntegrationFiles } from '../../cli/commands/pipeline-integration.ts';
import { builtinResourceInterfaces } from '../../resourceinterfaces/index.ts';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import { cluster, type Cluster } from '@connectors/test-support';

const TEST_LABEL = 'connectors.test/resourceinterfaces';

describe('resourceinterfaces: admission through the real API server', function () {
  this.timeout(120_000);
  const id = randomBytes(4).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), 'ri-admission-'));
  let c: Cluster;
  let wh: RunningWebhook;
  let systemNamespace: string;
  const created: string[] = [];

  /** A built-in interface renamed and labelled for this test, so the scoped webhook sees it. */
  const scoped = (name: string, mutate: (spec: Record<string, any>) => void = () => {}) => {
    const ri = structuredClone(builtinResourceInterfaces(['gitcoderepository'])[0]);
    ri.metadata.name = `${name}-${id}`;
    ri.metadata.labels = { ...ri.metadata.labels, [TEST_LABEL]: id };
    mutate(ri.spec as Record<string, any>);
    return ri;
  };
  const create = async (obj: unknown) => {
    const out = await c.kubectl(['create', '-f', '-'], { input: JSON.stringify(obj) });
    created.push((obj as { metadata: { name: string } }).metadata.name);
    return out;
  };

  before(async () => {
    c = await cluster();
    systemNamespace = await c.createNamespace('ri-sys');
    wh = await startWebhook(c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      register: true,
      stateDir,
      systemNamespace,
      configName: `connectors-webhook-ri-${id}`,
      namespaceRequirements: [{ key: TEST_LABEL, operator: 'In', values: [id] }],
      objectRequirements: [{ key: TEST_LABEL, operator: 'In', values: [id] }],
    });
  });
  after(async () => {
    await wh?.stop();
    for (const name of created) await c.kubectl(['delete', 'resourceinterface', name, '--ignore-not-found']);
    if (systemNamespace) await c.deleteNamespace(systemNamespace);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('stores every built-in ResourceInterface as written (the CRD schema keeps every field)', async () => {
    for (const ri of builtinResourceInterfaces()) {
      const obj = {
        ...ri,
        metadata: {
          ...ri.metadata,
          name: `${ri.metadata.name}-${id}`,
          labels: { ...ri.metadata.labels, [TEST_LABEL]: id },
        },
      };
      await create(obj);
      const stored = JSON.parse(await c.kubectl(['get', 'resourceinterface', obj.metadata.name, '-o', 'json']));
      expect(stored.spec, ri.metadata.name).to.deep.equal(ri.spec);
    }
  });

  const refused: Array<{ what: string; mutate: (spec: Record<string, any>) => void; message: string }> = [
    {
      what: 'an attribute expression that does not parse',
      mutate: (s) => (s.attributes[0].expression = '{connector.spec.address +}'),
      message:
        'spec.attributes[0].expression: the expression opened at column 1 does not parse: Unexpected token at column 26',
    },
    {
      what: 'a workspace expression that does not parse',
      mutate: (s) =>
        (s.workspaces[1].value.csi.volumeAttributes['connector.namespace'] = '{connector.metadata.namespace'),
      message:
        'spec.workspaces[1].value.csi.volumeAttributes["connector.namespace"]: the expression opened at column 1 has no closing "}"',
    },
  ];
  for (const r of refused) {
    it(`rejects ${r.what}, naming the field`, async () => {
      const msg = await create(scoped('bad', r.mutate)).then(
        () => 'created',
        (e: Error) => e.message,
      );
      expect(msg).to.include('admission webhook "resourceinterfaces.connectors.alauda.io" denied the request');
      expect(msg).to.include(`ResourceInterface "bad-${id}" is invalid: ${r.message}`);
    });
  }

  it('rejects an update that breaks an expression, and accepts one that keeps them valid', async () => {
    const ri = scoped('updated');
    await create(ri);
    const good = {
      ...ri,
      spec: { ...ri.spec, params: [...ri.spec!.params!, { name: 'depth', type: 'string', default: '1' }] },
    };
    await c.kubectl(['apply', '-f', '-'], { input: JSON.stringify(good) });
    const bad = structuredClone(good);
    bad.spec.attributes![1].expression = '{params.revision.}';
    const msg = await c.kubectl(['apply', '-f', '-'], { input: JSON.stringify(bad) }).then(
      () => 'applied',
      (e: Error) => e.message,
    );
    expect(msg).to.include('spec.attributes[1].expression: the expression opened at column 1 does not parse');
  });

  it('deploy/pipeline-integration is exactly what `npm run gen:pipeline-integration` generates', async () => {
    const files = await pipelineIntegrationFiles();
    const dir = new URL('../../deploy/pipeline-integration/', import.meta.url);
    for (const [name, text] of Object.entries(files))
      expect(readFileSync(new URL(name, dir), 'utf8'), name).to.equal(text);
  });
});
