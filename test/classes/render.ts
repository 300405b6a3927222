// Pure helpers of the class tests: Connectors of a built-in class shaped as the controller leaves them, and
// the files the CSI driver renders for them (csi/render.ts, the driver's own code).
import type { Connector } from '../../core/api/index.ts';
import { loadBuiltinClass, type BuiltinClass } from '../../connectorclasses/index.ts';
import { renderVolume } from '../../csi/render.ts';

export interface ConnectorInput {
  namespace: string;
  name: string;
  address: string;
  /** status.proxy.httpAddress.url */
  proxy: string;
  addressExtensions?: Array<{ name: string; value: string }>;
}

export function connectorOf(className: string, c: ConnectorInput): Connector {
  return {
    apiVersion: 'connectors.alauda.io/v1alpha1',
    kind: 'Connector',
    metadata: { name: c.name, namespace: c.namespace },
    spec: {
      connectorClassName: className,
      address: c.address,
      ...(c.addressExtensions ? { addressExtensions: c.addressExtensions } : {}),
    },
    status: { proxy: { httpAddress: { url: c.proxy } } },
  };
}

/** The files of a volume naming `connectors` (all of class `className`) with configuration.names = `names`. */
export function renderClass(
  className: string,
  connectors: ConnectorInput[],
  names: string[],
  o: { token?: string; caCert?: string; forwardProxyURL?: string; cls?: BuiltinClass } = {},
): Map<string, string> {
  const cls = o.cls ?? loadBuiltinClass(className);
  return renderVolume({
    connectors: connectors.map((c) => ({ connector: connectorOf(className, c), cls })),
    includes: names,
    excludes: [],
    params: {},
    token: o.token ?? 'token-for-tests',
    caCert: o.caCert ?? '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    forwardProxyURL: o.forwardProxyURL ?? 'http://connectors-proxy-service.connectors-system.svc.cluster.local',
  });
}

export const b64 = (s: string) => Buffer.from(s).toString('base64');
