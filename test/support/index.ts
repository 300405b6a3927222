// @connectors/test-support: what the tests (test/) and the benchmarks (bench/) share, behind one entry point.
// It is an npm workspace of the repository, so `import ... from '@connectors/test-support'` resolves through
// the link `npm install` makes in node_modules; Node follows the link to this directory, outside node_modules,
// where it strips the types as it does for the rest of the repository.
//
//   harness/  the shared control plane (cluster), polling, process-tree inspection, built-in classes, seeds,
//             mocha root hooks
//   peers/    real servers and clients the tests run against: git, OCI registry, package indexes, tools
//   objects/  builders for the Kubernetes objects tests apply: Namespaces, Secrets, Connectors, RBAC
export * from './harness/classes.ts';
export * from './harness/connectors.ts';
export * from './harness/cluster.ts';
export * from './harness/eventually.ts';
export * from './harness/hooks.ts';
export * from './harness/processes.ts';
export * from './harness/seeds.ts';
export * from './peers/csi-sanity.ts';
export * from './peers/git-server.ts';
export * from './peers/htpasswd.ts';
export * from './peers/process.ts';
export * from './peers/pypiserver.ts';
export * from './peers/recording-upstream.ts';
export * from './peers/registry.ts';
export * from './peers/repo-server.ts';
export * from './peers/system-packages.ts';
export * from './peers/tools.ts';
export * from './peers/verdaccio.ts';
export * as objects from './objects/index.ts';
