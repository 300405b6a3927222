// Where components find their cluster: an explicit kubeconfig path, else KUBECONFIG, else the in-cluster
// ServiceAccount, else ~/.kube/config (what client-node's loadFromDefault does).
import { Kubeconfig } from './kubeconfig.ts';

/** A kubeconfig from its YAML (the embedded control plane's admin kubeconfig). */
export function kubeConfigFromYaml(yaml: string): Kubeconfig {
  return Kubeconfig.fromYaml(yaml);
}

export function loadKubeConfig(path?: string): Kubeconfig {
  return Kubeconfig.load(path);
}

/** The namespace the components run in and keep their configuration in. */
export function systemNamespace(): string {
  return process.env.CONNECTORS_SYSTEM_NAMESPACE || process.env.POD_NAMESPACE || 'connectors-system';
}
