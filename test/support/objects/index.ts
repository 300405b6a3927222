// Builders for the Kubernetes objects tests and benchmarks apply, each shape spelled once: typed objects (core/api,
// core/kube/types.ts) for the API clients, and `yaml(...)` of them for `kubectl apply -f -`.
//
//   await c.kubectl(['apply', '-n', ns, '-f', '-'], {
//     input: objects.yaml(
//       objects.basicAuthSecret('creds', 'u', 'p'),
//       objects.connector('git', { className: 'git', address: url, auth: { name: 'basicAuth', secret: 'creds' } }),
//       objects.connectorReader({ name: 'reader', serviceAccount: 'builder', saNamespace: ns }),
//     ),
//   });
export * from './connectors.ts';
export type { MetaOptions } from './meta.ts';
export * from './namespace.ts';
export * from './rbac.ts';
export * from './secrets.ts';
export * from './yaml.ts';
