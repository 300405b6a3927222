// Flow control (fail, and Helm's `required`) and the functions that would reach the operating
// system or the network, which templates may not use.
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import type { GoValue } from '../values.ts';

export function flowFuncs(): FuncMap {
  return {
    fail: fn(
      ['string'],
      'string',
      (msg: string) => {
        throw new FuncError(msg);
      },
      { errReturn: true },
    ),
    // Helm's `required` (not in sprig itself): fails with the message when the value is nil or "".
    required: fn(
      ['string', 'interface {}'],
      'interface {}',
      (warn: string, val: GoValue) => {
        if (val === null || val === undefined || val === '') throw new FuncError(warn);
        return val;
      },
      { errReturn: true },
    ),
    env: fn(
      ['string'],
      'string',
      () => {
        throw new FuncError('env is disabled: templates cannot read the environment');
      },
      { errReturn: true },
    ),
    expandenv: fn(
      ['string'],
      'string',
      () => {
        throw new FuncError('expandenv is disabled: templates cannot read the environment');
      },
      { errReturn: true },
    ),
    getHostByName: fn(
      ['string'],
      'string',
      () => {
        throw new FuncError('getHostByName is disabled: templates cannot use the network');
      },
      { errReturn: true },
    ),
  };
}
