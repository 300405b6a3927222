// Connectors CSI node driver (`connectors csi`, and a component of `connectors up`).
export {
  startCsiDriver,
  startLocalNode,
  socketPath,
  DRIVER_NAME,
  MULTI_CONNECTOR_FLAG,
  NodeServer,
  type CsiDriver,
  type CsiDriverOptions,
  type LocalNode,
} from './driver.ts';
export { ConnectorSource, type VolumeSource, type VolumeGate, type Volume } from './source.ts';
export { Publisher } from './publisher.ts';
export { TmpfsMounter, DirMounter, detectMounter, mounterFor, type Mounter } from './mounter.ts';
export { renderVolume, builtinFiles, forwardProxyWithAuth, type RenderInput } from './render.ts';
export { parseVolumeRequest, KEYS as VOLUME_KEYS } from './attributes.ts';
export { writeFileSet, readFileSet } from './atomicwriter.ts';
