// RFC 6902 JSON Patch operations as the admission response carries them, with RFC 6901 pointer escaping.
export type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** One RFC 6901 reference token: `~` → `~0`, `/` → `~1`. */
export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A JSON pointer from tokens: pointer('metadata', 'annotations', 'a/b') → /metadata/annotations/a~1b. */
export function pointer(...tokens: Array<string | number>): string {
  return tokens.map((t) => '/' + escapePointerToken(t)).join('');
}

/** The patch as the AdmissionReview response wants it: base64 of its JSON. */
export function encodePatch(ops: JsonPatchOp[]): string {
  return Buffer.from(JSON.stringify(ops)).toString('base64');
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * The document after the ops (a copy; the input is untouched), for decisions that build on an earlier
 * decision's patch. Supports what our webhooks emit: add (object member, array index or `-`), replace, remove.
 */
export function applyPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    const tokens = op.path.split('/').slice(1).map(unescapeToken);
    const last = tokens.pop();
    if (last === undefined) throw new Error(`JSON patch: cannot ${op.op} the whole document`);
    let parent = out as Record<string, unknown> | unknown[];
    for (const t of tokens) {
      const next = Array.isArray(parent) ? parent[Number(t)] : parent[t];
      if (!next || typeof next !== 'object')
        throw new Error(`JSON patch: ${op.path}: no parent at ${JSON.stringify(t)}`);
      parent = next as Record<string, unknown> | unknown[];
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'replace') parent[i] = structuredClone(op.value);
      else parent.splice(i, 1);
    } else if (op.op === 'remove') delete parent[last];
    else parent[last] = structuredClone(op.value);
  }
  return out as T;
}
