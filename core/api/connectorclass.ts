// ConnectorClass: cluster-scoped description of one kind of tool (git, oci, ...): its address format,
// authentication types, probes, proxy, API and client configuration templates.
import { Type, Str, Bool, Int, Enum, StringMap, FreeObject, ListMap, AtomicList, Opt, type Static } from './schema.ts';
import { Conditions, HTTPAddress, ParamSpec, ParamSpecs } from './common.ts';

const AddressSpec = Type.Object(
  {
    ...ParamSpec.properties,
    name: Opt(Str('Name of the address parameter.', { default: 'address' })),
  },
  { description: 'Format of the tool address a Connector of this class must give in spec.address.' },
);

const Rego = (description: string) => Type.Object({ rego: Str(description) });

export const AuthType = Type.Object({
  name: Str('Name of the authentication type, unique within the class; Connectors choose it in spec.auth.name.', {
    minLength: 1,
  }),
  secretType: Str(
    'Type of the Secret that holds the credentials, e.g. kubernetes.io/basic-auth, Opaque or a custom type.',
    { default: 'Opaque' },
  ),
  optional: Opt(Bool('Whether a Connector may omit the Secret for this authentication type.', { default: false })),
  params: Opt(ParamSpecs('Keys the Secret must contain. Required for Opaque and custom secret types.')),
  generator: Opt(
    Rego(
      'Rego policy (package proxy) producing auth = {position: header|query|body, contentType?, auth: ' +
        '{...}}: how the proxy injects these credentials into requests to the tool. Inputs: input.data (the ' +
        'Secret data) and input.request.',
    ),
  ),
  displayName: Opt(Str('Human-readable name.')),
  description: Opt(Str('What this authentication type is.')),
  annotations: Opt(StringMap('Free-form annotations for tools and UIs.')),
});
export type AuthType = Static<typeof AuthType>;

/**
 * Headers as a list of {name, value} (the canonical form) or, as some reference examples write them, a map
 * of name → value. Both are accepted; `headerList` normalises. A structural schema cannot type a field that is
 * either, and CEL cannot inspect an untyped one, so the shape is checked by the validating webhook.
 */
const HTTPHeaders = Type.Unsafe<Array<{ name: string; value: string }> | Record<string, string>>({
  'x-kubernetes-preserve-unknown-fields': true,
  description:
    'Headers to send, as a list of {name, value} or a map of name to value; values are Go templates over .Connector and .Secret.',
});

export function headerList(headers: HTTPProbe['httpHeaders']): Array<{ name: string; value: string }> {
  if (!headers) return [];
  if (Array.isArray(headers)) return headers.map((h) => ({ name: h.name, value: h.value ?? '' }));
  return Object.entries(headers).map(([name, value]) => ({ name, value }));
}

export const HTTPProbe = Type.Object({
  path: Str(
    'Path of the request, a Go template over .Connector and .Secret for auth probes. The path prefix of the Connector address is not added.',
  ),
  host: Opt(
    Str(
      'Host (and port) to probe, a Go template over .Connector and .Secret for auth probes; defaults to the host of the Connector address when empty.',
    ),
  ),
  scheme: Opt(
    Enum(['http', 'https'] as const, {
      description: "Scheme; defaults to the Connector's when host is empty or the Connector host, else http.",
    }),
  ),
  method: Opt(Enum(['GET', 'POST'] as const, { description: 'HTTP method.', default: 'GET' })),
  disableRedirect: Opt(Bool('Do not follow redirects.', { default: false })),
  httpHeaders: Opt(HTTPHeaders),
  response: Opt(
    Type.Object({
      cel: Opt(
        Str(
          'CEL expression over response.statusCode, response.bodyString, response.headers and response.body ' +
            'that must yield true for success. Default: any 2xx.',
        ),
      ),
    }),
  ),
});
export type HTTPProbe = Static<typeof HTTPProbe>;

export const APIProbe = Type.Object({
  path: Str('Path appended to the class API address (status.api.address.url); a Go template for auth probes.'),
});

export const Probe = Type.Object(
  { http: Opt(HTTPProbe), api: Opt(APIProbe) },
  { description: 'An HTTP check against the tool itself (http) or against the class API (api).' },
);
export type Probe = Static<typeof Probe>;

export const AuthProbe = Type.Object({
  authName: Str('The authentication type this probe checks; one of spec.auth.types[].name.'),
  params: Opt(ParamSpecs('Parameters Connectors must give in spec.auth.params, e.g. repository.')),
  probe: Opt(Probe),
});
export type AuthProbe = Static<typeof AuthProbe>;

export const ServiceRef = Type.Object(
  {
    kind: Str('Kind of the referent; Service.'),
    name: Str('Name of the referent.'),
    namespace: Opt(Str('Namespace of the referent.')),
    apiVersion: Opt(Str('API version of the referent.')),
    group: Opt(Str('API group of the referent.')),
    address: Opt(Str('Explicit address of the referent, used instead of its cluster DNS name.')),
  },
  { description: 'The Service that serves this capability.' },
);

const Endpoint = {
  ref: Opt(ServiceRef),
  uri: Opt(Str('Absolute URI, or a path relative to ref.')),
  CACerts: Opt(Str('PEM CA certificates to trust for this endpoint.')),
  audience: Opt(Str('Audience of ServiceAccount tokens presented to this endpoint.')),
};

export const ProxySpec = Type.Object(
  {
    ...Endpoint,
    authExtractor: Opt(
      Rego(
        'Rego policy (package proxy) producing auth = {token: string} from input.request, for clients that ' +
          'cannot send their ServiceAccount token as Basic password or Bearer token.',
      ),
    ),
  },
  {
    description:
      'The proxy that serves Connectors of this class. The built-in one is the Service connectors-proxy-service.',
  },
);

export const APISpec = Type.Object(
  {
    ...Endpoint,
    openapi: Opt(
      FreeObject(
        'OpenAPI 3.0 document of the class API, with x-provider-type, x-openapi-address and x-display-schema extensions.',
      ),
    ),
    permissions: Opt(
      Rego('Rego policy (package permissions) producing result.verb (read, write, delete or "") for a request.'),
    ),
  },
  { description: 'The API that serves Connectors of this class.' },
);

export const Configuration = Type.Object({
  name: Str('Name of the configuration, chosen in the CSI volume attribute configuration.names.'),
  data: Opt(
    Type.Unsafe<Record<string, string>>({
      type: 'object',
      additionalProperties: { type: 'string' },
      description:
        'File name → Go template rendered by the CSI driver. File names may contain only letters, digits, ".", "_" and "-".',
    }),
  ),
  params: Opt(
    ParamSpecs(
      'Parameters of the templates, given in the CSI volume attribute configuration.params; those without default are required.',
    ),
  ),
  annotations: Opt(StringMap('Free-form annotations for tools and UIs.')),
});
export type Configuration = Static<typeof Configuration>;

export const ConnectorClassSpec = Type.Object({
  address: Opt(AddressSpec),
  addressExtensions: Opt(
    AtomicList(ParamSpec, 'Additional addresses a Connector may or must give (those without default are required).'),
  ),
  params: Opt(ParamSpecs('Parameters of Connectors of this class; those without default are required.')),
  auth: Opt(
    Type.Object(
      { types: Opt(ListMap(AuthType, ['name'], 'Supported authentication types.')) },
      { description: 'Authentication of the tool.' },
    ),
  ),
  livenessProbe: Opt(Probe),
  authProbes: Opt(ListMap(AuthProbe, ['authName'], 'How to check credentials, per authentication type.')),
  proxy: Opt(ProxySpec),
  api: Opt(APISpec),
  configurations: Opt(
    ListMap(Configuration, ['name'], 'Client configuration files the CSI driver can render into pods.'),
  ),
});
export type ConnectorClassSpec = Static<typeof ConnectorClassSpec>;

const URLAddress = Type.Object({ url: Opt(Str('Resolved URL.')) });

export const ConnectorClassStatus = Type.Object({
  conditions: Opt(Conditions),
  observedGeneration: Opt(Int('The generation last reconciled.')),
  annotations: Opt(StringMap('Annotations set by the controller.')),
  proxy: Opt(
    Type.Object(
      { httpAddress: Opt(HTTPAddress('URL of the proxy that serves the Connectors of this class.')) },
      { description: 'The resolved spec.proxy; absent when the class has no proxy or it cannot be resolved.' },
    ),
  ),
  api: Opt(Type.Object({ address: Opt(URLAddress) })),
});
export type ConnectorClassStatus = Static<typeof ConnectorClassStatus>;
