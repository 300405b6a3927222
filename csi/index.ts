// Connectors CSI node driver (`connectors csi`, and a component of `connectors up`).
export {
  startCsiDriver,
  socketPath,
  DRIVER_NAME,
  MULTI_CONNECTOR_FLAG,
  NodeServer,
  type CsiDriver,
  type CsiDriverOptions,
} from './driver.ts';
export { TmpfsMounter, DirMounter, detectMounter, mounterFor, type Mounter } from './mounter.ts';
export { renderVolume, builtinFiles, forwardProxyWithAuth, type RenderInput } from './render.ts';
export { parseVolumeRequest, KEYS as VOLUME_KEYS } from './attributes.ts';
export { writeFileSet, readFileSet } from './atomicwriter.ts';
