// Rendering the chart with the pinned Helm, for the install tests.
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, runHelm } from '../../deploy/generate.ts';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
};

/** Value sets the tests render: the defaults and every choice that changes which objects exist. */
export const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  'plain manifests (namespace, self-made webhook certificate, no git plugin)': [
    'namespace.create=true',
    'webhook.certificate.source=self',
    'gitPlugin.enabled=false',
  ],
  'cert-manager, NodePort expose, HPA, ServiceMonitor, proxy TLS listener': [
    'webhook.certificate.source=cert-manager',
    'proxy.tls.secretName=connectors-proxy-tls',
    'proxy.expose.type=NodePort',
    'proxy.expose.domain=192.0.2.10',
    'proxy.autoscaling.enabled=true',
    'metrics.serviceMonitor.enabled=true',
  ],
  'Ingress expose with TLS, no API, no CSI, no NetworkPolicies': [
    'proxy.expose.type=Ingress',
    'proxy.expose.domain=connectors.example.com',
    'proxy.expose.ingress.tlsSecretName=connectors-tls',
    'proxy.expose.ingress.ingressClassName=nginx',
    'api.enabled=false',
    'csi.enabled=false',
    'networkPolicy.enabled=false',
  ],
};

/** Kinds of other projects (Prometheus Operator, cert-manager) that neither Kubernetes nor our CRDs define. */
export const THIRD_PARTY_KINDS = ['ServiceMonitor', 'Certificate', 'Issuer'];

export async function helmTemplate(namespace: string, values: string[], extra: string[] = []): Promise<string> {
  return runHelm([
    'template',
    'connectors',
    CHART_DIR,
    '--namespace',
    namespace,
    ...values.flatMap((v) => ['--set', v]),
    ...extra,
  ]);
}

export function objects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => Boolean(o && o.kind));
}

export interface PodTemplateOf {
  owner: K8sObject;
  spec: {
    containers: Array<Record<string, any>>;
    initContainers?: Array<Record<string, any>>;
    volumes?: Array<Record<string, any>>;
    securityContext?: Record<string, any>;
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    serviceAccountName?: string;
  };
  metadata: { labels?: Record<string, string> };
}

/** The pod templates of every Deployment and DaemonSet. */
export function podTemplates(objs: K8sObject[]): PodTemplateOf[] {
  return objs
    .filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')
    .map((o) => {
      const t = (o.spec as { template: { spec: PodTemplateOf['spec']; metadata: PodTemplateOf['metadata'] } }).template;
      return { owner: o, spec: t.spec, metadata: t.metadata };
    });
}
