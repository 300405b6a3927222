// HTTP/1.1 field syntax (RFC 9110 §5), shared by the front, the response parser and the request writer.

/** A token: field names and methods. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What must never be inside a field value on the wire (it would end the line or the string). */
export const BAD_VALUE = /[\0\r\n]/;
/**
 * A byte a field value may not hold (RFC 9110 §5.5: field-vchar, space, tab, obs-text): the controls and DEL.
 * node:http's writeHead throws on the same set, so an upstream's value with one cannot be relayed.
 */
export const NOT_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** The end of a head (a Buffer: Buffer#indexOf converts a string needle on every call). */
export const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** `value` without leading and trailing spaces and tabs (optional whitespace; String#trim takes more, e.g. 0xA0). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

const isOws = (c: number) => c === 0x20 || c === 0x09;

/**
 * Frequent field names by the spellings clients and servers send, to their lower case. A parsed name found here
 * is not lower-cased again, and the constant it maps to is an interned string: a property key that needs no
 * hashing and string-table lookup on each request, unlike a freshly sliced and lower-cased name.
 */
const KNOWN_NAMES = new Map<string, string>();
for (const n of [
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'authorization',
  'cache-control',
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'date',
  'docker-content-digest',
  'docker-distribution-api-version',
  'etag',
  'expires',
  'git-protocol',
  'host',
  'keep-alive',
  'last-modified',
  'location',
  'pragma',
  'server',
  'transfer-encoding',
  'user-agent',
  'vary',
  'www-authenticate',
  'x-content-type-options',
]) {
  KNOWN_NAMES.set(n, n);
  KNOWN_NAMES.set(
    n.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase()),
    n,
  ); // User-Agent; other spellings take toLowerCase
}

/** `name` (a field name) in lower case. */
export function lowerName(name: string): string {
  return KNOWN_NAMES.get(name) ?? name.toLowerCase();
}
