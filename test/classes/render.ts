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
  /** spec.params */
  params?: Record<string, string>;
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
      ...(c.params ? { params: Object.entries(c.params).map(([name, value]) => ({ name, value })) } : {}),
    },
    status: { proxy: { httpAddress: { url: c.proxy } } },
  };
}

/** The files of a volume naming `connectors` (all of class `className`) with configuration.names = `names`. */
export function renderClass(
  className: string,
  connectors: ConnectorInput[],
  names: string[],
  o: {
    token?: string;
    caCert?: string;
    forwardProxyURL?: string;
    cls?: BuiltinClass;
    /** The volume attribute configuration.params, by configuration name. */
    params?: Record<string, Record<string, string>>;
    /** The class's status.proxy.httpAddress.url (.connectorclass.proxyAddress). */
    classProxy?: string;
  } = {},
): Map<string, string> {
  const cls = structuredClone(o.cls ?? loadBuiltinClass(className));
  if (o.classProxy) cls.status = { ...cls.status, proxy: { httpAddress: { url: o.classProxy } } };
  return renderVolume({
    connectors: connectors.map((c) => ({ connector: connectorOf(className, c), cls })),
    includes: names,
    excludes: [],
    params: o.params ?? {},
    token: o.token ?? 'token-for-tests',
    caCert: o.caCert ?? '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    forwardProxyURL: o.forwardProxyURL ?? 'http://connectors-proxy-service.connectors-system.svc.cluster.local',
  });
}

export const b64 = (s: string) => Buffer.from(s).toString('base64');
