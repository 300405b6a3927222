// What kind of tool a ConnectorClass describes, for the parts of the system that treat one kind specially:
// a class labelled connectors.cpaas.io/oci: "true" serves the OCI distribution API through the proxy
// (registry token flow, repository names under the Connector's path), and only its Connectors can have Pod
// images rewritten to pull through them. Every other class is plain HTTP. The label, not the class name,
// decides, so a registry class of any name (harbor, a private one) gets the OCI behaviour by carrying it.
import { LABELS } from '../api/keys.ts';

export type ClassKind = 'oci' | 'http';

export function classKind(cls: { metadata?: { labels?: Record<string, string> } } | undefined): ClassKind {
  return cls?.metadata?.labels?.[LABELS.ociClass] === 'true' ? 'oci' : 'http';
}

export const isOciClass = (cls: { metadata?: { labels?: Record<string, string> } } | undefined) =>
  classKind(cls) === 'oci';
