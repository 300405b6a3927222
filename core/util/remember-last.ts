// A memo of one: per-request calls that mostly repeat the previous request's argument (the same client, the
// same Connector) skip their work then, and nothing grows with the number of distinct arguments.

/** `fn`, remembering its last argument and result. */
export function rememberLast<T>(fn: (arg: string) => T): (arg: string) => T {
  let last: string | undefined;
  let result: T;
  return (arg) => {
    if (arg !== last) {
      result = fn(arg);
      last = arg;
    }
    return result;
  };
}
