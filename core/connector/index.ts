// The Connector domain: the rules about Connectors that the controller, the proxy, the webhook, the CSI
// driver and the API all apply, written once. Pure functions, plus thin resolvers that take the caller's
// lookup (an informer, a cache with a GET fallback, the API) as a function.
export * from './address.ts';
export * from './auth.ts';
export * from './ca.ts';
export * from './credentials.ts';
export * from './duration.ts';
export * from './kind.ts';
export * from './ref.ts';
export * from './registry.ts';
export * from './scope.ts';
export * from './secret.ts';
