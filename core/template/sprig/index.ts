// The sprig v3.3.0 function map (sprig.TxtFuncMap), assembled from one module per family.
import type { FuncMap } from '../functions.ts';
import { cryptoFuncs } from './crypto.ts';
import { dateFuncs } from './dates.ts';
import { defaultFuncs } from './defaults.ts';
import { dictFuncs } from './dicts.ts';
import { encodingFuncs } from './encoding.ts';
import { flowFuncs } from './flow.ts';
import { listFuncs } from './lists.ts';
import { mathFuncs } from './math.ts';
import { pathFuncs } from './paths.ts';
import { reflectFuncs } from './reflect.ts';
import { regexFuncs } from './regex.ts';
import { semverFuncs } from './semver.ts';
import { stringFuncs } from './strings.ts';
import { urlFuncs } from './urls.ts';
import { fn } from '../functions.ts';

let cached: FuncMap | undefined;

/** All sprig functions (plus Helm's `required`), built once. */
export function sprigFuncs(): FuncMap {
  if (cached) return cached;
  const all = Object.create(null) as FuncMap;
  for (const funcs of [
    { hello: fn([], 'string', () => 'Hello!') },
    dateFuncs(),
    stringFuncs(),
    mathFuncs(),
    listFuncs(),
    dictFuncs(),
    defaultFuncs(),
    reflectFuncs(),
    flowFuncs(),
    pathFuncs(),
    encodingFuncs(),
    cryptoFuncs(),
    semverFuncs(),
    regexFuncs(),
    urlFuncs(),
  ])
    Object.assign(all, funcs);
  cached = all;
  return all;
}
