import type { Namespace } from '../../../core/kube/types.ts';
import { metadata, type MetaOptions } from './meta.ts';

export function namespace(name: string, o: Omit<MetaOptions, 'namespace'> = {}): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: metadata(name, o) };
}
