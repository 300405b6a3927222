// The request line and header section the proxy sends to a tool (pure). Every field name and value is checked,
// so a value made by a template or a policy cannot smuggle a line break into the request.
import type { Readable } from 'node:stream';
import { UpstreamError } from './errors.ts';
import { BAD_VALUE, lowerName, TOKEN } from './fields.ts';

/** Methods whose requests carry a body by definition: an empty one is announced with Content-Length: 0. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * `method path HTTP/1.1`, Host from the URL, the given fields (Host, Connection, Transfer-Encoding dropped;
 * Content-Length kept only for a streamed body), then the framing: Content-Length of a whole body, chunked
 * for a stream of unknown length.
 */
export function serializeRequestHead(
  method: string,
  url: URL,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer | Readable | undefined,
  chunked: boolean,
): string {
  if (!TOKEN.test(method)) throw new UpstreamError('invalid request', 'invalid request method');
  const streamed = body !== undefined && !Buffer.isBuffer(body);
  let head = method + ' ' + (url.pathname + url.search || '/') + ' HTTP/1.1\r\nhost: ' + url.host + '\r\n';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = lowerName(name);
    if (
      lower === 'host' ||
      lower === 'connection' ||
      lower === 'transfer-encoding' ||
      (lower === 'content-length' && !streamed)
    )
      continue;
    if (!TOKEN.test(name)) throw new UpstreamError('invalid request', 'invalid header name');
    if (typeof value === 'string') head += fieldLine(name, value);
    else for (const v of value) head += fieldLine(name, v);
  }
  if (Buffer.isBuffer(body)) head += 'content-length: ' + body.length + '\r\n';
  else if (chunked) head += 'transfer-encoding: chunked\r\n';
  else if (!streamed && BODY_METHODS.has(method)) head += 'content-length: 0\r\n';
  return head + '\r\n';
}

function fieldLine(name: string, value: string): string {
  if (BAD_VALUE.test(value)) throw new UpstreamError('invalid request', `header ${name} has a line break`);
  return name + ': ' + value + '\r\n';
}
