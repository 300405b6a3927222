// Compiled policies as ConfigMaps: the controller compiles every Rego policy of a ConnectorClass with the real
// opa and stores the wasm in the system namespace, so the proxy loads ready modules and never runs opa at
// request time. Content-addressed: the name is derived from (entrypoint, source), so a proxy that knows a
// class's policy text knows which ConfigMap holds its module, and an unchanged policy is never rewritten.
//
//   name:        connectors-policy-<first 20 hex of sha256(entrypoint + "\n" + source)>
//   binaryData:  policy.wasm.gz = gzip(wasm)
//   labels:      app.kubernetes.io/part-of=connectors, connectors.cpaas.io/policy=true
//   annotations: connectors.cpaas.io/policy-entrypoint, connectors.cpaas.io/policy-sha256 (full source
//                hash), connectors.cpaas.io/policy-wasm-sha256 (checked on decode), connectors.cpaas.io/policy-rego-version
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { CompiledPolicy } from './compile.ts';

export const POLICY_KEY = 'policy.wasm.gz';
export const POLICY_LABELS = {
  'app.kubernetes.io/part-of': 'connectors',
  'connectors.cpaas.io/policy': 'true',
} as const;
export const POLICY_LABEL_SELECTOR = 'connectors.cpaas.io/policy=true';
export const POLICY_ANNOTATIONS = {
  entrypoint: 'connectors.cpaas.io/policy-entrypoint',
  sha256: 'connectors.cpaas.io/policy-sha256',
  wasmSha256: 'connectors.cpaas.io/policy-wasm-sha256',
  regoVersion: 'connectors.cpaas.io/policy-rego-version',
} as const;

export interface PolicyOwner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface PolicyConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences?: Array<PolicyOwner & { controller?: boolean; blockOwnerDeletion?: boolean }>;
    resourceVersion?: string;
  };
  binaryData: Record<string, string>;
}

/** Full sha256 (hex) of the policy identity: entrypoint, newline, source. */
export function policySourceHash(source: string, entrypoint: string): string {
  return createHash('sha256')
    .update(entrypoint + '\n' + source)
    .digest('hex');
}

export function policyConfigMapName(source: string, entrypoint: string): string {
  return `connectors-policy-${policySourceHash(source, entrypoint).slice(0, 20)}`;
}

export interface EncodeOptions {
  source: string;
  namespace: string;
  compiled: Pick<CompiledPolicy, 'wasm' | 'sha256' | 'entrypoint'> & { regoVersion?: string };
  /** Owners (ConnectorClasses) of the module; several classes may share one policy text. */
  owners?: PolicyOwner[];
}

export function encodePolicyConfigMap(o: EncodeOptions): PolicyConfigMap {
  const { compiled } = o;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: policyConfigMapName(o.source, compiled.entrypoint),
      namespace: o.namespace,
      labels: { ...POLICY_LABELS },
      annotations: {
        [POLICY_ANNOTATIONS.entrypoint]: compiled.entrypoint,
        [POLICY_ANNOTATIONS.sha256]: policySourceHash(o.source, compiled.entrypoint),
        [POLICY_ANNOTATIONS.wasmSha256]: compiled.sha256,
        ...(compiled.regoVersion ? { [POLICY_ANNOTATIONS.regoVersion]: compiled.regoVersion } : {}),
      },
      ...(o.owners?.length ? { ownerReferences: o.owners.map((w) => ({ ...w, blockOwnerDeletion: false })) } : {}),
    },
    binaryData: { [POLICY_KEY]: gzipSync(compiled.wasm, { level: 9 }).toString('base64') },
  };
}

export class PolicyConfigMapError extends Error {
  override name = 'PolicyConfigMapError';
}

/** The compiled policy a ConfigMap holds (loadable with loadPolicy). Throws PolicyConfigMapError when damaged. */
export function decodePolicyConfigMap(cm: {
  metadata?: { name?: string; annotations?: Record<string, string> };
  binaryData?: Record<string, string>;
}): CompiledPolicy {
  const name = cm.metadata?.name ?? '?';
  const ann = cm.metadata?.annotations ?? {};
  const entrypoint = ann[POLICY_ANNOTATIONS.entrypoint];
  const data = cm.binaryData?.[POLICY_KEY];
  if (!entrypoint || !data)
    throw new PolicyConfigMapError(
      `ConfigMap ${name} is not a compiled policy (missing ${!entrypoint ? POLICY_ANNOTATIONS.entrypoint : POLICY_KEY})`,
    );
  let wasm: Buffer;
  try {
    wasm = gunzipSync(Buffer.from(data, 'base64'));
  } catch (err) {
    throw new PolicyConfigMapError(`ConfigMap ${name}: ${POLICY_KEY} is not gzip: ${(err as Error).message}`);
  }
  const sha256 = createHash('sha256').update(wasm).digest('hex');
  const expected = ann[POLICY_ANNOTATIONS.wasmSha256];
  if (expected && expected !== sha256)
    throw new PolicyConfigMapError(`ConfigMap ${name}: wasm sha256 ${sha256} does not match ${expected}`);
  const regoVersion = ann[POLICY_ANNOTATIONS.regoVersion] === 'v0' ? 'v0' : 'v1';
  return { wasm, sha256, entrypoint, key: ann[POLICY_ANNOTATIONS.sha256] ?? '', regoVersion, warnings: [] };
}
