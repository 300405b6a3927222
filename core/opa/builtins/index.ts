// The built-ins we implement in TypeScript for policies compiled to wasm: everything a credential generator
// or extractor plausibly needs that OPA's wasm target does not implement natively (see ../capabilities.ts).
import { randomUUID } from 'node:crypto';
import { cryptoBuiltins } from './crypto.ts';
import { encodingBuiltins } from './encoding.ts';
import { jwtBuiltins } from './jwt.ts';
import { stringsBuiltins } from './strings.ts';
import { timeBuiltins } from './time.ts';
import type { BuiltinContext, BuiltinTable } from './types.ts';

export type { BuiltinContext, BuiltinDecl, BuiltinDef, BuiltinTable } from './types.ts';

const uuidBuiltins: BuiltinTable = {
  'uuid.rfc4122': {
    // Stable per seed within one evaluation, as OPA documents.
    impl: (ctx: BuiltinContext, k: unknown) => {
      const key = String(k);
      let id = ctx.uuids.get(key);
      if (!id) ctx.uuids.set(key, (id = randomUUID()));
      return id;
    },
  },
};

/** name → implementation (and, for non-OPA names, a type declaration for the capabilities file). */
export const BUILTINS: BuiltinTable = {
  ...timeBuiltins,
  ...cryptoBuiltins,
  ...encodingBuiltins,
  ...stringsBuiltins,
  ...jwtBuiltins,
  ...uuidBuiltins,
};

/** The table as opa-wasm's `customBuiltins`, each bound to a context the caller resets per evaluation. */
export function bindBuiltins(
  ctx: BuiltinContext,
  table: BuiltinTable = BUILTINS,
): Record<string, (...args: unknown[]) => unknown> {
  const out: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, def] of Object.entries(table)) out[name] = (...args: unknown[]) => def.impl(ctx, ...args);
  return out;
}
