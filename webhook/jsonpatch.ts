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
