// The limit flags the proxy and the Connectors API share (both relay clients' requests to tools through
// core/http1), and their parsing into the options of startProxy/startApi. Defaults: docs/security.md.
import type { OptionSpec } from './command.ts';

type Values = Record<string, string | boolean | string[] | undefined>;

/** The shared flags; `perClient` names the per-requester cap (ServiceAccount for the proxy, user for the API). */
export function limitFlags(perClient: { flag: string; who: string }): Record<string, OptionSpec> {
  return {
    'max-connections': {
      type: 'string',
      valueName: 'N',
      default: '10000',
      description: 'Client connections open at once (0: no cap); further ones are closed as they come.',
    },
    [perClient.flag]: {
      type: 'string',
      valueName: 'N',
      default: '128',
      description: `Requests one ${perClient.who} may have in flight to the tools (0: no cap); more get 429.`,
    },
    'upstream-connections': {
      type: 'string',
      valueName: 'N',
      default: '256',
      description: 'Kept-alive connections per upstream origin.',
    },
    'pool-wait-seconds': {
      type: 'string',
      valueName: 'S',
      default: '10',
      description: 'How long a request waits for an upstream connection when all are busy; then 503.',
    },
    'send-timeout-seconds': {
      type: 'string',
      valueName: 'S',
      default: '60',
      description: 'How long a response waits for a client that does not read it; then the connection is closed.',
    },
    'request-timeout-seconds': {
      type: 'string',
      valueName: 'S',
      default: '600',
      description: 'Longest time to receive a whole request, body included; then 408.',
    },
    'max-reviews-in-flight': {
      type: 'string',
      valueName: 'N',
      default: '32',
      description:
        'TokenReviews and SubjectAccessReviews asked of the apiserver at once; more wait up to 10 s, then 503.',
    },
    'auth-failure-burst': {
      type: 'string',
      valueName: 'N',
      default: '20',
      description: 'Failed authentications one client address may cause at once before it gets 429...',
    },
    'auth-failures-per-second': {
      type: 'string',
      valueName: 'R',
      default: '1',
      description: '...and the rate at which it may cause more.',
    },
  };
}

/** The shared flags' values as options (the per-requester cap as `perClient`); a bad number throws naming its flag. */
export function parseLimits(values: Values, perClientFlag: string) {
  const number = (flag: string, fallback: number, integer = true): number => {
    const raw = values[flag];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (
      typeof raw !== 'string' ||
      raw.trim() === '' ||
      !Number.isFinite(n) ||
      n < 0 ||
      (integer && !Number.isInteger(n))
    )
      throw new Error(`--${flag} must be a${integer ? ' whole' : ''} number >= 0, got ${JSON.stringify(raw)}`);
    return n;
  };
  const seconds = (flag: string, fallback: number) => number(flag, fallback, false) * 1000;
  return {
    maxConnections: number('max-connections', 10_000),
    perClient: number(perClientFlag, 128),
    requestTimeoutMs: seconds('request-timeout-seconds', 600),
    upstream: {
      connections: number('upstream-connections', 256),
      poolWaitMs: seconds('pool-wait-seconds', 10),
      sendTimeoutMs: seconds('send-timeout-seconds', 60),
    },
    reviewLimits: {
      maxInFlight: number('max-reviews-in-flight', 32),
      failureBurst: number('auth-failure-burst', 20),
      failuresPerSecond: number('auth-failures-per-second', 1, false),
    },
  };
}
