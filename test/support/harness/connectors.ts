// Connectors as the controller would leave them, for tests and benchmarks that run without it: created, then
// given the proxy address the controller writes to status.proxy.httpAddress.
import type { Connector } from '../../../core/api/index.ts';
import type { KubeAccess, KubeClient } from '../../../core/kube/client.ts';
import { KindClient } from '../../../core/kube/resources.ts';

export async function createConnectorWithProxyAddress(
  kube: KubeAccess | KubeClient,
  connector: Connector,
  proxyUrl: string,
): Promise<Connector> {
  const connectors = new KindClient(kube, 'Connector');
  const created = await connectors.create(connector);
  created.status = { proxy: { httpAddress: { url: proxyUrl } } };
  return connectors.replaceStatus(created);
}
