// Shared set-up of the approval tests against the real apiserver (with kube-controller-manager: default
// ServiceAccounts, garbage collection): a private system namespace with the feature flags and the built-in
// templates, the ApprovalTask stand-in CRD, the connectors controller, and helpers to make Connectors, Pods,
// policies and ApprovalTasks and to wait for what the controllers do.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { cluster, type Cluster, eventually, objects } from '@connectors/test-support';
import { kubeRest, type KubeRest } from '../../core/kube/rest.ts';
import { KindClient } from '../../core/kube/resources.ts';
import {
  FEATURE_FLAGS_CONFIGMAP,
  type AccessPolicy,
  type AccessRequest,
  type Condition,
} from '../../core/api/index.ts';
import { builtinTemplates } from '../../core/approval/templates.ts';
import { startController, type RunningController, type StartControllerOptions } from '../../controller/index.ts';
import { setLogSink } from '../../core/observability/log.ts';

export const APPROVAL_ON = {
  'enable-connectors-approval': 'true',
  'enable-connector-proxy-permissions': 'true',
};

const CRD = fileURLToPath(new URL('../fixtures/approval/approvaltask-crd.yaml', import.meta.url));

export interface ApprovalEnv {
  c: Cluster;
  rest: KubeRest;
  systemNs: string;
  controller: RunningController;
  /**
   * Stops the controller and starts a new one (a restart; `between` runs meanwhile) with the same options,
   * `options` overriding them.
   */
  restartController(between?: () => Promise<void>, options?: StartControllerOptions): Promise<void>;
  /** Log lines of the components started in this process (JSON). */
  logs: string[];
  policies: KindClient<'AccessPolicy'>;
  requests: KindClient<'AccessRequest'>;
  setFlags(flags: Record<string, string>): Promise<void>;
  apply(namespace: string, objects: unknown[]): Promise<void>;
  createPod(
    namespace: string,
    name: string,
    o?: { serviceAccount?: string; labels?: Record<string, string> },
  ): Promise<{ name: string; namespace: string; uid: string; serviceAccount: string }>;
  /** Marks a Pod (never run: the cluster has no kubelet) finished, through its status. */
  completePod(namespace: string, name: string, phase?: 'Succeeded' | 'Failed'): Promise<void>;
  approvalTask(namespace: string, name: string, pipelineRun: string, state?: string): Promise<void>;
  setTaskState(namespace: string, name: string, state: string, message?: string): Promise<void>;
  condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined;
  waitForRequest(
    namespace: string,
    name: string,
    what: string,
    ok: (ar: AccessRequest) => boolean,
    timeoutMs?: number,
  ): Promise<AccessRequest>;
  waitForPolicy(
    namespace: string,
    name: string,
    what: string,
    ok: (ap: AccessPolicy) => boolean,
  ): Promise<AccessPolicy>;
  role(namespace: string, name: string): Promise<any>;
  roleBinding(namespace: string, name: string): Promise<any>;
  stop(): Promise<void>;
}

export async function setupApproval(
  prefix: string,
  flags: Record<string, string> = APPROVAL_ON,
  controllerOptions: StartControllerOptions = {},
): Promise<ApprovalEnv> {
  const c = await cluster();
  const logs: string[] = [];
  const restoreLogs = setLogSink((line) => logs.push(line));
  const rest = await kubeRest(c.kubeConfig);
  const systemNs = await c.createNamespace(`${prefix}-sys`);
  await c.kubectl(['apply', '--server-side', '--field-manager=approval-test', '-f', '-'], {
    input: await readFile(CRD, 'utf8'),
  });
  await c.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/approvaltasks.openshift-pipelines.org',
    '--timeout=60s',
  ]);
  const apply = async (namespace: string, objects: unknown[]) => {
    await c.kubectl(['apply', '-n', namespace, '-f', '-'], {
      input: objects.map((o) => stringify(o)).join('---\n'),
    });
  };
  const setFlags = (f: Record<string, string>) =>
    apply(systemNs, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: FEATURE_FLAGS_CONFIGMAP }, data: f }]);
  await setFlags(flags);
  await apply(systemNs, builtinTemplates(systemNs));
  const startOne = async (overrides: StartControllerOptions = {}) => {
    const started = await startController(c.kubeConfig, {
      systemNamespace: systemNs,
      leaderElect: false,
      probePeriodMs: 10 * 60_000,
      ...controllerOptions,
      ...overrides,
    });
    await started.synced;
    return started;
  };
  const controller = await startOne();
  const policies = new KindClient(c.kubeConfig, 'AccessPolicy');
  const requests = new KindClient(c.kubeConfig, 'AccessRequest');
  const condition = (obj: { status?: { conditions?: Condition[] } } | undefined, type: string) =>
    obj?.status?.conditions?.find((x) => x.type === type);
  const get = (path: string) => rest.getIfExists<any>(path);
  const setTaskState = async (namespace: string, name: string, state: string, message?: string) => {
    await rest.call(
      'PATCH',
      `/apis/openshift-pipelines.org/v1alpha1/namespaces/${namespace}/approvaltasks/${name}/status`,
      {
        body: { status: { state, ...(message ? { message } : {}) } },
        contentType: 'application/merge-patch+json',
      },
    );
  };
  const env: ApprovalEnv = {
    c,
    rest,
    systemNs,
    controller,
    async restartController(between, options) {
      await env.controller.stop();
      await between?.();
      env.controller = await startOne(options);
    },
    logs,
    policies,
    requests,
    setFlags,
    apply,
    async createPod(namespace, name, o = {}) {
      const sa = o.serviceAccount ?? 'default';
      if (sa !== 'default') await c.waitForServiceAccount(namespace, sa);
      const pod = await c.core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, labels: o.labels },
          spec: {
            serviceAccountName: sa,
            containers: [{ name: 'c', image: 'registry.invalid/none:1' }],
          },
        },
      });
      return { name, namespace, uid: pod.metadata!.uid!, serviceAccount: sa };
    },
    async completePod(namespace, name, phase = 'Succeeded') {
      await rest.call('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`, {
        body: { status: { phase } },
        contentType: 'application/merge-patch+json',
      });
    },
    async approvalTask(namespace, name, pipelineRun, state) {
      await apply(namespace, [
        {
          apiVersion: 'openshift-pipelines.org/v1alpha1',
          kind: 'ApprovalTask',
          metadata: { name, labels: { 'tekton.dev/pipelineRun': pipelineRun } },
          spec: { approvers: [{ name: 'alice', type: 'User' }], numberOfApprovalsRequired: 1 },
        },
      ]);
      if (state) await setTaskState(namespace, name, state);
    },
    setTaskState,
    condition,
    waitForRequest: (namespace, name, what, ok, timeoutMs = 30_000) =>
      eventually(
        `AccessRequest ${namespace}/${name}: ${what}`,
        async () => {
          const ar = await requests.get(name, namespace);
          if (ok(ar)) return ar;
          // Reported on timeout: where the request stood.
          throw new Error(
            `last seen ${JSON.stringify(conditionSummary(ar))}, policies ${JSON.stringify(ar.status?.policies?.map((p) => p.name) ?? [])}`,
          );
        },
        timeoutMs,
      ),
    waitForPolicy: (namespace, name, what, ok) =>
      eventually(`AccessPolicy ${namespace}/${name}: ${what}`, async () => {
        const ap = await policies.get(name, namespace);
        return ok(ap) ? ap : undefined;
      }),
    role: (namespace, name) => get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles/${name}`),
    roleBinding: (namespace, name) =>
      get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings/${name}`),
    async stop() {
      await env.controller.stop();
      await rest.close();
      restoreLogs();
      await c.deleteNamespace(systemNs);
    },
  };
  return env;
}

/** `{type: status/reason}` of the conditions, for compact assertions. */
export function conditionSummary(obj: { status?: { conditions?: Condition[] } }): Record<string, string> {
  return Object.fromEntries((obj.status?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason ?? ''}`]));
}

export const connector = (name: string, className = 'git', labels?: Record<string, string>) =>
  objects.connector(name, { className, address: `https://${name}.example.com`, labels });

export const accessPolicy = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'AccessPolicy',
  metadata: { name },
  spec,
});

/** checkGrantedPermission with the built-in pipeline approval check and pod-bound role. */
export const pipelineApproval = (connector: Record<string, unknown>) => ({
  connector,
  checkGrantedPermission: {
    spec: {
      checks: [{ name: 'manual-approval', ref: { configMap: { name: 'connectors-approvals-in-pipeline' } } }],
      roleTemplate: { ref: { configMap: { name: 'connectors-use-connectors-proxy-in-pod' } } },
    },
  },
});

/** After a failed test, the last log lines of the components (kept in memory otherwise). */
export function dumpLogsOnFailure(test: Mocha.Context, env: ApprovalEnv | undefined): void {
  if (test.currentTest?.state === 'failed' && env)
    process.stderr.write(`--- last component log lines ---\n${env.logs.slice(-40).join('\n')}\n`);
}
