// The cache key of a client's token, remembered per connection.
import { tokenKey } from './review.ts';

/**
 * The cache key (sha256) of the token last used on a client connection: a keep-alive client repeats the same
 * token, which is then compared instead of hashed again. The token is kept only as long as the connection it
 * came on (the entry goes with the socket), never in a process-wide map.
 */
const lastTokenKey = new WeakMap<object, { token: string; key: string }>();
export function connectionTokenKey(token: string, conn: object | undefined): string {
  if (!conn) return tokenKey(token);
  const last = lastTokenKey.get(conn);
  if (last && last.token === token) return last.key;
  const key = tokenKey(token);
  lastTokenKey.set(conn, { token, key });
  return key;
}
