// The OCI registry's authentication challenge, read by the proxy (to do the registry's token flow for a
// client) and by the controller (to check a registry account the way `docker login` does): the
// `WWW-Authenticate` of a 401 says Basic (the registry judges Basic credentials itself) or Bearer with the
// token service's realm, service and scope.

export interface Challenge {
  scheme: 'basic' | 'bearer' | 'none';
  realm?: string;
  service?: string;
  scope?: string;
}

/** Parses the registry's `WWW-Authenticate` (pure); the first Bearer or Basic challenge wins, Bearer first. */
export function parseChallenge(value: string | string[] | undefined): Challenge | undefined {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  let basic: Challenge | undefined;
  for (const v of values) {
    const bearer = /(?:^|[\s,])bearer\s+/i.exec(v);
    if (bearer) {
      const params: Record<string, string> = {};
      const pre = /([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
      const text = v.slice(bearer.index + bearer[0].length);
      for (let p = pre.exec(text); p; p = pre.exec(text))
        params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
      return { scheme: 'bearer', realm: params.realm, service: params.service, scope: params.scope };
    }
    if (/(?:^|[\s,])basic(\s|$)/i.test(v)) basic ??= { scheme: 'basic' };
  }
  return basic;
}
