// Where a Connector's Connectors API lives, relative to the cluster's entry point: what the controller writes to
// Connector.status.api.path and the API serves. The reference's short form, `/connectors/v1alpha1/{ns}/{name}/path`.
export const API_ROUTE_PREFIX = '/connectors/v1alpha1/';

export function connectorApiPath(namespace: string, name: string): string {
  return `${API_ROUTE_PREFIX}${namespace}/${name}/path`;
}
