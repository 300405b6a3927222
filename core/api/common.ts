// Types shared by several of our kinds: references, conditions, selectors, parameters.
import { Type, Str, Int, Enum, StringMap, FreeValue, ListMap, AtomicList, Opt, type Static } from './schema.ts';

export const ObjectReference = Type.Object(
  {
    apiVersion: Opt(Str('API version of the referent.')),
    kind: Opt(Str('Kind of the referent.')),
    name: Opt(Str('Name of the referent.')),
    namespace: Opt(Str('Namespace of the referent; defaults to the namespace of the object holding the reference.')),
    uid: Opt(Str('UID of the referent.')),
    resourceVersion: Opt(Str('Specific resourceVersion of the referent.')),
    fieldPath: Opt(Str('A field within the referent.')),
  },
  { description: 'A reference to a Kubernetes object.', 'x-kubernetes-map-type': 'atomic' },
);
export type ObjectReference = Static<typeof ObjectReference>;

export const LocalObjectReference = Type.Object(
  { name: Str('Name of the referent, in the same namespace.') },
  { 'x-kubernetes-map-type': 'atomic' },
);

/**
 * metav1.Condition plus the two fields the reference system's documentation shows on probe conditions
 * (`severity`, `lastProbeTime`).
 */
export const Condition = Type.Object({
  type: Str('Type of the condition, e.g. Ready.', { maxLength: 316 }),
  status: Enum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
  observedGeneration: Opt(Int('The .metadata.generation the condition was set from.', { minimum: 0 })),
  lastTransitionTime: Opt(Str('Last time the condition changed status.', { format: 'date-time' })),
  lastProbeTime: Opt(Str('Last time the check behind the condition ran.', { format: 'date-time' })),
  reason: Opt(Str('A CamelCase reason for the last transition.', { maxLength: 1024 })),
  message: Opt(Str('A human-readable explanation.', { maxLength: 32768 })),
  severity: Opt(
    Str('Severity of a False condition: empty (Error), Warning or Info. Info conditions never affect Ready.'),
  ),
});
export type Condition = Static<typeof Condition>;

export const Conditions = ListMap(Condition, ['type'], "The latest observations of the object's state.");

export const LabelSelectorRequirement = Type.Object({
  key: Str('The label key the selector applies to.'),
  operator: Enum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, {
    description: 'Relationship of the key to the values.',
  }),
  values: Opt(AtomicList(Type.String(), 'Values for In and NotIn; empty for Exists and DoesNotExist.')),
});

export const MatchLabels = StringMap('Labels an object must carry, all of them.');
export const MatchExpressions = AtomicList(
  LabelSelectorRequirement,
  'Label selector requirements, all of which must hold.',
);

/** A name/value pair with a string value (Connector params, HTTP headers, address extensions). */
export const NameValue = (what: string) =>
  Type.Object({ name: Str(`Name of the ${what}.`), value: Str(`Value of the ${what}.`) });

/** Declaration of a parameter on a ConnectorClass. Only string parameters are supported. */
export const ParamSpec = Type.Object({
  name: Str('Name of the parameter, unique within its list.', { minLength: 1 }),
  type: Opt(
    Enum(['string'] as const, { description: 'Type of the parameter; only string is supported.', default: 'string' }),
  ),
  default: Opt(Str('Default value; a parameter without a default is required.')),
  description: Opt(Str('What the parameter is for.')),
  displayName: Opt(Str('Human-readable name.')),
  enum: Opt(AtomicList(Type.String(), 'Allowed values.')),
  properties: Opt(FreeValue('Properties of an object-typed parameter (reserved).')),
  annotations: Opt(StringMap('Free-form annotations for tools and UIs.')),
});
export type ParamSpec = Static<typeof ParamSpec>;

/** A proxy address as the status of Connectors and ConnectorClasses gives it. */
export const HTTPAddress = (urlDescription: string) =>
  Type.Object({
    name: Opt(Str('Name of the address.')),
    url: Opt(Str(urlDescription)),
    audience: Opt(Str('Audience of the ServiceAccount tokens the proxy accepts.')),
    CACerts: Opt(Str('PEM CA certificates of the proxy.')),
  });

export const ParamSpecs = (description: string) => ListMap(ParamSpec, ['name'], description);
