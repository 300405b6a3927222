// The bundled Tasks, the README examples and the pipeline integration against real Tekton (controller and
// webhook of github.com/tektoncd/pipeline, pinned in core/peers) on the test control plane, with the Connectors
// webhook registered for this test's namespace. There is no kubelet: Tekton's controller creates the Pods and
// they never run, which is enough to see what the Pods would mount.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinClasses } from '../../connectorclasses/index.ts';
import {
  installClasses,
  type InstalledClasses,
  cluster,
  type Cluster,
  createConnectorWithProxyAddress,
  eventually,
  objects,
} from '@connectors/test-support';
import { builtinResourceInterfaces } from '../../resourceinterfaces/index.ts';
import { bundledTasks } from '../../tasks/index.ts';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import { integrationReadmes, yamlExamples, type Example } from './examples.ts';
import { startTekton, type Tekton } from './tekton.ts';

const TEST_LABEL = 'connectors.test/tekton';
const GIT_ADDRESS = 'https://git.example.com';
const INTEGRATIONS = 'integrations.tekton.dev/integrations';

/** The Connectors the examples name, with the class each belongs to. */
const CONNECTORS: Record<string, string> = {
  'git-connector': 'git',
  harbor: 'oci',
  mirror: 'oci',
  'maven-connector': 'maven',
  'maven-mirror': 'maven',
  'npm-connector': 'npm',
  'pypi-connector': 'pypi',
  'k8s-connector': 'k8s',
};
const examples = integrationReadmes().flatMap(yamlExamples);

describe('tekton: bundled Tasks and pipeline integration on real Tekton', function () {
  this.timeout(600_000);
  const id = randomBytes(4).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), 'tekton-test-'));
  let c: Cluster;
  let tekton: Tekton;
  let wh: RunningWebhook;
  let ns: string;
  let systemNamespace: string;
  let installed: InstalledClasses | undefined;
  const proxyUrl = (name: string) => `http://127.0.0.1:31567/namespaces/${ns}/connectors/${name}`;

  const kubectlJson = async (args: string[], input?: unknown) =>
    c.kubectl(args, { input: input === undefined ? undefined : JSON.stringify(input) });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected the API server to reject the request');
      },
      (e: Error) => e.message,
    );

  before(async () => {
    c = await cluster();
    tekton = await startTekton(c, (l) => process.env.CONNECTORS_TEST_VERBOSE && process.stderr.write(l + '\n'));
    ns = await c.createNamespace('tekton');
    systemNamespace = await c.createNamespace('tekton-sys');
    await c.kubectl(['label', 'namespace', ns, `${TEST_LABEL}=${id}`]);

    // The built-in classes the examples' Connectors belong to, with their ResourceInterface labels (restored to
    // what was there before afterwards).
    const names = [...new Set(Object.values(CONNECTORS))];
    const builtin = builtinClasses({ systemNamespace, names });
    const missing = names.filter((n) => !builtin.some((b) => b.metadata.name === n));
    if (missing.length)
      throw new Error(`the examples use ConnectorClasses ${missing.join(', ')}, which are not built in`);
    installed = await installClasses(c, 'tekton-test', builtin);
    await kubectlJson(['apply', '--server-side', '--field-manager=tekton-test', '-f', '-'], {
      apiVersion: 'v1',
      kind: 'List',
      items: builtinResourceInterfaces(),
    });
    // Connectors with the proxy address the controller would give them.
    for (const [name, className] of Object.entries(CONNECTORS)) {
      const address = className === 'git' ? GIT_ADDRESS : `https://${name}.example.com`;
      await createConnectorWithProxyAddress(
        c.kubeConfig,
        objects.connector(name, { namespace: ns, className, address }),
        proxyUrl(name),
      );
    }
    wh = await startWebhook(c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      register: true,
      stateDir,
      systemNamespace,
      configName: `connectors-webhook-${id}`,
      namespaceRequirements: [{ key: TEST_LABEL, operator: 'In', values: [id] }],
      objectRequirements: [{ key: TEST_LABEL, operator: 'In', values: [id] }],
    });
  });

  after(async () => {
    await wh?.stop();
    await tekton?.stop();
    await installed?.restore();
    if (ns) await c.deleteNamespace(ns);
    if (systemNamespace) await c.deleteNamespace(systemNamespace);
    rmSync(stateDir, { recursive: true, force: true });
  });

  describe("Tekton's validation webhook", () => {
    for (const t of bundledTasks()) {
      it(`accepts the bundled Task ${t.name} ${t.version}`, async () => {
        const out = await kubectlJson(['create', '-n', ns, '-f', '-'], t.task);
        expect(out).to.include(`task.tekton.dev/${t.name} created`);
      });
    }

    const byKind = (e: Example) => (e.kind === 'Task' ? 0 : e.kind === 'Pipeline' ? 1 : 2);
    for (const e of [...examples].sort((a, b) => byKind(a) - byKind(b))) {
      it(`accepts the ${e.kind} ${e.name} of ${e.where}`, async () => {
        // Pipelines and Tasks are created (the runs refer to them); runs are only admitted (server dry-run), so
        // the controller does not start them. Both go through Tekton's webhooks and ours.
        const run = e.kind.endsWith('Run');
        const args = run
          ? ['create', '--dry-run=server', '-n', ns, '-o', 'json', '-f', '-']
          : ['apply', '-n', ns, '-f', '-'];
        const out = await kubectlJson(args, e.doc);
        if (run) {
          const stored = JSON.parse(out);
          // Whatever integrations it has were expanded: every workspace its Pipeline declares is bound.
          if (
            e.doc.metadata &&
            (e.doc.metadata as { annotations?: Record<string, string> }).annotations?.[INTEGRATIONS]
          ) {
            expect(stored.spec.workspaces ?? [], 'workspaces bound by the integration').to.not.have.lengthOf(0);
            expect(stored.spec.params ?? [], 'params set by the integration').to.not.have.lengthOf(0);
          }
        }
      });
    }

    const broken: Array<{ what: string; doc: unknown; message: RegExp }> = [
      {
        what: 'a Task step with both script and command',
        doc: {
          apiVersion: 'tekton.dev/v1',
          kind: 'Task',
          metadata: { name: 'broken-script-command' },
          spec: { steps: [{ name: 'a', image: 'alpine', command: ['sh'], script: 'echo' }] },
        },
        message: /script cannot be used with command: spec\.steps\[0\]\.script/,
      },
      {
        what: 'a Task whose env uses an undeclared param',
        doc: {
          apiVersion: 'tekton.dev/v1',
          kind: 'Task',
          metadata: { name: 'broken-param' },
          spec: {
            steps: [{ name: 'a', image: 'alpine', env: [{ name: 'X', value: '$(params.nope)' }], script: 'echo' }],
          },
        },
        message: /non-existent variable.*params\.nope/s,
      },
      {
        what: 'a Pipeline whose task maps a workspace the Pipeline does not declare',
        doc: {
          apiVersion: 'tekton.dev/v1',
          kind: 'Pipeline',
          metadata: { name: 'broken-workspace' },
          spec: {
            tasks: [
              { name: 'clone', taskRef: { name: 'git-clone' }, workspaces: [{ name: 'output', workspace: 'nope' }] },
            ],
          },
        },
        message: /pipeline workspace not found "nope"|workspace.*nope/,
      },
    ];
    for (const b of broken) {
      it(`rejects ${b.what}`, async () => {
        const msg = await failure(kubectlJson(['create', '--dry-run=server', '-n', ns, '-f', '-'], b.doc));
        expect(msg).to.include('admission webhook "validation.webhook.pipeline.tekton.dev" denied the request');
        expect(msg).to.match(b.message);
      });
    }
  });

  describe('pipeline integration', () => {
    const gitClonePipeline = () =>
      examples.find((e) => e.where.startsWith('tasks/git-clone/') && e.kind === 'Pipeline')!.doc;
    const gitClonePipelineRun = () =>
      examples.find((e) => e.where.startsWith('tasks/git-clone/') && e.kind === 'PipelineRun')!.doc;

    const podsOf = async (selector: string) =>
      eventually(
        `Pods with ${selector}`,
        async () => {
          const list = JSON.parse(await c.kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json']));
          return list.items.length ? list.items : undefined;
        },
        90_000,
        500,
      );

    it("a PipelineRun naming a git Connector and a repository yields TaskRuns whose Pods mount the Connector's gitconfig and get the clone URL", async () => {
      await kubectlJson(['apply', '-n', ns, '-f', '-'], gitClonePipeline());
      const created = JSON.parse(
        await kubectlJson(['create', '-n', ns, '-o', 'json', '-f', '-'], gitClonePipelineRun()),
      );
      const name = created.metadata.name;
      // The stored PipelineRun: params and workspaces from the gitcoderepository ResourceInterface.
      expect(created.spec.params).to.deep.include.members([
        { name: 'git-url', value: `${GIT_ADDRESS}/my-org/my-app.git` },
        { name: 'git-revision', value: 'refs/heads/main' },
      ]);
      const auth = created.spec.workspaces.find((w: { name: string }) => w.name === 'git-basic-auth');
      expect(auth.csi).to.deep.equal({
        driver: 'connectors-csi',
        readOnly: true,
        volumeAttributes: {
          'connector.name': 'git-connector',
          'connector.namespace': ns,
          'configuration.names': 'gitconfig',
          'token.expiration': '30m',
        },
      });
      expect(
        created.spec.workspaces.find((w: { name: string }) => w.name === 'git-source').volumeClaimTemplate.spec,
      ).to.deep.include({ accessModes: ['ReadWriteMany'] });

      // Tekton's controller runs the Pipeline: a TaskRun for the clone, and its Pod.
      const [pod] = await podsOf(`tekton.dev/pipelineRun=${name},tekton.dev/pipelineTask=clone`);
      const csi = pod.spec.volumes.filter((v: { csi?: { driver: string } }) => v.csi?.driver === 'connectors-csi');
      expect(csi, 'the Pod has one connectors-csi volume').to.have.length(1);
      expect(csi[0].csi.volumeAttributes).to.deep.equal(auth.csi.volumeAttributes);
      expect(csi[0].csi.readOnly).to.equal(true);
      const step = pod.spec.containers.find((x: { name: string }) => x.name === 'step-clone');
      const env = Object.fromEntries(step.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
      expect(env.PARAM_URL).to.equal(`${GIT_ADDRESS}/my-org/my-app.git`);
      expect(env.PARAM_REVISION).to.equal('refs/heads/main');
      const mount = step.volumeMounts.find((m: { name: string }) => m.name === csi[0].name);
      expect(mount, 'the step mounts the CSI volume').to.not.equal(undefined);
      expect(env.WORKSPACE_BASIC_AUTH_PATH).to.equal(mount.mountPath);
      expect(env.WORKSPACE_BASIC_AUTH_BOUND).to.equal('true');

      // The TaskRun carries the PipelineRun's annotation (Tekton copies it) and is not expanded again: it binds
      // exactly the Task's workspaces.
      const tr = JSON.parse(
        await c.kubectl(['get', 'taskrun', '-n', ns, '-l', `tekton.dev/pipelineRun=${name}`, '-o', 'json']),
      ).items[0];
      expect(tr.metadata.annotations[INTEGRATIONS]).to.be.a('string');
      expect(tr.spec.workspaces.map((w: { name: string }) => w.name).sort()).to.deep.equal(['basic-auth', 'output']);
      expect(tr.spec.params.map((p: { name: string }) => p.name).sort()).to.deep.equal(['revision', 'url']);
    });

    it('a TaskRun with the integration annotation binds the mapped workspace and param of its Task', async () => {
      const created = JSON.parse(
        await kubectlJson(['create', '-n', ns, '-o', 'json', '-f', '-'], {
          apiVersion: 'tekton.dev/v1',
          kind: 'TaskRun',
          metadata: {
            generateName: 'clone-',
            annotations: {
              [INTEGRATIONS]: JSON.stringify([
                {
                  name: 'src',
                  interface: { name: 'gitcoderepository' },
                  connectorRef: { name: 'git-connector' },
                  params: [
                    { name: 'repository', value: 'team/lib.git' },
                    { name: 'revision', value: 'v1.2.3' },
                  ],
                  attributes: [
                    { name: 'url', param: 'url' },
                    { name: 'revision', param: 'revision' },
                  ],
                  workspaces: [{ name: 'git-basic-auth', workspace: 'basic-auth' }],
                },
              ]),
            },
          },
          spec: { taskRef: { name: 'git-clone' }, workspaces: [{ name: 'output', emptyDir: {} }] },
        }),
      );
      const [pod] = await podsOf(`tekton.dev/taskRun=${created.metadata.name}`);
      const csi = pod.spec.volumes.find((v: { csi?: { driver: string } }) => v.csi?.driver === 'connectors-csi');
      expect(csi.csi.volumeAttributes['connector.name']).to.equal('git-connector');
      const step = pod.spec.containers.find((x: { name: string }) => x.name === 'step-clone');
      const env = Object.fromEntries(step.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
      expect(env.PARAM_URL).to.equal(`${GIT_ADDRESS}/team/lib.git`);
      expect(env.PARAM_REVISION).to.equal('v1.2.3');
    });

    it('the connectors.cpaas.io/workspace.<ws> TaskRun annotation still binds the CSI workspace', async () => {
      const created = JSON.parse(
        await kubectlJson(['create', '-n', ns, '-o', 'json', '-f', '-'], {
          apiVersion: 'tekton.dev/v1',
          kind: 'TaskRun',
          metadata: {
            generateName: 'clone-ws-',
            annotations: {
              'connectors.cpaas.io/workspace.basic-auth': 'connector=git-connector; configuration.names=gitconfig',
            },
          },
          spec: {
            taskRef: { name: 'git-clone' },
            params: [{ name: 'url', value: `${GIT_ADDRESS}/team/lib.git` }],
            workspaces: [{ name: 'output', emptyDir: {} }],
          },
        }),
      );
      const [pod] = await podsOf(`tekton.dev/taskRun=${created.metadata.name}`);
      const csi = pod.spec.volumes.find((v: { csi?: { driver: string } }) => v.csi?.driver === 'connectors-csi');
      expect(csi.csi.volumeAttributes).to.deep.equal({
        connectors: `${ns}/git-connector`,
        'configuration.names': 'gitconfig',
      });
    });

    const refusals: Array<{ what: string; integration: unknown; message: string }> = [
      {
        what: 'a Connector that does not exist',
        integration: {
          name: 's',
          interface: { category: 'GitCodeRepository' },
          connectorRef: { name: 'nope' },
          params: [{ name: 'repository', value: 'a/b.git' }],
        },
        message: `metadata.annotations["${INTEGRATIONS}"][0]: Connector "NS/nope" not found`,
      },
      {
        what: 'a missing required param',
        integration: {
          name: 's',
          interface: { category: 'GitCodeRepository' },
          connectorRef: { name: 'git-connector' },
        },
        message: `metadata.annotations["${INTEGRATIONS}"][0].params: param "repository" of ResourceInterface "gitcoderepository" is required`,
      },
      {
        what: "a category the Connector's class does not serve",
        integration: {
          name: 's',
          interface: { category: 'OCIArtifact' },
          connectorRef: { name: 'git-connector' },
          params: [{ name: 'repository', value: 'a/b' }],
        },
        message: `metadata.annotations["${INTEGRATIONS}"][0].interface.category: no ResourceInterface of category "OCIArtifact" fits ConnectorClass "git"`,
      },
    ];
    for (const r of refusals) {
      it(`refuses a PipelineRun whose integration names ${r.what}, naming the field`, async () => {
        const msg = await failure(
          kubectlJson(['create', '--dry-run=server', '-n', ns, '-f', '-'], {
            apiVersion: 'tekton.dev/v1',
            kind: 'PipelineRun',
            metadata: { generateName: 'refused-', annotations: { [INTEGRATIONS]: JSON.stringify([r.integration]) } },
            spec: { pipelineRef: { name: 'git-clone-example' } },
          }),
        );
        expect(msg).to.include(`admission webhook "pipelineruns.connectors.cpaas.io" denied the request`);
        expect(msg).to.include(r.message.replace('NS', ns));
      });
    }
  });
});
