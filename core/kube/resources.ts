// Typed resource types and their REST paths, so no component spells a group, version, plural or `/status`.
// Our five kinds come from core/api's KIND_NAMES (the names of the table the CRDs are generated from); the
// built-in kinds the components use are listed here once.
//
//   resourcePath(resources.Connector, { namespace: 'ns', name: 'c', subresource: 'status' })
//     → /apis/connectors.alauda.io/v1alpha1/namespaces/ns/connectors/c/status
import type {
  KindName,
  Connector,
  ConnectorClass,
  AccessPolicy,
  AccessRequest,
  ResourceInterface,
} from '../api/index.ts';
import { GROUP, VERSION } from '../api/keys.ts';
import { KIND_NAMES } from '../api/names.ts';
import type {
  AnyObject,
  ConfigMap,
  Event,
  KubeObject,
  Lease,
  Namespace,
  Pod,
  Role,
  RoleBinding,
  Secret,
  Service,
  ServiceAccount,
} from './types.ts';

/** A resource of the API: where its objects live and (as a phantom type) what they look like. */
export interface ResourceType<T extends KubeObject = KubeObject> {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** The REST name, e.g. `connectors`. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Never set: carries T so that resourceType<Secret>(...) and a client call agree on the object type. */
  readonly __object?: T;
}

/** The type of the objects of a resource type. */
export type ObjectOf<R> = R extends ResourceType<infer T> ? T : never;

export function resourceType<T extends KubeObject>(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
): ResourceType<T> {
  return { group, version, kind, plural, namespaced };
}

/** `v1` or `group/version`. */
export function apiVersionOf(r: ResourceType<KubeObject>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The discovery document of an API group version (`v1` or `group/version`): its resources and kinds. */
export function discoveryPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** A resource type from an apiVersion and what discovery says of the kind. */
export function discoveredType(
  apiVersion: string,
  r: { kind: string; name: string; namespaced: boolean },
): ResourceType<KubeObject> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return resourceType(group, version, r.kind, r.name, r.namespaced);
}

export interface PathOptions {
  /** Omitted for a namespaced resource: every namespace (collections only). */
  namespace?: string;
  name?: string;
  /** `status`, `token`, ... (needs a name). */
  subresource?: string;
}

/**
 * The REST path of a collection (no name) or of one object, with names escaped. A namespaced resource
 * without a namespace is the all-namespaces collection; a cluster-scoped one ignores `namespace`.
 */
export function resourcePath(r: ResourceType<KubeObject>, o: PathOptions = {}): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && o.namespace ? `/namespaces/${encodeURIComponent(o.namespace)}` : '';
  if (r.namespaced && !o.namespace && o.name)
    throw new Error(`${r.kind} ${JSON.stringify(o.name)}: a namespace is needed to name a namespaced object`);
  let path = `${base}${ns}/${r.plural}`;
  if (o.name !== undefined) {
    if (!o.name) throw new Error(`${r.kind}: an empty name`);
    path += `/${encodeURIComponent(o.name)}`;
    if (o.subresource) path += `/${o.subresource}`;
  } else if (o.subresource) throw new Error(`${r.kind}: subresource ${o.subresource} needs a name`);
  return path;
}

export interface KindObjects {
  Connector: Connector;
  ConnectorClass: ConnectorClass;
  AccessPolicy: AccessPolicy;
  AccessRequest: AccessRequest;
  ResourceInterface: ResourceInterface;
}

function ours<K extends KindName>(kind: K): ResourceType<KindObjects[K]> {
  const info = KIND_NAMES[kind];
  return resourceType<KindObjects[K]>(GROUP, VERSION, info.kind, info.plural, info.scope === 'Namespaced');
}

/** Every resource type the components use. */
export const resources = {
  // connectors.alauda.io/v1alpha1, from core/api's KIND_NAMES.
  Connector: ours('Connector'),
  ConnectorClass: ours('ConnectorClass'),
  AccessPolicy: ours('AccessPolicy'),
  AccessRequest: ours('AccessRequest'),
  ResourceInterface: ours('ResourceInterface'),
  // Built-in kinds.
  Namespace: resourceType<Namespace>('', 'v1', 'Namespace', 'namespaces', false),
  Secret: resourceType<Secret>('', 'v1', 'Secret', 'secrets', true),
  ConfigMap: resourceType<ConfigMap>('', 'v1', 'ConfigMap', 'configmaps', true),
  Service: resourceType<Service>('', 'v1', 'Service', 'services', true),
  Pod: resourceType<Pod>('', 'v1', 'Pod', 'pods', true),
  ServiceAccount: resourceType<ServiceAccount>('', 'v1', 'ServiceAccount', 'serviceaccounts', true),
  Event: resourceType<Event>('', 'v1', 'Event', 'events', true),
  Lease: resourceType<Lease>('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  Role: resourceType<Role>('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  RoleBinding: resourceType<RoleBinding>('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  TokenReview: resourceType<AnyObject>('authentication.k8s.io', 'v1', 'TokenReview', 'tokenreviews', false),
  SubjectAccessReview: resourceType<AnyObject>(
    'authorization.k8s.io',
    'v1',
    'SubjectAccessReview',
    'subjectaccessreviews',
    false,
  ),
  MutatingWebhookConfiguration: resourceType<AnyObject>(
    'admissionregistration.k8s.io',
    'v1',
    'MutatingWebhookConfiguration',
    'mutatingwebhookconfigurations',
    false,
  ),
  ValidatingWebhookConfiguration: resourceType<AnyObject>(
    'admissionregistration.k8s.io',
    'v1',
    'ValidatingWebhookConfiguration',
    'validatingwebhookconfigurations',
    false,
  ),
  CustomResourceDefinition: resourceType<AnyObject>(
    'apiextensions.k8s.io',
    'v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
} as const;

/** The resource type of one of our kinds by name. */
export function kindResource<K extends KindName>(kind: K): ResourceType<KindObjects[K]> {
  return resources[kind] as ResourceType<KindObjects[K]>;
}

/** Collection path of one of our kinds (all namespaces when no namespace is given). */
export function collectionPath(kind: KindName, namespace?: string): string {
  return resourcePath(kindResource(kind), { namespace });
}

/** `namespace/name`, or `name` for a cluster-scoped object: the key informers and work queues use. */
export function objectKey(obj: KubeObject): string {
  const m = obj.metadata;
  return m?.namespace ? `${m.namespace}/${m.name ?? ''}` : (m?.name ?? '');
}

/** Splits an objectKey back into namespace ('' for cluster-scoped) and name. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export { KindClient, type KindList } from './kindclient.ts';
