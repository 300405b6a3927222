// Masterminds/semver v3.3.0: versions, constraints and the sprig functions semver/semverCompare.
import { FuncError } from '../errors.ts';
import { fn } from '../functions.ts';
import type { FuncMap } from '../functions.ts';
import { marshal } from '../json.ts';
import type { GoMethod } from '../values.ts';
import { GoInt, GoStruct } from '../values.ts';

const SEMVER =
  String.raw`v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?` +
  String.raw`(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?` +
  String.raw`(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?`;
const VERSION_RE = new RegExp('^' + SEMVER + '$');
const CV =
  String.raw`v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?` +
  String.raw`(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?` +
  String.raw`(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?`;
const OPS = String.raw`=||!=|>|<|>=|=>|<=|=<|~|~>|\^`;
const S = String.raw`[\t\n\f\r ]`;
const CONSTRAINT_RE = new RegExp(`^${S}*(${OPS})${S}*(${CV})${S}*$`);
const RANGE_RE = new RegExp(`${S}*(${CV})${S}+-${S}+(${CV})${S}*`, 'g');
const FIND_RE = new RegExp(`(${OPS})${S}*(${CV})`, 'g');
const VALID_RE = new RegExp(`^(${S}*(${OPS})${S}*(${CV})${S}*)((?:${S}+|,${S}*)(${OPS})${S}*(${CV})${S}*)*$`);

const NUM = /^[0-9]*$/;
const ALLOWED = /^[a-zA-Z0-9-]*$/;
const U64MAX = 18446744073709551615n;

export class Version extends GoStruct {
  readonly goType = '*semver.Version';
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string;
  metadata: string;
  original: string;
  constructor(major: bigint, minor: bigint, patch: bigint, pre: string, metadata: string, original: string) {
    super();
    this.major = major;
    this.minor = minor;
    this.patch = patch;
    this.pre = pre;
    this.metadata = metadata;
    this.original = original;
  }
  override toString(): string {
    let s = `${this.major}.${this.minor}.${this.patch}`;
    if (this.pre) s += '-' + this.pre;
    if (this.metadata) s += '+' + this.metadata;
    return s;
  }
  override stringer(): string {
    return this.toString();
  }
  override fields(): [string, never][] {
    return [];
  }
  marshalJSON(): string {
    return marshal(this.toString());
  }
  deepEqual(o: GoStruct): boolean {
    return (
      o instanceof Version &&
      o.major === this.major &&
      o.minor === this.minor &&
      o.patch === this.patch &&
      o.pre === this.pre &&
      o.metadata === this.metadata &&
      o.original === this.original
    );
  }
  compare(o: Version): number {
    for (const [a, b] of [
      [this.major, o.major],
      [this.minor, o.minor],
      [this.patch, o.patch],
    ]) {
      if (a < b) return -1;
      if (a > b) return 1;
    }
    if (this.pre === '' && o.pre === '') return 0;
    if (this.pre === '') return 1;
    if (o.pre === '') return -1;
    return comparePrerelease(this.pre, o.pre);
  }
  private prefix(): string {
    return this.original.startsWith('v') ? 'v' : '';
  }
  private derive(major: bigint, minor: bigint, patch: bigint, pre: string, meta: string): Version {
    const v = new Version(major, minor, patch, pre, meta, '');
    v.original = this.prefix() + v.toString();
    return v;
  }
  override method(name: string): GoMethod | undefined {
    const u64 = (v: bigint) => new GoInt('uint64', v);
    const other = ['*semver.Version'];
    switch (name) {
      case 'Major':
        return { params: [], ret: 'uint64', call: () => u64(this.major) };
      case 'Minor':
        return { params: [], ret: 'uint64', call: () => u64(this.minor) };
      case 'Patch':
        return { params: [], ret: 'uint64', call: () => u64(this.patch) };
      case 'Prerelease':
        return { params: [], ret: 'string', call: () => this.pre };
      case 'Metadata':
        return { params: [], ret: 'string', call: () => this.metadata };
      case 'Original':
        return { params: [], ret: 'string', call: () => this.original };
      case 'String':
        return { params: [], ret: 'string', call: () => this.toString() };
      case 'IncPatch':
        return {
          params: [],
          ret: 'semver.Version',
          call: () =>
            this.pre
              ? this.derive(this.major, this.minor, this.patch, '', '')
              : this.derive(this.major, this.minor, this.patch + 1n, '', ''),
        };
      case 'IncMinor':
        return { params: [], ret: 'semver.Version', call: () => this.derive(this.major, this.minor + 1n, 0n, '', '') };
      case 'IncMajor':
        return { params: [], ret: 'semver.Version', call: () => this.derive(this.major + 1n, 0n, 0n, '', '') };
      case 'LessThan':
        return { params: other, ret: 'bool', call: (o) => this.compare(o as Version) < 0 };
      case 'LessThanEqual':
        return { params: other, ret: 'bool', call: (o) => this.compare(o as Version) <= 0 };
      case 'GreaterThan':
        return { params: other, ret: 'bool', call: (o) => this.compare(o as Version) > 0 };
      case 'GreaterThanEqual':
        return { params: other, ret: 'bool', call: (o) => this.compare(o as Version) >= 0 };
      case 'Equal':
        return { params: other, ret: 'bool', call: (o) => this.compare(o as Version) === 0 };
      case 'Compare':
        return { params: other, ret: 'int', call: (o) => new GoInt('int', BigInt(this.compare(o as Version))) };
    }
    return undefined;
  }
}

function comparePrerelease(v: string, o: string): number {
  const sp = v.split('.');
  const op = o.split('.');
  const l = Math.max(sp.length, op.length);
  for (let i = 0; i < l; i++) {
    const d = comparePrePart(sp[i] ?? '', op[i] ?? '');
    if (d !== 0) return d;
  }
  return 0;
}

function parseU(s: string): bigint | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v > U64MAX ? undefined : v;
}

function comparePrePart(s: string, o: string): number {
  if (s === o) return 0;
  if (s === '') return o !== '' ? -1 : 1;
  if (o === '') return s !== '' ? 1 : -1;
  const oi = parseU(o);
  const si = parseU(s);
  if (oi === undefined && si === undefined) return s > o ? 1 : -1;
  if (oi === undefined) return -1;
  if (si === undefined) return 1;
  return si > oi ? 1 : -1;
}

function validatePrerelease(p: string): void {
  for (const part of p.split('.')) {
    if (NUM.test(part)) {
      if (part.length > 1 && part[0] === '0') throw new FuncError('Version segment starts with 0');
    } else if (!ALLOWED.test(part)) throw new FuncError('Invalid Prerelease string');
  }
}

function validateMetadata(m: string): void {
  for (const part of m.split('.')) if (!ALLOWED.test(part)) throw new FuncError('Invalid Metadata string');
}

function segment(s: string): bigint {
  const v = parseU(s);
  if (v === undefined)
    throw new FuncError(
      `Error parsing version segment: strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`,
    );
  return v;
}

export function newVersion(v: string): Version {
  const m = VERSION_RE.exec(v);
  if (!m) throw new FuncError('Invalid Semantic Version');
  const sv = new Version(
    segment(m[1]),
    m[2] ? segment(m[2].slice(1)) : 0n,
    m[3] ? segment(m[3].slice(1)) : 0n,
    m[5] ?? '',
    m[8] ?? '',
    v,
  );
  if (sv.pre) validatePrerelease(sv.pre);
  if (sv.metadata) validateMetadata(sv.metadata);
  return sv;
}

interface Constraint {
  con: Version;
  orig: string;
  origfunc: string;
  minorDirty: boolean;
  patchDirty: boolean;
  dirty: boolean;
}

const isX = (x: string | undefined): boolean => x === 'x' || x === '*' || x === 'X';

function parseConstraint(c: string): Constraint {
  if (c.length > 0) {
    const m = CONSTRAINT_RE.exec(c);
    if (!m) throw new FuncError(`improper constraint: ${c}`);
    const m3 = m[3] ?? '';
    const m4 = m[4] ?? '';
    const m5 = m[5] ?? '';
    const m6 = m[6] ?? '';
    let ver = m[2];
    let minorDirty = false;
    let patchDirty = false;
    let dirty = false;
    if (isX(m3) || m3 === '') {
      ver = `0.0.0${m6}`;
      dirty = true;
    } else if (isX(m4.replace(/^\./, '')) || m4 === '') {
      minorDirty = true;
      dirty = true;
      ver = `${m3}.0.0${m6}`;
    } else if (isX(m5.replace(/^\./, '')) || m5 === '') {
      dirty = true;
      patchDirty = true;
      ver = `${m3}${m4}.0${m6}`;
    }
    let con: Version;
    try {
      con = newVersion(ver);
    } catch {
      throw new FuncError('constraint Parser Error');
    }
    return { con, orig: m[2], origfunc: m[1], minorDirty, patchDirty, dirty };
  }
  return {
    con: new Version(0n, 0n, 0n, '', '', '0.0.0'),
    orig: c,
    origfunc: '',
    minorDirty: false,
    patchDirty: false,
    dirty: true,
  };
}

function check(v: Version, c: Constraint): boolean {
  const con = c.con;
  const preBlock = v.pre !== '' && con.pre === '';
  switch (c.origfunc) {
    case '':
    case '=':
      if (preBlock) return false;
      if (c.dirty) return tilde(v, c);
      return v.compare(con) === 0;
    case '!=':
      if (c.dirty) {
        if (preBlock) return false;
        if (con.major !== v.major) return true;
        if (con.minor !== v.minor && !c.minorDirty) return true;
        else if (c.minorDirty) return false;
        else if (con.patch !== v.patch && !c.patchDirty) return true;
        else if (c.patchDirty) {
          if (v.pre !== '' || con.pre !== '') return comparePrerelease(v.pre, con.pre) !== 0;
          return false;
        }
      }
      return v.compare(con) !== 0;
    case '>':
      if (preBlock) return false;
      if (!c.dirty) return v.compare(con) === 1;
      if (v.major > con.major) return true;
      if (v.major < con.major) return false;
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > con.minor;
      return v.compare(con) === 1;
    case '<':
      if (preBlock) return false;
      return v.compare(con) < 0;
    case '>=':
    case '=>':
      if (preBlock) return false;
      return v.compare(con) >= 0;
    case '<=':
    case '=<':
      if (preBlock) return false;
      if (!c.dirty) return v.compare(con) <= 0;
      if (v.major > con.major) return false;
      if (v.major === con.major && v.minor > con.minor && !c.minorDirty) return false;
      return true;
    case '~':
    case '~>':
      if (preBlock) return false;
      return tilde(v, c);
    case '^': {
      if (preBlock) return false;
      if (v.compare(con) < 0) return false;
      if (con.major > 0n || c.minorDirty) return v.major === con.major;
      if (con.major === 0n && v.major > 0n) return false;
      if (con.minor > 0n || c.patchDirty) return v.minor === con.minor;
      if (con.minor === 0n && v.minor > 0n) return false;
      return con.patch === v.patch;
    }
  }
  return false;
}

function tilde(v: Version, c: Constraint): boolean {
  const con = c.con;
  if (v.pre !== '' && con.pre === '') return false;
  if (v.compare(con) < 0) return false;
  if (con.major === 0n && con.minor === 0n && con.patch === 0n && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== con.major) return false;
  if (v.minor !== con.minor && !c.minorDirty) return false;
  return true;
}

function rewriteRange(i: string): string {
  const ms = [...i.matchAll(RANGE_RE)];
  let o = i;
  for (const m of ms) o = o.replace(m[0], `>= ${m[1]}, <= ${m[11]} `);
  return o;
}

export function newConstraint(c: string): Constraint[][] {
  c = rewriteRange(c);
  return c.split('||').map((v) => {
    if (!VALID_RE.test(v)) throw new FuncError(`improper constraint: ${v}`);
    let cs = [...v.matchAll(FIND_RE)].map((m) => m[0]);
    if (cs.length === 0) cs = [v];
    return cs.map(parseConstraint);
  });
}

export function semverFuncs(): FuncMap {
  return {
    semver: fn(['string'], '*semver.Version', newVersion, { errReturn: true }),
    semverCompare: fn(
      ['string', 'string'],
      'bool',
      (constraint: string, version: string) => {
        const cs = newConstraint(constraint);
        const v = newVersion(version);
        return cs.some((and) => and.every((c) => check(v, c)));
      },
      { errReturn: true },
    ),
  };
}
