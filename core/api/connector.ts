// Connector: one integrated instance of a tool — its address, its credentials (a Secret) and the
// class that says how to reach and check it.
import { Type, Str, Int, Opt, StringMap, ListMap, type Static } from './schema.ts';
import { Conditions, HTTPAddress, NameValue, ObjectReference, LocalObjectReference } from './common.ts';

/** http(s) URL with a host; OpenAPI pattern rather than CEL, which costs nothing in the CRD's validation budget. */
const HTTP_URL_PATTERN = '^https?://[^/?#\\s]+([/?#]\\S*)?$';

export const AddressExtension = Type.Object({
  name: Str('Name of the extension, declared by the class in spec.addressExtensions.', { minLength: 1 }),
  value: Str('An http or https URL.', { minLength: 1, pattern: HTTP_URL_PATTERN }),
});

export const ConnectorAuth = Type.Object(
  {
    name: Str("The authentication type, one of the class's spec.auth.types[].name."),
    secretRef: Opt(ObjectReference),
    params: Opt(
      ListMap(NameValue('parameter'), ['name'], "Parameters of the class's authProbe for this type, e.g. repository."),
    ),
  },
  { description: 'Credentials of the Connector: which authentication type of the class, and the Secret holding them.' },
);

export const ConnectorSpec = Type.Object({
  connectorClassName: Str('Name of the ConnectorClass (cluster-scoped) this Connector is an instance of.', {
    minLength: 1,
  }),
  address: Str('Address of the tool, e.g. https://github.com; may carry a path prefix.', {
    minLength: 1,
    pattern: HTTP_URL_PATTERN,
  }),
  addressExtensions: Opt(
    ListMap(AddressExtension, ['name'], 'Additional addresses of the tool, as the class declares them.'),
  ),
  params: Opt(
    ListMap(
      NameValue('parameter'),
      ['name'],
      "Values of the class's spec.params; omitted ones take the class default.",
    ),
  ),
  auth: Opt(ConnectorAuth),
  caCertSecretRef: Opt(LocalObjectReference),
});
export type ConnectorSpec = Static<typeof ConnectorSpec>;

export const ConnectorStatus = Type.Object({
  conditions: Opt(Conditions),
  observedGeneration: Opt(Int('The generation last reconciled.')),
  annotations: Opt(StringMap('Annotations set by the controller.')),
  proxy: Opt(
    Type.Object(
      { httpAddress: Opt(HTTPAddress("URL of the Connector's proxy.")) },
      { description: 'The proxy address of this Connector, when its class has a proxy.' },
    ),
  ),
  api: Opt(Type.Object({ path: Opt(Str("Path of this Connector's API, relative to the cluster API entry.")) })),
});
export type ConnectorStatus = Static<typeof ConnectorStatus>;
