// The helper functions of Go's text/template exec_test.go, with their Go signatures, so that the
// rows of exec_test.go run against the engine exactly as against the Go oracle (funcs: "exectest").
import { FuncError, defineFunc, type FuncMap, type GoValue } from '../../core/template/index.ts';
import { GoInt } from '../../core/template/values.ts';
import { newMap } from '../../core/template/values.ts';
import { sprintln } from '../../core/template/fmt.ts';
import { tagArray } from '../../core/template/values.ts';
import { typeName } from '../../core/template/sprig/reflect.ts';

export function execTestFuncs(): FuncMap {
  return {
    add: defineFunc(
      [],
      'int',
      (...args: GoInt[]) =>
        new GoInt(
          'int',
          args.reduce((a, b) => a + b.v, 0n),
        ),
      { variadic: 'int' },
    ),
    dddArg: defineFunc(
      ['int'],
      'string',
      (a: GoInt, ...b: string[]) => sprintln([a, tagArray(b as GoValue[], '[]string')]),
      { variadic: 'string' },
    ),
    die: defineFunc([], 'bool', () => {
      throw new FuncError('die');
    }),
    echo: defineFunc(['interface {}'], 'interface {}', (a: GoValue) => a),
    makemap: defineFunc(
      [],
      'map[string]string',
      (...arg: string[]) => {
        if (arg.length % 2 !== 0) throw new FuncError('bad makemap');
        const m = newMap('map[string]string');
        for (let i = 0; i < arg.length; i += 2) m[arg[i]] = arg[i + 1];
        return m;
      },
      { variadic: 'string' },
    ),
    mapOfThree: defineFunc([], 'interface {}', () => {
      const m = newMap('map[string]int');
      m.three = new GoInt('int', 3n);
      return m;
    }),
    oneArg: defineFunc(['string'], 'string', (a: string) => 'oneArg=' + a),
    returnInt: defineFunc([], 'int', () => new GoInt('int', 7n)),
    twoArgs: defineFunc(['string', 'string'], 'string', (a: string, b: string) => 'twoArgs=' + a + b),
    typeOf: defineFunc(['interface {}'], 'string', (a: GoValue) => typeName(a)),
    valueString: defineFunc(['string'], 'string', () => 'value is ignored'),
    zeroArgs: defineFunc([], 'string', () => 'zeroArgs'),
  };
}
