// The API group and the annotation, label and feature-flag names shared by the components. They keep the
// reference system's spelling (connectors.cpaas.io/...) so existing manifests work unchanged. Plain constants,
// no schema library: the proxy's module graph takes its names from here (core/api/index.ts loads the schemas).
export const GROUP = 'connectors.alauda.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const ANNOTATIONS = {
  proxyResolver: 'connectors.cpaas.io/proxy-resolver',
  connector: 'connectors.cpaas.io/connector',
  readme: 'connectors.cpaas.io/readme',
  docsLink: 'connectors.cpaas.io/docs-link',
  displayName: 'cpaas.io/display-name',
  description: 'cpaas.io/description',
  icon: 'ui.cpaas.io/icon',
} as const;

export const LABELS = {
  proxyInject: 'connectors.cpaas.io/proxy-inject',
  caCert: 'connectors.cpaas.io/ca-cert',
  connectorClass: 'connectors.alauda.io/connectorclass',
  /** On a ConnectorClass: its Connectors serve the OCI distribution API (pulls, pushes, Pod images). */
  ociClass: 'connectors.cpaas.io/oci',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** Labels of ResourceInterfaces, and the prefix of the compatibility labels of ConnectorClasses. */
export const RESOURCE_INTERFACE_LABELS = {
  category: 'resourceinterface.connectors.cpaas.io/category',
  version: 'resourceinterface.connectors.cpaas.io/version',
  schemaVersion: 'resourceinterface.connectors.cpaas.io/schema-version',
  /** `resourceinterface.connectors.cpaas.io/<ri-name>: "true"` on a ConnectorClass. */
  classPrefix: 'resourceinterface.connectors.cpaas.io/',
} as const;

/** Secret types with a meaning of their own to the proxy. */
export const SECRET_TYPES = {
  basicAuth: 'kubernetes.io/basic-auth',
  sshAuth: 'kubernetes.io/ssh-auth',
  bearerToken: 'connectors.cpaas.io/bearer-token',
  distributionRegistryToken: 'cpaas.io/distribution-registry-token',
  opaque: 'Opaque',
} as const;

/** Feature flags in the ConfigMap connectors-config of the system namespace; all default to "false". */
export const FEATURE_FLAGS = [
  'enable-connector-apis-permissions',
  'enable-connector-apis-write-passthrough',
  'enable-connector-proxy-permissions',
  'enable-connectors-approval',
  'enable-multi-connector',
  'enable-custom-ca-certs',
  'enable-pod-image-pull-via-connector',
] as const;
export type FeatureFlag = (typeof FEATURE_FLAGS)[number];

export const SYSTEM_NAMESPACE_DEFAULT = 'connectors-system';
export const FEATURE_FLAGS_CONFIGMAP = 'connectors-config';
export const PROXY_SERVICE_NAME = 'connectors-proxy-service';
export const PROXY_AUDIENCE = 'connectors-proxy';
/**
 * The proxy's CA for HTTPS interception: the Secret of this name in the system namespace (with its key), and
 * the ConfigMap of the same name holding only the public certificate (ca.crt), which the CSI driver mounts.
 */
export const PROXY_CA_NAME = 'connectors-proxy-ca';
/** ConfigMap of the system namespace where the proxy publishes its TLS listener (port, ca.crt) for the CSI driver. */
export const PROXY_TLS_CONFIGMAP = 'connectors-proxy-tls';
