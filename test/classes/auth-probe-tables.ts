// Which test table proves each built-in class's auth probe (the right credential → AuthReady True, a wrong one →
// AuthReady False with AuthenticationFailed, nothing listening → LivenessReady False with ConnectionFailed). Each
// table checks that its cases are exactly its entry here, and builtin.test.ts that together the entries are every
// built-in class with an auth probe: a class added without a wrong-password case fails there.
export const AUTH_PROBE_TABLES = {
  /** packages-probes.test.ts: real servers (apiserver, apache repositories, verdaccio, pypiserver, git). */
  packages: ['git', 'k8s', 'maven', 'npm', 'pypi', 'nexus', 'jfrog'],
  /** probes.test.ts: the distribution registry and the GitHub, GitLab, Harbor and SonarQube stand-ins. */
  services: ['github', 'gitlab', 'harbor', 'sonarqube', 'oci'],
};
