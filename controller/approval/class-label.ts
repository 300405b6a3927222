// Every Connector carries the label connectors.alauda.io/connectorclass: <its class>, so AccessPolicies can
// select Connectors by class (`matchLabels: {connectors.alauda.io/connectorclass: oci}`).
//
// Set by the controller, not by a mutating webhook: it also labels Connectors that existed before approval
// was turned on, puts the label back when someone removes or changes it, follows a changed
// spec.connectorClassName, and does not depend on the webhook being up (our webhooks fail open). The cost is a
// moment after creation without the label, in which a class-selected policy does not cover the Connector
// yet: a checkGrantedPermission policy then matches no request (no access, fail closed), and a
// defaultPermission grant arrives a moment later.
import type { Connector } from '../../core/api/index.ts';
import { LABELS } from '../../core/api/keys.ts';
import { collectionPath } from '../../core/kube/resources.ts';
import { KubeApiError, type KubeRest } from '../../core/kube/rest.ts';

/** The label patch a Connector needs, or undefined (pure). */
export function classLabelPatch(c: Connector): Record<string, unknown> | undefined {
  const cls = c.spec?.connectorClassName;
  if (!cls || c.metadata.labels?.[LABELS.connectorClass] === cls) return undefined;
  return { metadata: { labels: { [LABELS.connectorClass]: cls } } };
}

export async function ensureClassLabel(rest: KubeRest, c: Connector): Promise<boolean> {
  const patch = classLabelPatch(c);
  if (!patch) return false;
  try {
    await rest.call(
      'PATCH',
      `${collectionPath('Connector', c.metadata.namespace)}/${encodeURIComponent(c.metadata.name!)}`,
      { body: patch, contentType: 'application/merge-patch+json' },
    );
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 404) return false;
    throw err;
  }
  return true;
}
