// A Connector's authentication as its class defines it: the auth type it chose, the auth probe of that
// type, and the probe parameters it left out.
import type { AuthProbe, AuthType, ConnectorClass } from '../api/index.ts';

interface AuthOf {
  spec: { auth?: { name?: string; params?: Array<{ name: string }> } };
}

/** The class's auth type named by spec.auth.name. */
export function authTypeOf(c: AuthOf, cls: Pick<ConnectorClass, 'spec'>): AuthType | undefined {
  const name = c.spec.auth?.name;
  return cls.spec?.auth?.types?.find((t) => t.name === name);
}

/** The class's auth probe for the Connector's auth type. */
export function authProbeOf(c: AuthOf, cls: Pick<ConnectorClass, 'spec'>): AuthProbe | undefined {
  return cls.spec?.authProbes?.find((p) => p.authName === c.spec.auth?.name);
}

/**
 * Probe parameters without a default that spec.auth.params does not give. They are optional for the
 * Connector: without them the auth probe checks less (see the controller), it does not fail.
 */
export function missingAuthProbeParams(c: AuthOf, probe: Pick<AuthProbe, 'params'>): string[] {
  const given = new Set((c.spec.auth?.params ?? []).map((p) => p.name));
  return (probe.params ?? []).filter((p) => p.default === undefined && !given.has(p.name)).map((p) => p.name);
}
