// What a Connectors API request needs in RBAC (pure). Always `get` on the Connector. With
// enable-connector-apis-permissions also the capability subresource `connectors/apis` for the request's verb, at
// any one of three levels (the first that allows is enough):
//   connectors/apis                                  every class (the built-in roles grant `get` here)
//   connectors/apis/<class>                          any path of that class
//   connectors/apis/<class><openapi path template>   e.g. connectors/apis/gitlab/api/v4/projects/{project_id}/…
// each with the Connector's name as the resource name, so a Role may also list resourceNames.
//
// The verb: GET/HEAD/OPTIONS → get, POST → create, PUT → update, DELETE → delete, PATCH → patch; or, when the
// class has spec.api.permissions.rego, its result.verb: read → get, delete → delete, write → the method's own
// write verb (update for a method that is not one), '' → the method's mapping.
import type { PermissionVerb } from '../core/opa/permissions.ts';

export const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const WRITE_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

const METHOD_VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  OPTIONS: 'get',
  POST: 'create',
  PUT: 'update',
  DELETE: 'delete',
  PATCH: 'patch',
};

/** The Kubernetes verb of an HTTP method; undefined for a method the API does not pass (TRACE, CONNECT, ...). */
export function methodVerb(method: string): string | undefined {
  return METHOD_VERBS[method];
}

/** The Kubernetes verb for a request whose class policy said `verb`. */
export function policyVerb(verb: PermissionVerb, method: string): string | undefined {
  switch (verb) {
    case 'read':
      return 'get';
    case 'delete':
      return 'delete';
    case 'write': {
      const own = methodVerb(method);
      return own && own !== 'get' && own !== 'delete' ? own : 'update';
    }
    default:
      return methodVerb(method);
  }
}

/** The `connectors/apis` subresources to try, broadest first (RBAC resource `connectors/<subresource>`). */
export function apisSubresources(className: string, template: string | undefined): string[] {
  const out = ['apis', `apis/${className}`];
  if (template) out.push(`apis/${className}${template}`);
  return out;
}
