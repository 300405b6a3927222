// Built-in ConnectorClasses are cluster-scoped, so test files that need `git` or `oci` share them. Each file
// installs the classes it needs as `connectors up` would (server-side apply under its own field manager) and
// afterwards puts back what was there before, labels and annotations included: a restore that drops the
// ResourceInterface compatibility labels broke the next file's pipeline integration.
import type { ConnectorClass } from '../../../core/api/index.ts';
import { KindClient } from '../../../core/kube/resources.ts';
import type { Cluster } from './cluster.ts';

export interface InstalledClasses {
  /** Puts back each class as it was before `installClasses`, or deletes it if it was absent. */
  restore(): Promise<void>;
}

export async function installClasses(
  c: Cluster,
  fieldManager: string,
  wanted: ConnectorClass[],
): Promise<InstalledClasses> {
  const classes = new KindClient(c.kubeConfig, 'ConnectorClass');
  const previous = new Map<string, ConnectorClass | undefined>();
  const apply = (cls: unknown) =>
    c.kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${fieldManager}`, '-f', '-'], {
      input: JSON.stringify(cls),
    });
  for (const cls of wanted) {
    const name = cls.metadata.name!;
    if (!previous.has(name)) previous.set(name, await classes.get(name).catch(() => undefined));
    await apply(cls);
  }
  return {
    async restore() {
      for (const [name, prev] of previous) {
        if (!prev) {
          await classes.delete(name).catch(() => {});
          continue;
        }
        const { labels, annotations } = prev.metadata;
        await apply({
          apiVersion: prev.apiVersion,
          kind: prev.kind,
          metadata: { name, labels, annotations },
          spec: prev.spec,
        }).catch(() => {});
      }
    },
  };
}
