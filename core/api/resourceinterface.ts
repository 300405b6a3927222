// ResourceInterface: a standard resource abstraction (GitCodeRepository, OCIArtifact, ...) that maps a
// Connector and a few parameters to pipeline attributes and workspaces.
import {
  Type,
  Str,
  Bool,
  Enum,
  FreeValue,
  FreeObject,
  ListMap,
  AtomicList,
  StringMap,
  Opt,
  type Static,
} from './schema.ts';

/** Keys of an object-typed param or attribute (Tekton PropertySpec). */
const Properties = Opt(
  Type.Unsafe<Record<string, { type?: string }>>({
    type: 'object',
    additionalProperties: {
      type: 'object',
      properties: { type: { type: 'string', description: 'string, array or object.' } },
    },
    description: 'Keys of an object value and their types (Tekton PropertySpec).',
  }),
);

export const ResourceInterfaceSpec = Type.Object({
  params: Opt(
    ListMap(
      Type.Object({
        name: Str('Name of the parameter.'),
        type: Opt(
          Enum(['string', 'array', 'object'] as const, { description: 'Tekton parameter type.', default: 'string' }),
        ),
        default: Opt(FreeValue('Default value.')),
        description: Opt(Str('What the parameter is for.')),
        enum: Opt(AtomicList(Type.String(), 'Allowed values.')),
        properties: Properties,
        annotations: Opt(StringMap('Free-form metadata for tools.')),
      }),
      ['name'],
      'Parameters the user gives (Tekton ParamSpecs).',
    ),
  ),
  attributes: Opt(
    ListMap(
      Type.Object({
        name: Str('Name of the attribute.'),
        description: Opt(Str('What the attribute is.')),
        type: Opt(Enum(['string', 'array'] as const, { description: 'Type of the attribute.', default: 'string' })),
        expression: Opt(
          Str('Expression in {…} over {params, connector}, e.g. {connector.spec.address + "/" + params.repository}.'),
        ),
        parameterize: Opt(
          Type.Object({
            name: Opt(Str('Pipeline parameter the attribute fills.')),
            disable: Opt(Bool('Do not map to a parameter.')),
          }),
        ),
        dependsOn: Opt(AtomicList(Type.String(), 'params.<name> or connector.')),
        default: Opt(FreeValue('Default value.')),
        enum: Opt(AtomicList(Type.String(), 'Allowed values.')),
        properties: Properties,
        annotations: Opt(StringMap('Free-form metadata for tools.')),
      }),
      ['name'],
      'Values derived for the pipeline.',
    ),
  ),
  workspaces: Opt(
    ListMap(
      Type.Object({
        name: Str('Name of the workspace.'),
        description: Opt(Str('What the workspace holds.')),
        annotations: Opt(StringMap('Free-form metadata for tools.')),
        workspaceMapping: Opt(Type.Object({ name: Opt(Str('Pipeline workspace it binds.')) })),
        value: Opt(
          FreeObject(
            'A Tekton WorkspaceBinding (configMap, csi, emptyDir, persistentVolumeClaim, projected, secret, ' +
              'subPath, volumeClaimTemplate); strings may hold {…} expressions.',
          ),
        ),
      }),
      ['name'],
      'Workspaces the interface binds.',
    ),
  ),
  configurations: Opt(
    Type.Object({
      multipleMergeConnectors: Opt(
        Type.Object({
          enabled: Opt(Bool('Several Connectors may be merged into one binding.')),
          description: Opt(Str('Explanation for users.')),
        }),
      ),
    }),
  ),
});
export type ResourceInterfaceSpec = Static<typeof ResourceInterfaceSpec>;
