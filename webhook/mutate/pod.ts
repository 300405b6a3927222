// Pure decisions of the Pod webhook (PERM-07, seed 003): which images to rewrite, and when to refuse.
import { ANNOTATIONS, LABELS, FEATURE_FLAGS_CONFIGMAP, type Connector } from '../../core/api/index.ts';
import { pointer, type JsonPatchOp } from '../jsonpatch.ts';
import { connectorRegistry, proxyImagePrefix, rewriteImage } from './image.ts';
import { connectorUsableFrom, parseConnectorRef, scopeDeniedMessage } from './scope.ts';

export const IMAGE_PULL_FLAG = 'enable-pod-image-pull-via-connector';

export interface PodLike {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    containers?: Array<{ name?: string; image?: string }>;
    initContainers?: Array<{ name?: string; image?: string }>;
    ephemeralContainers?: Array<{ name?: string; image?: string }>;
  };
}

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** JSON Patch `replace` ops for every container, init-container and ephemeral-container image on the Connector's registry. */
export function podPatch(pod: PodLike, connector: Pick<Connector, 'spec' | 'status'>): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const list of CONTAINER_LISTS) {
    (pod.spec?.[list] ?? []).forEach((c, i) => {
      const to = c.image ? rewriteImage(c.image, connector) : undefined;
      if (to && to !== c.image) ops.push({ op: 'replace', path: pointer('spec', list, i, 'image'), value: to });
    });
  }
  return ops;
}

export type Decision =
  | { allowed: true; patch: JsonPatchOp[]; warnings: string[] }
  | { allowed: false; code: number; reason: string; message: string; warnings?: string[] };

export const allow = (patch: JsonPatchOp[] = [], warnings: string[] = []): Decision => ({
  allowed: true,
  patch,
  warnings,
});
export const deny = (code: number, reason: string, message: string): Decision => ({
  allowed: false,
  code,
  reason,
  message,
});

/** The message a Pod gets when the flag is off (PERM-07: names the flag and where to turn it on). */
export function flagOffMessage(connectorRef: string, systemNamespace: string): string {
  return (
    `image pull via Connector is disabled: this Pod is labelled ${LABELS.proxyInject}: "true" and annotated ${ANNOTATIONS.connector}: ${connectorRef}, ` +
    `but feature flag "${IMAGE_PULL_FLAG}" is off. To enable it set "${IMAGE_PULL_FLAG}": "true" in ConfigMap ${systemNamespace}/${FEATURE_FLAGS_CONFIGMAP} ` +
    `(ConnectorsConfig spec.components.core.spec.featureFlags), or remove the label and annotation to pull without the Connector`
  );
}

export interface PodInput {
  pod: PodLike;
  /** The namespace of the request (pods are created in it). */
  namespace: string;
  namespaceLabels?: Record<string, string>;
  flagEnabled: boolean;
  systemNamespace: string;
  /** Looks the Connector up; undefined = not found. */
  connector: (namespace: string, name: string) => Connector | undefined;
}

/** The whole decision for one Pod (CREATE, or UPDATE of pods/ephemeralcontainers). */
export function podDecision(input: PodInput): Decision {
  const { pod, namespace } = input;
  const annotation = pod.metadata?.annotations?.[ANNOTATIONS.connector];
  if (pod.metadata?.labels?.[LABELS.proxyInject] !== 'true') return allow();
  if (annotation === undefined || annotation.trim() === '') {
    return allow(
      [],
      [`label ${LABELS.proxyInject}: "true" without annotation ${ANNOTATIONS.connector}: no image rewritten`],
    );
  }
  const where = `metadata.annotations["${ANNOTATIONS.connector}"]`;
  if (!input.flagEnabled) return deny(403, 'Forbidden', flagOffMessage(annotation, input.systemNamespace));
  const ref = parseConnectorRef(annotation, namespace);
  if (!ref)
    return deny(
      400,
      'BadRequest',
      `${where}: ${JSON.stringify(annotation)} is not a Connector reference: use <namespace>/<name> or <name> (one Connector)`,
    );
  const id = `${ref.namespace}/${ref.name}`;
  if (!connectorUsableFrom(namespace, input.namespaceLabels, ref.namespace))
    return deny(403, 'Forbidden', `${where}: ${scopeDeniedMessage('a Pod', namespace, id)}`);
  const connector = input.connector(ref.namespace, ref.name);
  if (!connector) return deny(403, 'Forbidden', `${where}: Connector "${id}" not found`);
  const registry = connectorRegistry(connector.spec?.address ?? '');
  if (!registry)
    return deny(
      400,
      'BadRequest',
      `Connector "${id}" has no usable spec.address (${JSON.stringify(connector.spec?.address ?? '')})`,
    );
  const url = connector.status?.proxy?.httpAddress?.url;
  if (!proxyImagePrefix(url)) {
    return deny(
      403,
      'Forbidden',
      `Connector "${id}" has no proxy address yet (status.proxy.httpAddress.url is ${url ? JSON.stringify(url) : 'empty'}): its ConnectorClass needs spec.proxy and the controller must have reconciled the Connector`,
    );
  }
  const patch = podPatch(pod, connector);
  if (!patch.length)
    return allow([], [`no image of this Pod is on the registry of Connector ${id} (${registry}); nothing rewritten`]);
  return allow(patch);
}
