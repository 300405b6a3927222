// `GET /git/gitrefs` (operationId listGitRefs), pure parts: which repository may be asked with the Connector's
// credentials, the discovery request, and the list items. The repository must be the Connector's own tool: same
// scheme, host and port as the Connector address and under its path, so a caller cannot have the credentials
// sent to a host of its choosing.
import { basicAuthorization } from '../../core/connector/credentials.ts';
import type { AdvertisedRef } from './pktline.ts';

export class GitRefsRequestError extends Error {
  override name = 'GitRefsRequestError';
}

export interface GitRef {
  /** Full ref name, e.g. `refs/heads/main`, `refs/tags/v1.0`. */
  name: string;
  /** The commit the ref names (for an annotated tag, the object it points to). */
  commitID: string;
}

const originOf = (u: URL) =>
  `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;

/** The repository URL, checked to lie under the Connector address (no credentials or fragment in it). */
export function repositoryUnder(baseURL: string, repositoryUrl: string | undefined): URL {
  if (!repositoryUrl) throw new GitRefsRequestError('query parameter repositoryUrl is required');
  let base: URL;
  let repo: URL;
  try {
    base = new URL(baseURL);
  } catch {
    throw new GitRefsRequestError(`the connector address ${JSON.stringify(baseURL)} is not a URL`);
  }
  try {
    repo = new URL(repositoryUrl);
  } catch {
    throw new GitRefsRequestError(`repositoryUrl ${JSON.stringify(repositoryUrl)} is not a URL`);
  }
  if (repo.protocol !== 'http:' && repo.protocol !== 'https:')
    throw new GitRefsRequestError(`repositoryUrl must be an http(s) URL, got ${JSON.stringify(repo.protocol)}`);
  if (repo.username || repo.password) throw new GitRefsRequestError('repositoryUrl must not carry credentials');
  if (repo.search || repo.hash) throw new GitRefsRequestError('repositoryUrl must not have a query or fragment');
  const prefix = base.pathname.replace(/\/+$/, '');
  const path = repo.pathname.replace(/\/+$/, '');
  // %2F and %5C would let a path look under the prefix to this check and elsewhere to the server.
  if (/%2f|%5c/i.test(repo.pathname)) throw new GitRefsRequestError('repositoryUrl must not contain encoded slashes');
  if (originOf(repo) !== originOf(base) || !(path.startsWith(prefix + '/') && path.length > prefix.length + 1))
    throw new GitRefsRequestError(
      `repositoryUrl ${JSON.stringify(repositoryUrl)} is not a repository under the connector address ${JSON.stringify(baseURL)}`,
    );
  return repo;
}

/** Smart-HTTP discovery: `<repository>/info/refs?service=git-upload-pack`. */
export function infoRefsUrl(repo: URL): URL {
  const u = new URL(repo.href);
  u.pathname = u.pathname.replace(/\/+$/, '') + '/info/refs';
  u.search = '?service=git-upload-pack';
  return u;
}

/** How the plugin authenticates to the git server with the Connector's Secret. */
export function gitAuthorization(secretType: string | undefined, data: Record<string, string>): string | undefined {
  if (secretType === 'kubernetes.io/basic-auth' && (data.username !== undefined || data.password !== undefined))
    return basicAuthorization(data.username ?? '', data.password ?? '');
  if (secretType === 'connectors.cpaas.io/bearer-token' && data.token) return `Bearer ${data.token}`;
  return undefined;
}

/** Branches and tags of an advertisement, in the server's order, filtered by `search` (case-insensitive). */
export function gitRefItems(refs: AdvertisedRef[], search: string | undefined): GitRef[] {
  const needle = search?.toLowerCase() ?? '';
  const out: GitRef[] = [];
  for (const r of refs) {
    if (!r.name.startsWith('refs/heads/') && !r.name.startsWith('refs/tags/')) continue;
    if (needle && !r.name.toLowerCase().includes(needle)) continue;
    out.push({ name: r.name, commitID: r.peeled ?? r.oid });
  }
  return out;
}
