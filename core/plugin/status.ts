// Errors of the Connectors API as Kubernetes `Status` objects (pure), the form the reference's clients read:
//   {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"…","reason":"BadRequest","code":400}
// The reason follows from the code (Kubernetes' StatusReason names; 502 has none there and is BadGateway).

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  408: 'Timeout',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  431: 'RequestHeaderFieldsTooLarge',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string };
}

export function statusReason(code: number): string {
  return REASONS[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest');
}

export function failure(code: number, message: string, details?: Status['details']): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: statusReason(code),
    code,
    ...(details ? { details } : {}),
  };
}

/** Writes a Status answer on a response that has not started (one that has is cut instead). */
export function sendStatus(
  res: {
    headersSent: boolean;
    writeHead(status: number, headers: Record<string, string | number>): unknown;
    end(body: string): unknown;
    destroy(): unknown;
  },
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(failure(code, message));
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}
