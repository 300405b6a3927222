// Secrets, by the types the Connector classes and the Kubernetes conventions give them. Values go in stringData
// (the API server encodes them), so tests read as the credentials they hold.
import type { Secret } from '../../../core/kube/types.ts';
import { metadata, type MetaOptions } from './meta.ts';

export const SECRET_TYPES = {
  opaque: 'Opaque',
  basicAuth: 'kubernetes.io/basic-auth',
  sshAuth: 'kubernetes.io/ssh-auth',
  tls: 'kubernetes.io/tls',
  dockerConfigJson: 'kubernetes.io/dockerconfigjson',
  /** The bearer-token type of the built-in classes (a `token` key). */
  bearerToken: 'connectors.cpaas.io/bearer-token',
  /** The registry-token type of the built-in oci class (`username` and `password`). */
  registryToken: 'cpaas.io/distribution-registry-token',
} as const;

export interface SecretOptions extends MetaOptions {
  /** Omitted: no `type` in the object (the API server makes it Opaque). */
  type?: string;
  stringData?: Record<string, string>;
  /** Already base64, as the API gives `data`. */
  data?: Record<string, string>;
}

export function secret(name: string, o: SecretOptions = {}): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(name, o),
    ...(o.type === undefined ? {} : { type: o.type }),
    ...(o.stringData === undefined ? {} : { stringData: o.stringData }),
    ...(o.data === undefined ? {} : { data: o.data }),
  };
}

/** `kubernetes.io/basic-auth` with `username` and `password`. */
export function basicAuthSecret(name: string, username: string, password: string, o: MetaOptions = {}): Secret {
  return secret(name, { ...o, type: SECRET_TYPES.basicAuth, stringData: { username, password } });
}

/** `Opaque` with the given keys. */
export function opaqueSecret(name: string, stringData: Record<string, string>, o: MetaOptions = {}): Secret {
  return secret(name, { ...o, type: SECRET_TYPES.opaque, stringData });
}

/** `connectors.cpaas.io/bearer-token` with `token`. */
export function bearerTokenSecret(name: string, token: string, o: MetaOptions = {}): Secret {
  return secret(name, { ...o, type: SECRET_TYPES.bearerToken, stringData: { token } });
}

/** `cpaas.io/distribution-registry-token` with `username` and `password` (the oci class's tokenAuth). */
export function registryTokenSecret(name: string, username: string, password: string, o: MetaOptions = {}): Secret {
  return secret(name, { ...o, type: SECRET_TYPES.registryToken, stringData: { username, password } });
}

/** `kubernetes.io/dockerconfigjson` whose `.dockerconfigjson` holds basic credentials per registry host. */
export function dockerConfigJsonSecret(
  name: string,
  registries: Record<string, { username: string; password: string }>,
  o: MetaOptions = {},
): Secret {
  const auths = Object.fromEntries(
    Object.entries(registries).map(([host, { username, password }]) => [
      host,
      { username, password, auth: Buffer.from(`${username}:${password}`).toString('base64') },
    ]),
  );
  return secret(name, {
    ...o,
    type: SECRET_TYPES.dockerConfigJson,
    stringData: { '.dockerconfigjson': JSON.stringify({ auths }) },
  });
}

/** A Secret (no type) holding a PEM CA certificate as `ca.crt`, as a Connector's caCertSecretRef names it. */
export function caCertSecret(name: string, caPem: string, o: MetaOptions = {}): Secret {
  return secret(name, { ...o, stringData: { 'ca.crt': caPem } });
}

/** `kubernetes.io/tls` with `tls.crt` and `tls.key` (PEM, or anything when a test wants them broken), and `ca.crt` if given. */
export function tlsSecret(name: string, cert: string, key: string, o: MetaOptions & { ca?: string } = {}): Secret {
  const { ca, ...meta } = o;
  const stringData = { 'tls.crt': cert, 'tls.key': key, ...(ca === undefined ? {} : { 'ca.crt': ca }) };
  return secret(name, { ...meta, type: SECRET_TYPES.tls, stringData });
}
