// Generates the CustomResourceDefinitions from the kind table. Pure: objects in, objects out.
import { GROUP, VERSION } from './keys.ts';
import { KINDS, type KindInfo } from './kinds.ts';

/** JSON round trip drops TypeBox's symbol and non-enumerable bookkeeping, leaving plain OpenAPI. */
function plain(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

export function crdFor(info: KindInfo): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    apiVersion: {
      type: 'string',
      description: 'APIVersion defines the versioned schema of this representation of an object.',
    },
    kind: {
      type: 'string',
      description: 'Kind is a string value representing the REST resource this object represents.',
    },
    metadata: { type: 'object' },
    spec: plain(info.spec),
  };
  if (info.status) properties.status = plain(info.status);
  const version: Record<string, unknown> = {
    name: VERSION,
    served: true,
    storage: true,
    schema: {
      openAPIV3Schema: {
        type: 'object',
        description: info.description,
        properties,
        ...(info.specRequired ? { required: ['spec'] } : {}),
      },
    },
    additionalPrinterColumns: info.printerColumns,
  };
  if (info.status) version.subresources = { status: {} };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'connectors' } },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        categories: ['alauda'],
        ...(info.shortNames ? { shortNames: info.shortNames } : {}),
      },
      scope: info.scope,
      versions: [version],
    },
  };
}

export function allCrds(): Record<string, unknown>[] {
  return Object.values(KINDS).map((k) => crdFor(k as KindInfo));
}
