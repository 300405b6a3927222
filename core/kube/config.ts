// Where components find their cluster: an explicit kubeconfig path, else KUBECONFIG, else the in-cluster
// ServiceAccount, else ~/.kube/config (what client-node's loadFromDefault does).
import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig from its YAML (the embedded control plane's admin kubeconfig). */
export function kubeConfigFromYaml(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: set KUBECONFIG or pass --kubeconfig');
  return kc;
}

/** The namespace the components run in and keep their configuration in. */
export function systemNamespace(): string {
  return process.env.CONNECTORS_SYSTEM_NAMESPACE || process.env.POD_NAMESPACE || 'connectors-system';
}
