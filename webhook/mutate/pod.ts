// Pure decisions of the Pod webhook: which images to rewrite to pull through a Connector, and when to refuse.
// A Pod asks with the annotation connectors.cpaas.io/connector: <ns>/<name> and opts into rewriting with the
// label connectors.cpaas.io/proxy-inject: "true". With the feature flag enable-pod-image-pull-via-connector
// off, a Pod carrying the annotation is refused, label or not; with it on, a labelled Pod's images on the
// Connector's registry are rewritten, for an OCI-kind Connector in the Pod's scope only.
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import { ANNOTATIONS, LABELS, FEATURE_FLAGS_CONFIGMAP } from '../../core/api/keys.ts';
import { isOciClass, parseConnectorRef, refString, scopeDecision, type Labels } from '../../core/connector/index.ts';
import { pointer, type JsonPatchOp } from '../jsonpatch.ts';
import { connectorRegistry, proxyImagePrefix, rewriteImage } from './image.ts';

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

export const CONNECTOR_ANNOTATION_PATH = `metadata.annotations["${ANNOTATIONS.connector}"]`;

/** The message a Pod gets when the flag is off: the field that asks, the flag, and where to turn it on. */
export function flagOffMessage(connectorRef: string, systemNamespace: string): string {
  return (
    `${CONNECTOR_ANNOTATION_PATH}: image pull via Connector ${JSON.stringify(connectorRef)} is disabled: ` +
    `feature flag "${IMAGE_PULL_FLAG}" is off. To enable it set "${IMAGE_PULL_FLAG}": "true" in ConfigMap ${systemNamespace}/${FEATURE_FLAGS_CONFIGMAP} ` +
    `(ConnectorsConfig spec.components.core.spec.featureFlags), or remove the annotation to pull without the Connector`
  );
}

/** What an image rewrite needs to know of a Connector's class: only OCI-kind classes serve images. */
export function notOciMessage(id: string, className: string, cls: ConnectorClass | undefined): string {
  return (
    `${CONNECTOR_ANNOTATION_PATH}: Connector "${id}" cannot serve images: ` +
    (cls
      ? `its connectorclass ${JSON.stringify(className)} does not serve the OCI distribution API (a class labelled ${LABELS.ociClass}: "true" does)`
      : `its connectorclass ${JSON.stringify(className)} was not found`)
  );
}

export interface PodInput {
  pod: PodLike;
  /** The namespace of the request (pods are created in it). */
  namespace: string;
  /** CREATE of a Pod, or UPDATE of pods/ephemeralcontainers. */
  operation: 'CREATE' | 'UPDATE';
  /** Labels of the namespaces the scope rule needs (the Pod's and the Connector's), fetched beforehand. */
  namespaceLabels: (name: string) => Labels;
  flagEnabled: boolean;
  systemNamespace: string;
  /** Looks the Connector up; undefined = not found. */
  connector: (namespace: string, name: string) => Connector | undefined;
  /** Looks a ConnectorClass up; undefined = not found. */
  connectorClass: (name: string) => ConnectorClass | undefined;
}

/** The whole decision for one Pod (CREATE, or UPDATE of pods/ephemeralcontainers). */
export function podDecision(input: PodInput): Decision {
  const { pod, namespace } = input;
  const annotation = pod.metadata?.annotations?.[ANNOTATIONS.connector];
  const labelled = pod.metadata?.labels?.[LABELS.proxyInject] === 'true';
  if (annotation === undefined || annotation.trim() === '') {
    if (!labelled) return allow();
    return allow(
      [],
      [`label ${LABELS.proxyInject}: "true" without annotation ${ANNOTATIONS.connector}: no image rewritten`],
    );
  }
  const where = CONNECTOR_ANNOTATION_PATH;
  // A Pod created asking for a Connector while the flag is off is refused, label or not. An ephemeral
  // container added to an unlabelled Pod has nothing to rewrite, so only labelled Pods are held to it.
  if (!input.flagEnabled && (labelled || input.operation === 'CREATE'))
    return deny(403, 'Forbidden', flagOffMessage(annotation, input.systemNamespace));
  if (!labelled)
    return allow(
      [],
      [
        `${where} without label ${LABELS.proxyInject}: "true": no image rewritten (add the label to pull through the Connector)`,
      ],
    );
  const parsed = parseConnectorRef(annotation, namespace);
  if (!parsed.ok) return deny(400, 'BadRequest', `${where}: ${parsed.error} (one Connector)`);
  const ref = parsed.ref;
  const id = refString(ref);
  const scope = scopeDecision(
    'a Pod',
    namespace,
    input.namespaceLabels(namespace),
    ref,
    input.namespaceLabels(ref.namespace),
  );
  if (!scope.allowed) return deny(403, 'Forbidden', `${where}: ${scope.message}`);
  const connector = input.connector(ref.namespace, ref.name);
  if (!connector) return deny(403, 'Forbidden', `${where}: Connector "${id}" not found`);
  const className = connector.spec?.connectorClassName ?? '';
  const cls = input.connectorClass(className);
  if (!isOciClass(cls)) return deny(400, 'BadRequest', notOciMessage(id, className, cls));
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
      `Connector "${id}" has no proxy address yet (status.proxy.httpAddress.url is ` +
        `${url ? JSON.stringify(url) : 'empty'}): its ConnectorClass needs spec.proxy and the controller ` +
        `must have reconciled the Connector`,
    );
  }
  const patch = podPatch(pod, connector);
  if (!patch.length)
    return allow([], [`no image of this Pod is on the registry of Connector ${id} (${registry}); nothing rewritten`]);
  return allow(patch);
}
