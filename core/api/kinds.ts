// The five kinds of connectors.alauda.io/v1alpha1: names, scope, printer columns and schemas. The CRDs
// in deploy/crds are generated from this table (crds.ts), and the TypeScript object types below come from
// the same schemas, so the two cannot drift.
import type { TSchema, Static } from './schema.ts';
import { GROUP, VERSION } from './keys.ts';
import { KIND_NAMES, type KindNames } from './names.ts';
import { ConnectorSpec, ConnectorStatus } from './connector.ts';
import { ConnectorClassSpec, ConnectorClassStatus } from './connectorclass.ts';
import { AccessPolicySpec, AccessPolicyStatus, AccessRequestSpec, AccessRequestStatus } from './approval.ts';
import { ResourceInterfaceSpec } from './resourceinterface.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'date' | 'integer' | 'boolean' | 'number';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindInfo extends KindNames {
  description: string;
  spec: TSchema;
  specRequired: boolean;
  status?: TSchema;
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const readyColumns: PrinterColumn[] = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
];

export const KINDS = {
  Connector: {
    ...KIND_NAMES.Connector,
    description:
      'An integrated instance of a tool: its address, the Secret with its credentials and the ' +
      'ConnectorClass that says how to reach and check it. Workloads use it through the Connectors proxy ' +
      'without seeing the credentials.',
    spec: ConnectorSpec,
    specRequired: true,
    status: ConnectorStatus,
    printerColumns: [
      { name: 'Class', type: 'string', jsonPath: '.spec.connectorClassName' },
      { name: 'Address', type: 'string', jsonPath: '.spec.address' },
      ...readyColumns,
      age,
    ],
  },
  ConnectorClass: {
    ...KIND_NAMES.ConnectorClass,
    description:
      'Defines a kind of tool: address format, authentication types, liveness and auth probes, proxy, API and client configuration templates.',
    spec: ConnectorClassSpec,
    specRequired: false,
    status: ConnectorClassStatus,
    printerColumns: [...readyColumns, age],
  },
  AccessPolicy: {
    ...KIND_NAMES.AccessPolicy,
    description:
      'Who may use the Connectors of this namespace through the Connectors proxy: at once (defaultPermission) or after checks pass (checkGrantedPermission).',
    spec: AccessPolicySpec,
    specRequired: true,
    status: AccessPolicyStatus,
    printerColumns: [age],
  },
  AccessRequest: {
    ...KIND_NAMES.AccessRequest,
    description:
      "One workload's request to use a Connector through the proxy, with the policies it matched, their checks and the temporary permission granted.",
    spec: AccessRequestSpec,
    specRequired: true,
    status: AccessRequestStatus,
    printerColumns: [
      { name: 'Connector', type: 'string', jsonPath: '.spec.connectorRef.name' },
      { name: 'Subject', type: 'string', jsonPath: '.spec.subject.name' },
      { name: 'ContextValid', type: 'string', jsonPath: '.status.conditions[?(@.type=="ContextObjectValid")].status' },
      { name: 'Permission', type: 'string', jsonPath: '.status.conditions[?(@.type=="AccessPermissionSync")].reason' },
      age,
    ],
  },
  ResourceInterface: {
    ...KIND_NAMES.ResourceInterface,
    description:
      'A standard resource abstraction (GitCodeRepository, OCIArtifact, ...) mapping a Connector and parameters to pipeline attributes and workspaces.',
    spec: ResourceInterfaceSpec,
    specRequired: false,
    printerColumns: [age],
  },
} satisfies Record<string, KindInfo>;

export type KindName = keyof typeof KINDS;

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
  finalizers?: string[];
}

type Info<N extends KindName> = (typeof KINDS)[N];
type StatusOf<N extends KindName> =
  Info<N> extends { status: infer S extends TSchema } ? { status?: Static<S> } : object;

/**
 * An object of kind N, typed from its entry in KINDS (which also gives its CRD schema): `spec` is optional
 * where the schema does not require it (the reference shows ConnectorClasses with metadata only).
 */
export type KindObject<N extends KindName> = {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: N;
  metadata: ObjectMeta;
} & (Info<N>['specRequired'] extends true ? { spec: Static<Info<N>['spec']> } : { spec?: Static<Info<N>['spec']> }) &
  StatusOf<N>;

export type Connector = KindObject<'Connector'>;
export type ConnectorClass = KindObject<'ConnectorClass'>;
export type AccessPolicy = KindObject<'AccessPolicy'>;
export type AccessRequest = KindObject<'AccessRequest'>;
export type ResourceInterface = KindObject<'ResourceInterface'>;
