// The shapes of the Kubernetes objects the components read and write, as the API server's JSON gives them
// (timestamps are strings). Only the fields the code uses are declared; our own kinds are core/api's.
import type { ObjectMeta } from '../api/index.ts';

export type { ObjectMeta };

export type OwnerReference = NonNullable<ObjectMeta['ownerReferences']>[number];

/**
 * The metadata fields informers, the REST client and the predicates read. Deliberately without timestamps,
 * so that objects typed by other libraries (whose timestamps are Dates) are KubeObjects too.
 */
export interface MetaLike {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
  managedFields?: unknown;
}

/** Any object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: MetaLike;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: ListMeta;
  items: T[];
}

/** metav1.Status, the body of an API error (and of a watch ERROR event). */
export interface Status {
  kind?: 'Status';
  status?: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T = KubeObject> {
  type: WatchEventType;
  object: T;
}

export interface Secret extends KubeObject {
  metadata: ObjectMeta;
  type?: string;
  /** base64 values, as the API gives them. */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** What code reading a Secret needs of it; Secrets typed by other libraries are SecretLike too. */
export interface SecretLike {
  metadata?: MetaLike;
  type?: string;
  data?: { [key: string]: string };
}

export interface ConfigMap extends KubeObject {
  metadata: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface Namespace extends KubeObject {
  metadata: ObjectMeta;
}

export interface Service extends KubeObject {
  metadata: ObjectMeta;
  spec?: {
    type?: string;
    externalName?: string;
    ports?: unknown[];
    selector?: Record<string, string>;
    clusterIP?: string;
  };
}

export interface Pod extends KubeObject {
  metadata: ObjectMeta;
  spec?: { serviceAccountName?: string; nodeName?: string; containers?: unknown[] };
  status?: { phase?: string };
}

export interface ServiceAccount extends KubeObject {
  metadata: ObjectMeta;
}

export interface TokenRequest extends KubeObject {
  spec: {
    audiences?: string[];
    expirationSeconds?: number;
    boundObjectRef?: { apiVersion?: string; kind?: string; name?: string; uid?: string };
  };
  status?: { token?: string; expirationTimestamp?: string };
}

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  metadata: ObjectMeta;
  spec: LeaseSpec;
}

export interface Event extends KubeObject {
  metadata: ObjectMeta;
  involvedObject: {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  type: string;
  reason: string;
  message: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

export interface Role extends KubeObject {
  metadata: ObjectMeta;
  rules?: unknown[];
}

export interface RoleBinding extends KubeObject {
  metadata: ObjectMeta;
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: unknown[];
}

/** Any object of a resource we only pass through (webhook configurations, CRDs, RBAC, ...). */
export interface AnyObject extends KubeObject {
  [field: string]: unknown;
}
