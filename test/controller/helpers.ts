// Shared helpers of the controller tests: waiting for conditions, applying objects, a started controller.
import { kubeRest, KubeApiError, type KubeRest } from '../../core/kube/rest.ts';
import type { Connector, ConnectorClass, Condition } from '../../core/api/index.ts';
import { type Cluster, eventually, objects } from '@connectors/test-support';

export async function restFor(c: Cluster): Promise<KubeRest> {
  return kubeRest(c.kubeConfig);
}

export const connectorPath = (ns: string, name: string) =>
  `/apis/connectors.alauda.io/v1alpha1/namespaces/${ns}/connectors/${name}`;
export const classPath = (name: string) => `/apis/connectors.alauda.io/v1alpha1/connectorclasses/${name}`;

export async function getConnector(rest: KubeRest, ns: string, name: string): Promise<Connector> {
  return rest.call<Connector>('GET', connectorPath(ns, name));
}

export function cond(obj: { status?: { conditions?: Condition[] } }, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the Connector's condition `type` matches. */
export async function waitConnectorCondition(
  rest: KubeRest,
  ns: string,
  name: string,
  type: string,
  match: Partial<Condition>,
  timeoutMs = 30_000,
): Promise<Connector> {
  let last: Connector | undefined;
  try {
    return await eventually(
      `${ns}/${name} ${type}=${JSON.stringify(match)}`,
      async () => {
        last = await getConnector(rest, ns, name);
        const c = cond(last, type);
        return c && Object.entries(match).every(([k, v]) => (c as Record<string, unknown>)[k] === v) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\nlast conditions: ${JSON.stringify(last?.status?.conditions, null, 1)}`,
      {
        cause: err,
      },
    );
  }
}

export async function waitClassCondition(
  rest: KubeRest,
  name: string,
  type: string,
  match: Partial<Condition>,
  timeoutMs = 30_000,
): Promise<ConnectorClass> {
  let last: ConnectorClass | undefined;
  try {
    return await eventually(
      `class ${name} ${type}=${JSON.stringify(match)}`,
      async () => {
        last = await rest.call<ConnectorClass>('GET', classPath(name));
        const c = cond(last, type);
        return c && Object.entries(match).every(([k, v]) => (c as Record<string, unknown>)[k] === v) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\nlast conditions: ${JSON.stringify(last?.status?.conditions, null, 1)}`,
      {
        cause: err,
      },
    );
  }
}

/** Create, or replace keeping the resourceVersion. */
export async function upsert(
  rest: KubeRest,
  collection: string,
  obj: { metadata: { name?: string; resourceVersion?: string } },
): Promise<unknown> {
  try {
    return await rest.call('POST', collection, { body: obj });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
    const cur = await rest.call<{ metadata: { resourceVersion?: string } }>(
      'GET',
      `${collection}/${obj.metadata.name}`,
    );
    return rest.call('PUT', `${collection}/${obj.metadata.name}`, {
      body: { ...obj, metadata: { ...obj.metadata, resourceVersion: cur.metadata.resourceVersion } },
    });
  }
}

export async function ensureNamespace(rest: KubeRest, name: string): Promise<void> {
  try {
    await rest.call('POST', '/api/v1/namespaces', { body: objects.namespace(name) });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
  }
}

export async function createProxyService(rest: KubeRest, ns: string, name = 'connectors-proxy-service'): Promise<void> {
  await upsert(rest, `/api/v1/namespaces/${ns}/services`, {
    metadata: { name },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: 'connectors-proxy' } },
  } as never);
}
