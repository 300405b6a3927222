// The one error type of the upstream client: a short, secret-free kind for metrics and 502/504 bodies.
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  /** 'connect timeout', 'headers timeout', 'idle timeout', 'connection reset', 'invalid response', an errno code... */
  readonly kind: string;
  constructor(kind: string, message = kind) {
    super(message);
    this.kind = kind;
  }
}

/**
 * The code of the error a connection fails with when where it would go is refused (forward mode to a loopback or
 * link-local address, or to the proxy itself): the caller answers 403.
 */
export const TARGET_REFUSED = 'ETARGETREFUSED';
