// Connectors and ConnectorClasses of connectors.alauda.io, typed by core/api (the CRDs' own schemas).
import {
  API_VERSION,
  type AuthType,
  type Connector,
  type ConnectorClass,
  type ConnectorClassSpec,
  type ConnectorSpec,
} from '../../../core/api/index.ts';
import { metadata, nameValues, type MetaOptions } from './meta.ts';

export interface ConnectorOptions extends MetaOptions {
  /** spec.connectorClassName */
  className: string;
  address: string;
  /** spec.auth: the class's auth type, the Secret holding the credentials (if any) and its probe parameters. */
  auth?: { name: string; secret?: string; params?: Record<string, string> };
  /** spec.params */
  params?: Record<string, string>;
  /** spec.addressExtensions */
  addressExtensions?: Record<string, string>;
  /** spec.caCertSecretRef: a Secret of the Connector's namespace holding `ca.crt`. */
  caSecret?: string;
  /** Fields set over the ones above, as given (e.g. a test's variations on a base Connector). */
  spec?: Partial<ConnectorSpec>;
}

export function connector(name: string, o: ConnectorOptions): Connector {
  const spec: ConnectorSpec = { connectorClassName: o.className, address: o.address };
  if (o.addressExtensions) spec.addressExtensions = nameValues(o.addressExtensions);
  if (o.params) spec.params = nameValues(o.params);
  if (o.caSecret) spec.caCertSecretRef = { name: o.caSecret };
  if (o.auth) {
    spec.auth = { name: o.auth.name };
    if (o.auth.secret) spec.auth.secretRef = { name: o.auth.secret };
    if (o.auth.params) spec.auth.params = nameValues(o.auth.params);
  }
  return { apiVersion: API_VERSION, kind: 'Connector', metadata: metadata(name, o), spec: { ...spec, ...o.spec } };
}

/** A ConnectorClass; without `spec`, one with metadata only (the reference shows such classes). */
export function connectorClass(
  name: string,
  spec?: ConnectorClassSpec,
  o: Omit<MetaOptions, 'namespace'> = {},
): ConnectorClass {
  return { apiVersion: API_VERSION, kind: 'ConnectorClass', metadata: metadata(name, o), ...(spec ? { spec } : {}) };
}

/** An auth type whose credentials the proxy injects as `rego` (package proxy) says, from a Secret of `secretType`. */
export function regoAuthType(name: string, rego: string, secretType = 'Opaque'): AuthType {
  return { name, secretType, generator: { rego } };
}
