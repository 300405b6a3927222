// The names of our five kinds (kind, plural, singular, scope, short names), apart from their schemas
// (kinds.ts), so that REST paths (core/kube/resources.ts) need no schema library at run time.
export const KIND_NAMES = {
  Connector: {
    kind: 'Connector',
    plural: 'connectors',
    singular: 'connector',
    scope: 'Namespaced',
    shortNames: ['ctr'],
  },
  ConnectorClass: {
    kind: 'ConnectorClass',
    plural: 'connectorclasses',
    singular: 'connectorclass',
    scope: 'Cluster',
    shortNames: ['ctrclass'],
  },
  AccessPolicy: { kind: 'AccessPolicy', plural: 'accesspolicies', singular: 'accesspolicy', scope: 'Namespaced' },
  AccessRequest: { kind: 'AccessRequest', plural: 'accessrequests', singular: 'accessrequest', scope: 'Namespaced' },
  ResourceInterface: {
    kind: 'ResourceInterface',
    plural: 'resourceinterfaces',
    singular: 'resourceinterface',
    scope: 'Cluster',
  },
} as const satisfies Record<string, KindNames>;

export interface KindNames {
  kind: string;
  plural: string;
  singular: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames?: readonly string[];
}
