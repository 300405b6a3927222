// The public API types of connectors.alauda.io/v1alpha1.
export * from './common.ts';
export * from './kinds.ts';
export { allCrds, crdFor } from './crds.ts';
export * from './keys.ts';
export type { ConnectorSpec, ConnectorStatus } from './connector.ts';
export type {
  ConnectorClassSpec,
  ConnectorClassStatus,
  AuthType,
  AuthProbe,
  HTTPProbe,
  Probe,
  Configuration,
} from './connectorclass.ts';
export type {
  AccessPolicySpec,
  AccessRequestSpec,
  AccessPolicyStatus,
  AccessRequestStatus,
  CheckSpec,
  Check,
  BindingTemplate,
} from './approval.ts';
export type { ResourceInterfaceSpec } from './resourceinterface.ts';
export { headerList } from './connectorclass.ts';
