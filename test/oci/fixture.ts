// Shared set-up for the OCI tests: the proxy fixture of test/proxy (real apiserver, ServiceAccounts, RBAC), a
// real distribution registry per auth mode, and one Connector of class `oci` per registry whose Secret
// (type cpaas.io/distribution-registry-token) holds the registry user the proxy logs in with.
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import {
  startRegistry,
  type Registry,
  type RegistryOptions,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  eventually,
  objects,
} from '@connectors/test-support';
import { setup, type Env } from '../proxy/fixture.ts';

export const ROBOT = 'robot';
export const basic = (user: string, password: string) =>
  'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

export interface OciEnv {
  env: Env;
  robotPassword: string;
  /** A Connector of class oci in front of a started registry. */
  addRegistry(name: string, opts: Omit<RegistryOptions, 'users'>): Promise<Registry>;
  /** `127.0.0.1:PORT/namespaces/<ns>/connectors/<name>`: the image reference prefix for a Connector. */
  refPrefix(name: string): string;
  stop(): Promise<void>;
}

export async function ociSetup(prefix: string): Promise<OciEnv> {
  await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
  const env = await setup(prefix);
  const robotPassword = 'robot-' + randomBytes(8).toString('hex');
  const registries: Registry[] = [];
  const host = new URL(env.proxy.url).host;
  // The built-in oci class: the proxy treats a Connector as a registry by its class's label.
  await env.apply(stringify(loadBuiltinClass('oci')));
  await env.serviceAccount('fixture-waiter');
  const waiterToken = await env.token('fixture-waiter');
  return {
    env,
    robotPassword,
    async addRegistry(name, opts) {
      const registry = await startRegistry({
        ...opts,
        users: { [ROBOT]: robotPassword, admin: 'admin-' + randomBytes(6).toString('hex') },
      });
      registries.push(registry);
      await env.apply(
        objects.yaml(
          objects.registryTokenSecret(`${name}-creds`, ROBOT, robotPassword),
          objects.connector(name, {
            className: 'oci',
            address: registry.url,
            auth: { name: 'tokenAuth', secret: `${name}-creds` },
          }),
        ),
      );
      // Ready once the proxy's watch has the Connector and its Secret: the Connector's API base answers 200.
      await eventually(
        `the proxy to serve connector ${name}`,
        async () => {
          const r = await fetch(`${env.proxy.url}/v2/namespaces/${env.ns}/connectors/${name}/`, {
            headers: { authorization: basic('u', waiterToken) },
          });
          await r.arrayBuffer();
          return r.status === 200;
        },
        15_000,
        50,
      );
      return registry;
    },
    refPrefix: (name) => `${host}/namespaces/${env.ns}/connectors/${name}`,
    async stop() {
      for (const r of registries) await r.stop().catch(() => {});
      await env.stop();
    },
  };
}
