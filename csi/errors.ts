// Errors the CSI driver returns: each carries the gRPC status code kubelet reports in the Pod's
// FailedMount event (`rpc error: code = NotFound desc = connector "x" not found`).
import { status } from '@grpc/grpc-js';

export class CsiError extends Error {
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.code = code;
  }
}

export const invalidArgument = (message: string) => new CsiError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new CsiError(status.NOT_FOUND, message);
export const permissionDenied = (message: string) => new CsiError(status.PERMISSION_DENIED, message);
export const failedPrecondition = (message: string) => new CsiError(status.FAILED_PRECONDITION, message);
export const internal = (message: string) => new CsiError(status.INTERNAL, message);
export const unavailable = (message: string) => new CsiError(status.UNAVAILABLE, message);

/** The gRPC code name (`NotFound`, ...) of a status, for logs and metrics. */
export function codeName(code: status): string {
  const upper = status[code] ?? 'UNKNOWN';
  return upper.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
}
