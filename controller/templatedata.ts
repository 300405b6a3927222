// The data authProbe templates see, shaped like the reference system's Go structs so that the seed's
// templates work unchanged:
//   .Connector  — the Connector as its Go type: .Connector.Spec.Auth.Params[i].Name / .Value.StringVal
//                 (Tekton ParamValue {Type, StringVal, ArrayVal, ObjectVal}), .Connector.Spec.Address,
//                 .Connector.ObjectMeta.Name and, as Go's embedded fields allow, .Connector.Name, ...
//   .Secret     — nil when the Connector has no Secret (so `{{ if .Secret }}` is false), else the Secret with
//                 .Secret.StringData.<key> (decoded strings), .Secret.Data.<key> ([]byte), .Secret.Type.
import { GoInt } from '../core/template/index.ts';
import { GO_TYPE } from '../core/template/values.ts';
import type { Connector } from '../core/api/index.ts';
import type { DecodedSecret } from '../core/connector/index.ts';

type Obj = Record<string | symbol, unknown>;

function paramValue(v: string): Obj {
  return { Type: 'string', StringVal: v, ArrayVal: null, ObjectVal: null };
}

function params(list: Array<{ name: string; value: string }> | undefined): Obj[] {
  return (list ?? []).map((p) => ({ Name: p.name, Value: paramValue(p.value) }));
}

function objectMeta(m: Connector['metadata']): Obj {
  return {
    Name: m.name ?? '',
    Namespace: m.namespace ?? '',
    UID: m.uid ?? '',
    ResourceVersion: m.resourceVersion ?? '',
    Generation: new GoInt('int64', BigInt(m.generation ?? 0)),
    Labels: m.labels ?? null,
    Annotations: m.annotations ?? null,
  };
}

export function connectorGoView(c: Connector): Obj {
  const meta = objectMeta(c.metadata);
  const ref = c.spec.auth?.secretRef;
  const spec: Obj = {
    ConnectorClassName: c.spec.connectorClassName,
    Address: c.spec.address,
    AddressExtensions: (c.spec.addressExtensions ?? []).map((e) => ({ Name: e.name, Value: e.value })),
    Params: params(c.spec.params),
    Auth: {
      Name: c.spec.auth?.name ?? '',
      SecretRef: ref
        ? {
            Kind: ref.kind ?? '',
            Namespace: ref.namespace ?? '',
            Name: ref.name ?? '',
            UID: ref.uid ?? '',
            APIVersion: ref.apiVersion ?? '',
            ResourceVersion: ref.resourceVersion ?? '',
            FieldPath: ref.fieldPath ?? '',
          }
        : null,
      Params: params(c.spec.auth?.params),
    },
    CaCertSecretRef: c.spec.caCertSecretRef ? { Name: c.spec.caCertSecretRef.name } : null,
  };
  return {
    TypeMeta: { Kind: 'Connector', APIVersion: c.apiVersion },
    Kind: 'Connector',
    APIVersion: c.apiVersion,
    ObjectMeta: meta,
    ...meta,
    Spec: spec,
    Status: { ObservedGeneration: new GoInt('int64', BigInt(c.status?.observedGeneration ?? 0)) },
  };
}

function bytes(s: string): unknown[] {
  const arr: unknown[] = [...Buffer.from(s, 'utf8')].map((b) => new GoInt('uint8', BigInt(b)));
  (arr as unknown as Obj)[GO_TYPE] = '[]uint8';
  return arr;
}

export function secretGoView(s: DecodedSecret | undefined): Obj | null {
  if (!s) return null;
  const meta = {
    Name: s.name,
    Namespace: s.namespace,
    UID: s.uid ?? '',
    ResourceVersion: s.resourceVersion ?? '',
    Labels: s.labels ?? null,
  };
  return {
    TypeMeta: { Kind: 'Secret', APIVersion: 'v1' },
    ObjectMeta: meta,
    ...meta,
    Type: s.type,
    StringData: { ...s.data },
    Data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, bytes(v)])),
  };
}

export function templateData(c: Connector, secret: DecodedSecret | undefined): Obj {
  return { Connector: connectorGoView(c), Secret: secretGoView(secret) };
}
