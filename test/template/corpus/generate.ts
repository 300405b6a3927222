// Generates the committed corpus of the template differential tests (run once, commit the JSON):
//
//   node test/template/corpus/generate.ts
//
// Sources: Go's own text/template tests (exec_test.go, multi_test.go, parse/parse_test.go) read from
// $(go env GOROOT), sprig v3.3.0's *_test.go tables read from the Go module cache, every template of
// the seed texts in test/fixtures/seeds/source (and folders named in CORPUS_SOURCES), and generated families (fmt verbs, sprig functions over
// typed inputs, errors). Only templates and data are written: the Go oracle computes the expected
// output at test time.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unquote } from '../../../core/template/strconv.ts';
import { SEEDS_DIR } from '@connectors/test-support';

const OUT = dirname(fileURLToPath(import.meta.url));
const ORACLE_DIR = join(OUT, '..', '..', 'oracles', 'gotemplate');

export interface CorpusCase {
  name: string;
  template: string;
  data: string;
  funcs?: 'sprig' | 'exectest';
  /** exact (default) | shape: random or time-dependent output, compared by success and length */
  compare?: 'exact' | 'shape' | 'lines';
}

function goenv(key: string): string {
  return execFileSync('go', ['env', key], { cwd: ORACLE_DIR, encoding: 'utf8' }).trim();
}

// ---- a tiny Go composite-literal reader ------------------------------------------------------------

/** Returns the rows (top-level `{...}` groups) of `var NAME = []T{ ... }` as lists of raw field texts. */
function tableRows(src: string, varName: string): string[][] {
  const start = src.indexOf(`var ${varName} = `);
  if (start < 0) throw new Error(`no table ${varName}`);
  const i = src.indexOf('{', src.indexOf(']', start));
  // i is at the table's opening brace
  const rows: string[][] = [];
  let depth = 0;
  let fieldStart = -1;
  let fields: string[] = [];
  let j = i;
  const n = src.length;
  while (j < n) {
    const c = src[j];
    if (c === '"' || c === "'") {
      j++;
      while (j < n && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      j++;
      continue;
    }
    if (c === '`') {
      j = src.indexOf('`', j + 1) + 1;
      continue;
    }
    if (c === '/' && src[j + 1] === '/') {
      j = src.indexOf('\n', j);
      continue;
    }
    if (c === '/' && src[j + 1] === '*') {
      j = src.indexOf('*/', j) + 2;
      continue;
    }
    if (c === '{' || c === '(' || c === '[') {
      depth++;
      if (depth === 2 && c === '{') {
        fieldStart = j + 1;
        fields = [];
      }
    } else if (c === '}' || c === ')' || c === ']') {
      if (depth === 2 && c === '}') {
        fields.push(src.slice(fieldStart, j).trim());
        rows.push(fields);
      }
      depth--;
      if (depth === 0) break;
    } else if (c === ',' && depth === 2) {
      fields.push(src.slice(fieldStart, j).trim());
      fieldStart = j + 1;
    }
    j++;
  }
  return rows;
}

/** Evaluates a Go string expression made of literals joined by +; undefined otherwise. */
function goString(expr: string): string | undefined {
  const parts: string[] = [];
  let i = 0;
  const s = expr.trim();
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t' || s[i] === '\n') i++;
    const c = s[i];
    let end: number;
    if (c === '"') {
      end = i + 1;
      while (end < s.length && s[end] !== '"') end += s[end] === '\\' ? 2 : 1;
    } else if (c === '`') end = s.indexOf('`', i + 1);
    else return undefined;
    try {
      parts.push(unquote(s.slice(i, end + 1)));
    } catch {
      return undefined;
    }
    i = end + 1;
    while (s[i] === ' ' || s[i] === '\t' || s[i] === '\n') i++;
    if (i < s.length) {
      if (s[i] !== '+') return undefined;
      i++;
    }
  }
  return parts.join('');
}

/** All string literals of a Go file that contain an action. */
function templateLiterals(src: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\\n]|\\.)*"|`[^`]*`/g;
  let m: RegExpExecArray | null;
  // Skip comments
  const clean = src.replace(/\/\/[^\n]*/g, (x) => (x.includes('"') || x.includes('`') ? '' : x));
  while ((m = re.exec(clean))) {
    if (!m[0].includes('{{')) continue;
    try {
      out.push(unquote(m[0]));
    } catch {
      // ignore
    }
  }
  return out;
}

// ---- data ---------------------------------------------------------------------------------------

/** exec_test.go's tVal, translated to what JSON can express (structs become maps). */
const T_VAL = {
  True: true,
  I: 17,
  U16: 16,
  X: 'x',
  S: 'xyz',
  FloatZero: 0.0,
  U: { V: 'v' },
  V0: { j: 6666 },
  V1: { j: 7777 },
  V2: null,
  W0: { k: 888 },
  W1: { k: 999 },
  W2: null,
  SI: [3, 4, 5],
  SICap: [0, 0, 0, 0, 0],
  SIEmpty: [],
  SB: [true, false],
  AI: [3, 4, 5],
  PAI: [3, 4, 5],
  MSI: { one: 1, two: 2, three: 3 },
  MSIone: { one: 1 },
  MSIEmpty: {},
  MXI: { one: 1 },
  MII: { '1': 1 },
  MI32S: { '1': 'one', '2': 'two' },
  MI64S: { '2': 'i642', '3': 'i643' },
  SMSI: [
    { one: 1, two: 2 },
    { eleven: 11, twelve: 12 },
  ],
  Empty0: null,
  Empty1: 3,
  Empty2: 'empty2',
  Empty3: [7, 8],
  Empty4: { V: 'UinEmpty' },
  NonEmptyInterface: { X: 'x' },
  NonEmptyInterfaceTypedNil: null,
  Str: 'foozle',
  Err: 'erroozle',
  PI: 23,
  PS: 'a string',
  PSI: [21, 22, 23],
  NIL: null,
  Tmpl: 'test template',
};

function tValJSON(): string {
  // FloatZero must stay a float: write 0.0 explicitly.
  return JSON.stringify(T_VAL).replace('"FloatZero":0', '"FloatZero":0.0');
}

function dataFor(expr: string): string | undefined {
  const e = expr.trim();
  if (e === 'tVal' || e === '&iVal') return tValJSON();
  if (e === 'nil') return '';
  if (e === 'T{}') return '{}';
  if (/^-?[0-9]+$/.test(e)) return e;
  if (/^-?[0-9]+\.[0-9]+$/.test(e)) return e;
  if (e === 'true' || e === 'false') return e;
  const s = goString(e);
  if (s !== undefined) return JSON.stringify(s);
  const mm = /^(?:int|int8|int16|int32|int64|uint|uint8|uint16|uint32|uint64|uintptr)\((\d+)\)$/.exec(e);
  if (mm) return mm[1];
  if (e === "'.'" || e === "'e'" || e === "'P'") return String(e.charCodeAt(1));
  if (/^map\[string\]string\{/.test(e)) {
    const obj: Record<string, string> = {};
    for (const m of e.matchAll(/"([^"]*)":\s*"([^"]*)"/g)) obj[m[1]] = m[2];
    return JSON.stringify(obj);
  }
  if (/^\[\]int\{/.test(e)) return '[' + e.slice(e.indexOf('{') + 1, e.lastIndexOf('}')) + ']';
  if (/^map\[string\]int\{/.test(e)) {
    const obj: Record<string, number> = {};
    for (const m of e.matchAll(/"([^"]*)":\s*(-?\d+)/g)) obj[m[1]] = Number(m[2]);
    return JSON.stringify(obj);
  }
  return undefined;
}

// ---- sources ------------------------------------------------------------------------------------

const NONDETERMINISTIC =
  /\b(now|randAlphaNum|randAlpha|randAscii|randNumeric|randBytes|randInt|uuidv4|bcrypt|htpasswd|genPrivateKey|genCA|genCAWithKey|genSelfSignedCert|genSelfSignedCertWithKey|genSignedCert|genSignedCertWithKey|encryptAES|shuffle|ago)\b/;

function goTextTemplateCases(): CorpusCase[] {
  const root = join(goenv('GOROOT'), 'src', 'text', 'template');
  const cases: CorpusCase[] = [];
  const exec = readFileSync(join(root, 'exec_test.go'), 'utf8');
  for (const row of tableRows(exec, 'execTests')) {
    const [nameE, inputE, , dataE] = row;
    const name = goString(nameE);
    const input = inputE === 'rangeTestInt' ? '{{range $v := .}}{{printf "%T%d" $v $v}}{{end}}' : goString(inputE);
    const data = dataE === undefined ? undefined : dataFor(dataE);
    if (name === undefined || input === undefined || data === undefined) continue;
    cases.push({ name: `go/exec/${name}`, template: input, data, funcs: 'exectest' });
  }
  // The same rows with the sprig function set (what connectors uses).
  for (const row of tableRows(exec, 'execTests')) {
    const [nameE, inputE, , dataE] = row;
    const name = goString(nameE);
    const input = goString(inputE);
    const data = dataE === undefined ? undefined : dataFor(dataE);
    if (name === undefined || input === undefined || data === undefined) continue;
    cases.push({ name: `go/exec+sprig/${name}`, template: input, data, funcs: 'sprig' });
  }
  const cmpData = JSON.stringify({ Uthree: 3, Ufour: 4, NegOne: -1, NegThree: -3, Three: 3, Ptr: null, NilPtr: null, Map: { a: 1 }, NilMap: null, Slice: [1], NilSlice: null });
  for (const row of tableRows(exec, 'cmpTests')) {
    const expr = goString(row[0]);
    if (expr === undefined) continue;
    cases.push({ name: `go/cmp/${expr}`, template: `{{if ${expr}}}true{{else}}false{{end}}`, data: cmpData, funcs: 'exectest' });
  }
  const multi = readFileSync(join(root, 'multi_test.go'), 'utf8');
  const multiText = '\n\t{{define "x"}}TEXT{{end}}\n\t{{define "dotV"}}{{.V}}{{end}}\n' + '\n\t{{define "dot"}}{{.}}{{end}}\n\t{{define "nested"}}{{template "dot" .}}{{end}}\n';
  for (const row of tableRows(multi, 'multiExecTests')) {
    const name = goString(row[0]);
    const input = goString(row[1]);
    const data = row[3] === undefined ? undefined : dataFor(row[3]);
    if (name === undefined || input === undefined || data === undefined) continue;
    cases.push({ name: `go/multi/${name}`, template: multiText + input, data, funcs: 'exectest' });
  }
  const parse = readFileSync(join(root, 'parse', 'parse_test.go'), 'utf8');
  for (const table of ['parseTests', 'errorTests']) {
    for (const row of tableRows(parse, table)) {
      const name = goString(row[0]);
      const input = goString(row[1]);
      if (name === undefined || input === undefined) continue;
      cases.push({ name: `go/${table}/${name}`, template: input, data: tValJSON(), funcs: 'sprig' });
    }
  }
  return cases;
}

function sprigTestCases(): CorpusCase[] {
  const dir = join(goenv('GOMODCACHE'), 'github.com', '!masterminds', 'sprig', 'v3@v3.3.0');
  const cases: CorpusCase[] = [];
  const data = JSON.stringify({
    Time: 1560458379,
    Secs: '61',
    top: {},
    value: null,
    Username: 'user',
    Password: 'pass',
    V: { a: 1, b: 'x' },
    list: [1, 2, 3],
  });
  const seen = new Set<string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('_test.go')).sort()) {
    const src = readFileSync(join(dir, f), 'utf8');
    let k = 0;
    for (const t of templateLiterals(src)) {
      if (seen.has(t)) continue;
      seen.add(t);
      k++;
      const c: CorpusCase = { name: `sprig/${f.replace('_test.go', '')}/${k}`, template: t, data, funcs: 'sprig' };
      if (NONDETERMINISTIC.test(t) || /\b(env|expandenv|getHostByName)\b/.test(t)) c.compare = 'shape';
      if (/\b(keys|values)\b/.test(t) && !/sortAlpha/.test(t)) c.compare = 'lines';
      cases.push(c);
    }
  }
  return cases;
}

function seedCases(): CorpusCase[] {
  const files: string[] = [];
  // The seed texts kept in the repository, plus any folders named in CORPUS_SOURCES (colon-separated).
  const extra = (process.env.CORPUS_SOURCES ?? '').split(':').filter(Boolean);
  for (const dir of [SEEDS_DIR, ...extra]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) files.push(join(dir, f));
  }
  const templates = new Set<string>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const line of text.split('\n')) {
      if (!line.includes('{{')) continue;
      // The template is the YAML value or the backquoted snippet on the line.
      const bq = [...line.matchAll(/`([^`]*\{\{[^`]*)`/g)].map((m) => m[1]);
      if (bq.length) bq.forEach((t) => templates.add(t));
      else {
        const v = line.replace(/^\s*(?:-\s*)?(?:[A-Za-z.]+:\s*)?/, '').trim();
        templates.add(v.replace(/^"(.*)"$/, (_m, inner: string) => inner.replace(/\\"/g, '"')));
      }
    }
  }
  // The canonical multi-line templates, verbatim.
  templates.add('[http]\n    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}\n[url "{{ .connector.status.proxyAddress }}"]\n    insteadOf = {{.connector.spec.address}}\n');
  templates.add(
    '[http]\n    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}\n{{- range .connectors }}\n[url "{{ .status.proxyAddress }}"]\n    insteadOf = {{ .spec.address }}\n{{- end }}\n',
  );
  templates.add('{{- if .Secret }}Basic {{ printf "%s:%s" .Secret.StringData.username .Secret.StringData.password | b64enc }} {{- end }}');
  templates.add('[npm]\nregistry={{ .configurations.registry }}\nstrict-ssl={{ .configurations.strictSSL }}\n{{- range .connectors }}\n# {{ .name }} {{ .metadata.name }}\n{{- end }}\n');
  const connector = (name: string, addr: string, proxy: string) => ({
    name,
    metadata: { name, namespace: 'default' },
    spec: { address: addr, params: [{ name: 'repository', value: 'org/repo.git' }], auth: { name: 'basicAuth', params: [{ name: 'repository', value: { type: 'string', stringVal: 'org/repo.git' } }] } },
    status: { proxyAddress: proxy },
  });
  const dataSets: Record<string, unknown> = {
    full: {
      Connector: { Spec: { Address: 'https://github.com', Auth: { Name: 'basicAuth', Params: [{ Name: 'other', Value: { Type: 'string', StringVal: 'x' } }, { Name: 'repository', Value: { Type: 'string', StringVal: 'org/repo.git' } }] } } },
      Secret: { StringData: { username: 'alice', password: 's3cr3t:pw', token: 'tok-123' } },
      context: { token: 'eyJhbGciOiJSUzI1NiJ9.payload.sig', proxy: { caCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' } },
      connector: connector('git-a', 'https://github.com', 'http://c-git-a.default.svc.cluster.local'),
      connectors: [connector('git-a', 'https://github.com', 'http://proxy-a'), connector('git-b', 'https://gitlab.com', 'http://proxy-b')],
      connectorclass: { proxyAddress: 'http://proxy.connectors-system.svc' },
      configurations: { registry: 'https://registry.npmjs.org/', strictSSL: 'true', config: 'x' },
      username: 'u',
      password: 'p',
    },
    noSecret: {
      Connector: { Spec: { Address: 'https://github.com', Auth: { Name: 'basicAuth', Params: [] } } },
      Secret: null,
      context: { token: '' },
      connector: connector('git-a', 'https://github.com', ''),
      connectors: [],
      configurations: {},
    },
    empty: {},
    ints: { Connector: { Spec: { Auth: { Params: [{ Name: 'repository', Value: { StringVal: 42 } }] } } }, Secret: { StringData: { username: 1, password: 2.5 } }, context: { token: 7 } },
  };
  const cases: CorpusCase[] = [];
  let k = 0;
  for (const t of [...templates].sort()) {
    k++;
    for (const [dn, d] of Object.entries(dataSets)) {
      cases.push({ name: `seeds/${k}/${dn}`, template: t, data: JSON.stringify(d), funcs: 'sprig' });
    }
  }
  return cases;
}

// ---- generated families -------------------------------------------------------------------------

const VALUES: [string, string][] = [
  ['str', '"hello"'],
  ['emptystr', '""'],
  ['unicode', '"héllo, 世界"'],
  ['int', '42'],
  ['negint', '-7'],
  ['zero', '0'],
  ['float', '3.14159'],
  ['float1', '1.0'],
  ['bigfloat', '1e21'],
  ['smallfloat', '1e-7'],
  ['million', '1000000.0'],
  ['true', 'true'],
  ['false', 'false'],
  ['null', 'null'],
  ['list', '[1,"a",null,2.5,true]'],
  ['emptylist', '[]'],
  ['map', '{"b":2,"a":"x","c":[1,2],"d":{"e":null}}'],
  ['emptymap', '{}'],
  ['bigint', '9007199254740993'],
];

function fmtCases(): CorpusCase[] {
  const verbs = ['%v', '%+v', '%#v', '%s', '%d', '%q', '%x', '%X', '%t', '%f', '%.2f', '%e', '%g', '%G', '%c', '%U', '%T', '%5s', '%-5s|', '%05d', '%+d', '%8.3f', '%x', '% x', '%#x', '%o', '%b', '%.1s', '%10v|', '%-10v|', '%#q', '%+q', '%E', '%.3e', '%.0f', '%6.2g'];
  const cases: CorpusCase[] = [];
  const data = '{' + VALUES.map(([k, v]) => `"${k}":${v}`).join(',') + '}';
  for (const verb of verbs) {
    for (const [k] of VALUES) {
      cases.push({ name: `fmt/${verb}/${k}`, template: `{{ printf "${verb}" .${k} }}`, data, funcs: 'sprig' });
    }
  }
  for (const [k] of VALUES) {
    cases.push({ name: `print/${k}`, template: `{{ .${k} }}|{{ print .${k} }}|{{ println .${k} .${k} }}|{{ printf "%v %v" .${k} }}`, data, funcs: 'sprig' });
  }
  const extra = [
    '{{ printf "%d %s" 1 }}',
    '{{ printf "%d" 1 2 3 }}',
    '{{ printf "%!" }}',
    '{{ printf "%" }}',
    '{{ printf "%[2]d %[1]d" 1 2 }}',
    '{{ printf "%[3]d" 1 2 }}',
    '{{ printf "%*d" 5 42 }}',
    '{{ printf "%.*f" 2 3.14159 }}',
    '{{ printf "%-*d|" 5 42 }}',
    '{{ printf "%z" 1 }}',
    '{{ printf "%%" }}',
    '{{ printf "%s %s" "a" nil }}',
    '{{ printf "%d" nil }}',
    '{{ printf "%v" (list) }}',
    '{{ printf "%v" (dict) }}',
    '{{ printf "%s" (list "a" "b") }}',
    '{{ printf "%q" (list "a" "b") }}',
    '{{ printf "%d" (list 1 2) }}',
    '{{ printf "%x" (list 10 11) }}',
    '{{ printf "%v" (splitList "," "a,b") }}',
    '{{ printf "%T" (splitList "," "a,b") }}',
    '{{ printf "%T" (dict "a" 1) }}',
    '{{ printf "%T" (until 3) }}',
    '{{ printf "%T %T %T %T" 1 1.5 "s" true }}',
    '{{ printf "%T" nil }}',
    '{{ printf "%v" 1e100 }}',
    '{{ printf "%v %v %v" 0.1 0.000001 0.0000001 }}',
    '{{ printf "%v" 123456789.0 }}',
    '{{ printf "%.3g %.10g %g" 1234567.0 1234567.0 100000.0 }}',
    '{{ printf "%#g %#.3f %#e" 1.0 2.0 3.0 }}',
    '{{ printf "%08.3f|%-8.3f|%+.1e" -3.14159 2.5 12345.678 }}',
    '{{ printf "%.0f %.0f %.0f %.1f %.2f" 0.5 1.5 2.5 0.25 1.005 }}',
    '{{ printf "%6.2f%%" 99.5 }}',
    '{{ printf "%c%c%c" 72 105 0x1F600 }}',
    '{{ printf "%U %#U" 0x1F600 65 }}',
    '{{ printf "%q" 65 }}',
    '{{ printf "%x %X %o %O %b" 255 255 8 8 5 }}',
    '{{ printf "%#x %#o %#b" 255 8 5 }}',
    '{{ printf "%5.1q|" "hello" }}',
    '{{ printf "%x" "héllo" }}',
    '{{ printf "% X" "abc" }}',
    '{{ printf "%#x" "abc" }}',
    '{{ printf "%q" "tab\\there \\"quoted\\" \\u00e9 \\x01" }}',
    '{{ printf "%+q" "héllo 世界" }}',
    '{{ printf "%#q" "back`tick" }}',
    '{{ printf "%#q" "no backtick" }}',
    '{{ printf "%v" 1i }}',
    '{{ printf "%.2f" 1+2i }}',
    '{{ printf "%t" 1 }}',
    '{{ printf "%s" true }}',
    '{{ printf "%d" "x" }}',
    '{{ printf "%d" 1.5 }}',
    '{{ printf "%s" 42 }}',
    '{{ printf "%.2s|%.10s|" "héllo" "hi" }}',
    '{{ printf "%v|%+v|%#v" (dict "a" (list 1 "x")) (dict "a" (list 1 "x")) (dict "a" 1) }}',
    '{{ printf "%v" (toDate "2006-01-02" "2021-05-06") }}',
    '{{ printf "%s" (semver "1.2.3") }}',
    '{{ print 1 2 "a" "b" 3 nil 4 }}',
    '{{ print "a" 1 2 "b" }}',
    '{{ println }}',
    '{{ print }}',
    '{{ printf "%v" .missing }}',
    '{{ print .missing.deeper }}',
    '{{ printf "%6.3v|" 3.14159 }}',
    '{{ printf "%-08d|" 42 }}',
    '{{ printf "% d|% d" 42 -42 }}',
    '{{ printf "%+.3e" 0.0 }}',
    '{{ printf "%e %E" 1e-10 123456789.0 }}',
    '{{ printf "%g %g %g" 1e-5 1e-4 123456789012.0 }}',
    '{{ printf "%.3x" 255 }}',
    '{{ printf "%010.4f" 3.14159 }}',
    '{{ printf "%v %v" -0.0 (sub 0 0) }}',
    '{{ printf "%f" (float64 "1e400") }}',
    '{{ printf "%v %v" (div 1 0 | default 0) 1 }}',
  ];
  extra.forEach((t, i) => cases.push({ name: `fmt/extra/${i}`, template: t, data, funcs: 'sprig' }));
  return cases;
}

function sprigFamilyCases(): CorpusCase[] {
  const data = JSON.stringify({
    s: 'Hello World',
    e: '',
    n: 3,
    f: 2.5,
    neg: -4,
    b: true,
    l: ['b', 'a', 'c', 'a'],
    nl: [3, 1, 2],
    m: { x: 1, y: { z: 'deep' }, l: [1, 2] },
    m2: { x: 9, w: 'new', y: { q: 1 } },
    nul: null,
    url: 'https://user:pa%20ss@example.com:8443/a/b%2Fc?q=1&r=x+y#frag',
    csv: 'a,b,,c',
    ver: 'v1.2.3-beta.1+build.5',
    time: 1700000000,
    json: '{"a":[1,2,{"b":null}],"c":1.5e3}',
  }).replace('"f":2.5', '"f":2.5');
  const ts: string[] = [
    // strings
    '{{ trim "  a b  " }}|{{ trimAll "$" "$$a$b$$" }}|{{ trimSuffix "-" "a--" }}|{{ trimPrefix "-" "--a" }}',
    '{{ upper .s }} {{ lower .s }} {{ title "hello wORLD foo_bar x-y" }} {{ untitle .s }}',
    '{{ repeat 3 "ab" }}|{{ repeat 0 "ab" }}|{{ substr 1 4 .s }}|{{ substr -1 3 .s }}|{{ substr 3 -1 .s }}|{{ substr 3 100 .s }}',
    '{{ substr 5 2 .s }}',
    '{{ trunc 5 .s }}|{{ trunc -5 .s }}|{{ trunc 100 .s }}|{{ trunc 0 .s }}',
    '{{ abbrev 5 .s }}|{{ abbrev 3 .s }}|{{ abbrevboth 5 10 "1234 5678 9123" }}|{{ abbrev 100 .s }}',
    '{{ nospace " a b\tc\n" }}|{{ initials "Hello big World" }}|{{ swapcase "Hello World ABC" }}',
    '{{ snakecase "FirstName" }} {{ snakecase "HTTPServer" }} {{ snakecase "NoHTTPS" }} {{ snakecase "GO_PATH" }} {{ snakecase "GO PATH" }} {{ snakecase "GO-PATH" }} {{ snakecase "ab12cd" }} {{ snakecase "abc2Def" }}',
    '{{ camelcase "http_server" }} {{ camelcase "_my_field" }} {{ camelcase "foo-bar baz" }} {{ camelcase "ALL_CAPS" }} {{ camelcase "_" }} {{ camelcase "x" }}',
    '{{ kebabcase "FirstName" }} {{ kebabcase "HTTPServer" }} {{ kebabcase "some_thing Else" }}',
    '{{ wrap 5 "Hello World wrapping text" }}|{{ wrapWith 5 "\\t" "Hello World" }}|{{ wrapWith 3 "-" "abcdefgh" }}',
    '{{ contains "llo" .s }} {{ hasPrefix "He" .s }} {{ hasSuffix "x" .s }}',
    '{{ quote "a" 1 nil 2.5 true }}|{{ squote "a" 1 nil }}|{{ cat "a" 1 nil "b" (list 1 2) }}',
    '{{ indent 2 "a\\nb" }}|{{ nindent 3 "x" }}|{{ replace "l" "L" .s }}|{{ replace "" "-" "abc" }}',
    '{{ plural "one" "many" 1 }} {{ plural "one" "many" 2 }} {{ plural "one" "many" 0 }}',
    '{{ toString 1 }} {{ toString 2.5 }} {{ toString nil }} {{ toString (list 1 2) }} {{ toString .b }}',
    '{{ atoi "42" }} {{ atoi "x" }} {{ atoi "-3" }} {{ int64 "0x1F" }} {{ int "3.0" }} {{ int "3.5" }} {{ float64 "1.5e2" }} {{ int 3.9 }} {{ int -3.9 }}',
    '{{ $a := split "," .csv }}{{ $a._0 }}-{{ $a._2 }}-{{ $a._3 }} {{ splitList "," .csv }} {{ splitn "," 2 .csv }} {{ len (splitList "," .csv) }}',
    '{{ join "-" .l }} {{ join "," (list 1 nil "x" 2.5) }} {{ join "," "single" }} {{ toStrings (list 1 nil "a") }}',
    '{{ sortAlpha .l }} {{ sortAlpha .nl }} {{ sortAlpha "x" }} {{ seq 5 }}|{{ seq 2 5 }}|{{ seq 5 2 }}|{{ seq 1 2 10 }}|{{ seq 0 }}|{{ seq -3 }}',
    '{{ until 5 }} {{ until -3 }} {{ untilStep 0 10 3 }} {{ untilStep 10 0 -4 }} {{ untilStep 0 10 -1 }}',
    '{{ b64enc .s }} {{ b64dec "SGVsbG8=" }} {{ b64dec "!!bad" }} {{ b32enc .s }} {{ b32dec "JBSWY3DP" }} {{ b32dec "1" }}',
    '{{ b64dec "SGVsbG8" }}|{{ b64dec "SGVsbA==" }}|{{ b64dec "SGVsbA=" }}|{{ b64dec "SGV" }}|{{ b64dec "" }}',
    '{{ sha1sum .s }} {{ sha256sum "" }} {{ sha512sum "x" }} {{ adler32sum .s }}',
    '{{ derivePassword 1 "long" "password" "user" "example.com" }} {{ derivePassword 2 "pin" "p" "u" "s" }} {{ derivePassword 1 "nope" "p" "u" "s" }}',
    '{{ decryptAES "secretkey" "z3HLvT27Lrz1AE/I5rN2BYl9aljrJFQs3hCNh4UUHgs=" }}',
    // math
    '{{ add 1 2 3 }} {{ add }} {{ add1 .n }} {{ sub 5 .n }} {{ mul 2 3 4 }} {{ div 7 .n }} {{ mod 7 .n }} {{ div -7 2 }} {{ mod -7 2 }}',
    '{{ add 1.9 1.9 }} {{ add "3" "4" }} {{ add .f 1 }} {{ add nil 1 }} {{ add true 1 }} {{ mul .f 2 }}',
    '{{ div 1 0 }}',
    '{{ mod 1 0 }}',
    '{{ max 1 5 3 }} {{ min 4 -2 9 }} {{ biggest 3 .n 9 }} {{ maxf 1.5 2 .f }} {{ minf 1.5 -2 .f }}',
    '{{ addf 1.1 2.2 }} {{ subf 10 0.1 0.2 }} {{ mulf 1.1 3 }} {{ divf 10 3 }} {{ divf 1 3 3 }} {{ add1f 1.5 }} {{ addf }}',
    '{{ divf 1 0 }}',
    '{{ ceil 1.2 }} {{ floor -1.2 }} {{ round 3.14159 2 }} {{ round 2.5 0 }} {{ round 2.45 1 }} {{ round 1.005 2 }} {{ round 3.7 0 0.8 }}',
    '{{ toDecimal "0777" }} {{ toDecimal 755 }} {{ toDecimal "9" }}',
    '{{ 3 | add 2 | mul 4 }} {{ .n | add1 | printf "%03d" }}',
    // lists
    '{{ list 1 "a" nil }} {{ tuple }} {{ append .l "z" }} {{ prepend .l "z" }} {{ first .l }} {{ last .l }} {{ rest .l }} {{ initial .l }}',
    '{{ first (list) }}|{{ last (list) }}|{{ rest (list) }}|{{ initial (list) }}|{{ toJson (rest (list)) }}',
    '{{ reverse .l }} {{ uniq .l }} {{ without .l "a" }} {{ has "a" .l }} {{ has 9 .nl }} {{ has 1 nil }} {{ compact (list 0 1 "" "a" nil false (list)) }}',
    '{{ slice .l 1 }} {{ slice .l 1 3 }} {{ slice .l }} {{ concat .l .nl (list) }} {{ chunk 2 .nl }} {{ chunk 3 (list) }}',
    '{{ slice .l 3 1 }}',
    '{{ first "abc" }}',
    '{{ first nil }}',
    '{{ append "x" 1 }}',
    '{{ mustFirst 1 }}',
    '{{ concat 1 }}',
    '{{ has 1 "abc" }}',
    '{{ mustChunk 2 .nl }} {{ mustUniq .l }} {{ mustCompact (list 0 1) }} {{ mustReverse .nl }} {{ mustSlice .nl 1 2 }} {{ mustHas 3 .nl }}',
    // dicts
    '{{ $d := dict "a" 1 "b" "two" "c" }}{{ $d }} {{ get $d "a" }} {{ get $d "zz" }} {{ hasKey $d "b" }} {{ set $d "x" 9 }} {{ unset $d "a" }} {{ $d }}',
    '{{ dict 1 2 nil 3 }}',
    '{{ pluck "x" .m .m2 (dict) }} {{ keys .m | sortAlpha }} {{ pick .m "x" "nope" }} {{ omit .m "x" }} {{ values (dict "a" 1) }}',
    '{{ merge (dict "a" 1 "b" (dict "c" 2)) (dict "a" 5 "b" (dict "d" 3) "e" 4) }}',
    '{{ mergeOverwrite (dict "a" 1 "b" (dict "c" 2) "z" "keep") (dict "a" 5 "b" (dict "d" 3) "e" 4 "z" "") }}',
    '{{ merge (dict "a" "" "b" 0 "c" (list)) (dict "a" "x" "b" 7 "c" (list 1)) }}',
    '{{ mergeOverwrite (dict "a" (list 1 2)) (dict "a" (list 3)) }} {{ merge (dict "a" (list 1 2)) (dict "a" (list 3)) }}',
    '{{ $x := deepCopy .m }}{{ $_ := set $x "x" 100 }}{{ .m.x }} {{ $x.x }} {{ deepCopy (list 1 (dict "a" 2)) }}',
    '{{ dig "y" "z" "def" .m }} {{ dig "y" "nope" "def" .m }} {{ dig "x" "def" .m }}',
    '{{ dig "x" "z" "def" .m }}',
    '{{ dig "a" "b" }}',
    '{{ get .m "x" }} {{ hasKey .m "y" }} {{ .m.y.z }} {{ index .m "y" "z" }} {{ index .m "nope" }}',
    '{{ get (split "," "a,b") "_0" }}',
    // defaults
    '{{ default "d" "" }} {{ default "d" "v" }} {{ default "d" 0 }} {{ default "d" .nul }} {{ default "d" .missing }} {{ default "d" (list) }} {{ default "d" false }} {{ default "d" }}',
    '{{ empty "" }} {{ empty 0 }} {{ empty 0.0 }} {{ empty .nul }} {{ empty .missing }} {{ empty (dict) }} {{ empty .m }} {{ empty false }} {{ empty (toDate "2006" "2001") }}',
    '{{ coalesce "" 0 nil "x" "y" }} {{ coalesce }} {{ all 1 "a" true }} {{ all 1 "" }} {{ any 0 "" "x" }} {{ any }}',
    '{{ ternary "yes" "no" true }} {{ ternary "yes" "no" false }} {{ true | ternary "a" "b" }}',
    '{{ toJson .m }} {{ toJson "<a&b>" }} {{ toRawJson "<a&b>" }} {{ toJson 1.0 }} {{ toJson 1e21 }} {{ toJson 0.0000001 }} {{ toJson .n }} {{ toJson nil }} {{ toJson (list) }}',
    '{{ toPrettyJson .m }}|{{ toPrettyJson (dict) }}|{{ toPrettyJson (list) }}|{{ mustToPrettyJson (list 1) }}',
    '{{ fromJson .json }} {{ (fromJson .json).c }} {{ fromJson "bad" }} {{ typeOf (fromJson "1") }}',
    '{{ mustFromJson "{\\"a\\": tru}" }}',
    '{{ mustFromJson "[1, 2" }}',
    '{{ mustFromJson "{\\"a\\" 1}" }}',
    '{{ mustToJson .m }} {{ mustToRawJson (dict "h" "<x>") }}',
    // reflection
    '{{ typeOf 1 }} {{ typeOf .n }} {{ typeOf .f }} {{ typeOf .s }} {{ typeOf .l }} {{ typeOf .m }} {{ typeOf nil }} {{ typeOf .nul }} {{ typeOf (list) }} {{ typeOf (until 2) }} {{ typeOf (semver "1.0.0") }}',
    '{{ kindOf 1 }} {{ kindOf .n }} {{ kindOf .f }} {{ kindOf .s }} {{ kindOf .l }} {{ kindOf .m }} {{ kindOf nil }} {{ kindOf .b }} {{ kindOf (toDate "2006" "2001") }}',
    '{{ kindIs "int64" .n }} {{ kindIs "int" 1 }} {{ typeIs "string" .s }} {{ typeIsLike "semver.Version" (semver "1.0.0") }} {{ deepEqual .l .l }} {{ deepEqual (list 1) (list 1.0) }} {{ deepEqual (dict "a" 1) (dict "a" 1) }}',
    // regex
    '{{ regexMatch "^[a-z]+$" "abc" }} {{ regexMatch "[" "x" }} {{ regexFind "o+" .s }} {{ regexFindAll "l+" .s -1 }} {{ regexFindAll "l" .s 2 }} {{ regexFindAll "x*" "abc" -1 }}',
    '{{ regexReplaceAll "(l+)" .s "<$1>" }} {{ regexReplaceAll "a(?P<x>b)" "ab ab" "${x}x" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W" }} {{ regexReplaceAllLiteral "l" .s "$1" }}',
    '{{ regexReplaceAll "" "abc" "-" }} {{ regexReplaceAll "x*" "abc" "-" }} {{ regexReplaceAll "b*" "abbc" "X" }}',
    '{{ regexSplit "l+" .s -1 }} {{ regexSplit "," .csv 2 }} {{ regexSplit "" "abc" -1 }} {{ regexSplit "x" "" -1 }} {{ regexQuoteMeta "a.b*c[d]" }}',
    '{{ regexFindAll "(?i)hello" "HeLLo hello" -1 }} {{ regexMatch "\\\\d+\\\\s\\\\w" "12 a" }} {{ regexFind "[[:alpha:]]+" "123abc456" }} {{ regexFind "\\\\pL+" "123héllo" }}',
    '{{ regexFindAll "[" "x" -1 }}',
    '{{ mustRegexMatch "(" "x" }}',
    '{{ mustRegexFind "a{2,1}" "x" }}',
    '{{ mustRegexReplaceAll "*" "x" "y" }}',
    '{{ mustRegexSplit "a)" "x" -1 }}',
    '{{ mustRegexFindAll "a++" "x" -1 }}',
    // semver
    '{{ semver "1.2.3" }} {{ (semver .ver).Prerelease }} {{ (semver .ver).Metadata }} {{ (semver .ver).Original }} {{ (semver "v2").Minor }}',
    '{{ semverCompare "^1.2.0" "1.5.0" }} {{ semverCompare "~1.2.0" "1.3.0" }} {{ semverCompare ">=1.0, <2.0" "1.9.9" }} {{ semverCompare "1.x" "1.8.0" }} {{ semverCompare "1.2 - 1.4" "1.3.0" }} {{ semverCompare ">1.0.0 || <0.5" "0.4.0" }}',
    '{{ semverCompare "!=1.2.3" "1.2.3" }} {{ semverCompare "<=1.2" "1.2.9" }} {{ semverCompare ">1.2" "1.3.0" }} {{ semverCompare "^0.2.3" "0.2.9" }} {{ semverCompare "^0.0.3" "0.0.4" }} {{ semverCompare ">=1.0.0" "1.1.0-alpha" }} {{ semverCompare ">=1.0.0-0" "1.1.0-alpha" }}',
    '{{ semver "bad" }}',
    '{{ semverCompare "~~1" "1.0.0" }}',
    '{{ semverCompare "1.0" "x.y" }}',
    '{{ (semver "1.2.3").LessThan (semver "1.3.0") }} {{ (semver "1.2.3").Compare (semver "1.2.3") }} {{ (semver "1.2.3").IncMinor }}',
    // dates
    '{{ date "2006-01-02 15:04:05" .time }} {{ dateInZone "Mon Jan 2 15:04:05 MST 2006" .time "UTC" }} {{ htmlDate .time }} {{ htmlDateInZone .time "UTC" }}',
    '{{ dateInZone "2006-01-02T15:04:05Z07:00" .time "America/New_York" }} {{ dateInZone "15:04 MST -0700" .time "Asia/Kolkata" }} {{ dateInZone "02 Jan 06 15:04" .time "nowhere" }}',
    '{{ toDate "2006-01-02" "2017-12-31" }} {{ toDate "2006-01-02 15:04" "2020-02-29 23:59" | date "Monday, January 2 2006 3:04PM" }} {{ toDate "2006-01-02" "bad" }}',
    '{{ unixEpoch (toDate "2006-01-02T15:04:05Z07:00" "2021-06-01T12:00:00+02:00") }} {{ (toDate "2006-01-02" "2020-01-02").Year }} {{ (toDate "2006-01-02" "2020-03-04").Month }} {{ (toDate "2006-01-02" "2020-03-04").Weekday }} {{ (toDate "2006-01-02" "2020-03-04").YearDay }}',
    '{{ mustToDate "2006-01-02" "2020-13-01" }}',
    '{{ mustToDate "2006-01-02" "x2020" }}',
    '{{ toDate "2006-01-02" "2020-01-01" | dateModify "1h30m" | date "2006-01-02 15:04" }} {{ toDate "2006-01-02" "2020-01-01" | dateModify "-25h" | date "Jan _2 06" }} {{ toDate "2006-01-02" "2020-01-01" | dateModify "bad" | date "2006" }}',
    '{{ toDate "2006-01-02" "2020-01-01" | mustDateModify "1x" }}',
    '{{ duration "61" }} {{ duration 3600 }} {{ duration .time }} {{ duration "93784" }} {{ duration "x" }} {{ durationRound "2h5s" }} {{ durationRound "24h5s" }} {{ durationRound "2400h5s" }} {{ durationRound 90000000000 }} {{ durationRound "1s" }} {{ durationRound "-3m" }}',
    '{{ date "Jan 2 2006 3:04:05.000 PM -07:00" (toDate "2006-01-02 15:04:05.999" "2022-07-08 09:10:11.123") }} {{ date ".999 .000 ,999" (toDate "2006-01-02" "2022-07-08") }} {{ date "002 __2 _2" (toDate "2006-01-02" "2022-02-03") }}',
    '{{ toDate "2006-01-02T15:04:05Z07:00" "2021-06-01T12:00:00Z" }} {{ toDate "2006-01-02T15:04:05Z07:00" "2021-06-01T12:00:00+05:30" }}',
    // urls, paths
    '{{ urlParse .url }}',
    '{{ $u := urlParse .url }}{{ $u.host }} {{ $u.hostname }} {{ $u.path }} {{ $u.userinfo }} {{ urlJoin $u }}',
    '{{ urlParse "mailto:someone@example.com" }} {{ urlParse "/relative/path?x=1" }} {{ urlParse "http://[::1]:80/x" }}',
    '{{ urlJoin (dict "scheme" "https" "host" "example.com" "path" "/a b/ü" "query" "x=1" "fragment" "f g" "userinfo" "me:pw") }}',
    '{{ urlJoin (dict "host" 1) }}',
    '{{ urlParse "http://a b.com/" }}',
    '{{ base "/a/b/c.txt" }} {{ dir "/a/b/c.txt" }} {{ clean "/a/../b/./c//d/" }} {{ ext "x.tar.gz" }} {{ isAbs "/x" }} {{ isAbs "x" }} {{ base "" }} {{ dir "x" }} {{ clean "" }} {{ base "/" }}',
    '{{ osBase "a/b" }} {{ osDir "a/b" }} {{ osClean "a//b/.." }} {{ osExt "a.b" }} {{ osIsAbs "/a" }}',
    // flow
    '{{ fail "boom" }}',
    '{{ required "need a value" .missing }}',
    '{{ required "need a value" "" }}',
    '{{ required "need a value" .s }}',
    '{{ env "HOME" }}',
    '{{ expandenv "$HOME" }}',
    '{{ getHostByName "example.com" }}',
    '{{ hello }}',
    // argument type errors
    '{{ repeat .n "x" }}',
    '{{ repeat "3" "x" }}',
    '{{ upper 3 }}',
    '{{ upper .n }}',
    '{{ upper .l }}',
    '{{ upper .missing }}',
    '{{ upper .nul }}',
    '{{ .nul | upper }}',
    '{{ upper }}',
    '{{ upper "a" "b" }}',
    '{{ trunc 2.5 "abc" }}',
    '{{ hasKey "x" "y" }}',
    '{{ hasKey .l "y" }}',
    '{{ get .missing "a" }}',
    '{{ keys (split "," "a") }}',
    '{{ ternary 1 2 "x" }}',
    '{{ date 1 2 }}',
    '{{ unixEpoch "x" }}',
    '{{ semver 1 }}',
    '{{ nosuchfunc 1 }}',
    '{{ .s.foo }}',
    '{{ .n.foo }}',
    '{{ .nul.foo }}',
    '{{ .missing.foo.bar }}',
    '{{ .l.foo }}',
    '{{ index .l 10 }}',
    '{{ index .l -1 }}',
    '{{ index .l "a" }}',
    '{{ index .m 1 }}',
    '{{ index .s 1 }}',
    '{{ index .n 1 }}',
    '{{ len .n }}',
    '{{ len .nul }}',
    '{{ len .s }} {{ len "héllo" }} {{ len .m }} {{ len .l }}',
    '{{ slice .s 1 3 }}',
    '{{ eq .n 3 }}',
    '{{ eq .f 2.5 }} {{ eq .s "Hello World" }} {{ eq .n .n }} {{ eq .b true }} {{ eq .nul nil }} {{ eq .missing nil }}',
    '{{ eq .n "3" }}',
    '{{ eq .f 2 }}',
    '{{ eq 1 .n }}',
    '{{ eq .l .l }}',
    '{{ eq .m .m }}',
    '{{ lt .n 5 }}',
    '{{ lt 1 2.5 }}',
    '{{ lt "a" "b" }} {{ gt "b" "a" }} {{ le 2.5 .f }} {{ ge .f 3.0 }} {{ ne "a" "b" }} {{ lt true false }}',
    '{{ lt .nul 1 }}',
    '{{ eq }}',
    '{{ eq 1 }}',
    '{{ and }}',
    '{{ not }}',
    '{{ and 1 0 "x" }} {{ or 0 "" "y" }} {{ and .nul 1 }} {{ or .nul .missing }} {{ not .l }} {{ not (list) }}',
    '{{ html "<a href=\\"x\\">&\'</a>" }} {{ js "<\'a\'>\\n=é\\u2028" }} {{ urlquery "a b&c=d/é" }} {{ html 1 nil "x" }} {{ urlquery .missing }}',
    '{{ call .s }}',
    '{{ call .missing }}',
    '{{ .s | call }}',
  ];
  return ts.map((t, i) => ({ name: `sprig-family/${String(i).padStart(3, '0')}`, template: t, data, funcs: 'sprig' as const }));
}

function languageCases(): CorpusCase[] {
  const data = JSON.stringify({
    a: { b: { c: 'deep' } },
    list: ['x', 'y', 'z'],
    nested: [{ name: 'one', tags: ['t1', 't2'] }, { name: 'two', tags: [] }],
    m: { z: 1, a: 2, m: 3 },
    n: 5,
    zero: 0,
    f: 1.5,
    s: 'str',
    t: true,
    nul: null,
    big: 9223372036854775807,
    nums: [1, 2.0, 3.5],
  });
  const ts: string[] = [
    'a {{- " b " -}} c {{- /* comment */ -}} d',
    'x {{- 3 }} y {{ 4 -}} z',
    '{{/* a comment */}}{{- /* trimmed */ -}}  after',
    '{{- if .t }}\n  yes\n{{- else }}\n  no\n{{- end }}\n',
    '{{ range $i, $e := .list }}{{ if $i }}, {{ end }}{{ $i }}:{{ $e }}{{ end }}',
    '{{ range .m }}{{ . }}{{ end }} {{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}',
    '{{ range .n }}{{ . }}{{ end }} {{ range $i := 3 }}[{{ $i }}]{{ end }} {{ range 0 }}x{{ else }}none{{ end }}',
    '{{ range $i, $v := 3 }}{{ end }}',
    '{{ range .s }}{{ . }}{{ end }}',
    '{{ range .f }}{{ . }}{{ end }}',
    '{{ range .t }}{{ . }}{{ end }}',
    '{{ range .nul }}x{{ else }}empty{{ end }} {{ range .missing }}x{{ else }}missing{{ end }}',
    '{{ range .list }}{{ if eq . "y" }}{{ continue }}{{ end }}{{ . }}{{ end }}|{{ range .list }}{{ if eq . "y" }}{{ break }}{{ end }}{{ . }}{{ end }}',
    '{{ range .nested }}{{ .name }}:{{ range .tags }}{{ . }},{{ else }}none{{ end }};{{ end }}',
    '{{ range .nested }}{{ $.s }}-{{ .name }} {{ end }}',
    '{{ with .a.b }}{{ .c }}{{ end }} {{ with .missing }}x{{ else }}no{{ end }} {{ with .zero }}x{{ else with .n }}n={{ . }}{{ end }}',
    '{{ with $x := .a }}{{ $x.b.c }}{{ end }}',
    '{{ if and .t (not .zero) }}ok{{ end }} {{ if or .zero .nul }}bad{{ else if .n }}n{{ else }}none{{ end }}',
    '{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }} {{ $y := .list }}{{ index $y 2 }} {{ $ }}',
    '{{ $x := 1 }}{{ $x := 2 }}{{ $x }}',
    '{{ $x = 1 }}',
    '{{ $undefined }}',
    '{{ .a.b.c }} {{ $.a.b.c }} {{ (.a).b.c }} {{ (index .nested 1).name }} {{ (dict "k" "v").k }}',
    '{{ define "T1" }}ONE{{ end }}{{ define "T2" }}TWO {{ template "T1" }}{{ end }}{{ template "T2" }} {{ template "T1" . }}',
    '{{ define "item" }}<{{ .name }}>{{ end }}{{ range .nested }}{{ template "item" . }}{{ end }}',
    '{{ block "b" .s }}[{{ . }}]{{ end }}',
    '{{ template "missing" }}',
    '{{ define "rec" }}{{ if . }}{{ len . }}{{ template "rec" (rest .) }}{{ end }}{{ end }}{{ template "rec" .list }}',
    '{{ define "a" }}{{ .x.y }}{{ end }}{{ template "a" .s }}',
    '{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}',
    '{{ define "a" }}{{ end }}{{ define "a" }}2{{ end }}{{ template "a" }}',
    '{{ .big }} {{ add .big 1 }} {{ printf "%T" .big }} {{ .nums }} {{ printf "%T %T" (index .nums 0) (index .nums 1) }}',
    '{{ 0x10 }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1e3 }} {{ .5 }} {{ -2 }} {{ +3 }} {{ \'a\' }} {{ 1.0 }} {{ 2i }}',
    '{{ 99999999999999999999 }}',
    '{{ 0x }}',
    '{{ 1.2.3 }}',
    '{{ "unterminated }}',
    '{{ `raw\nstring` }}',
    '{{ "esc\\t\\u00e9\\x41" }}',
    '{{ if }}{{ end }}',
    '{{ if .t }}no end',
    '{{ end }}',
    '{{ else }}',
    '{{ range }}{{ end }}',
    '{{ with }}{{ end }}',
    '{{ .a | }}',
    '{{ | .a }}',
    '{{ .a .b }}',
    '{{ "x" | "y" }}',
    '{{ (1 }}',
    '{{ 1) }}',
    '{{ .a. }}',
    '{{ $x := }}',
    '{{ nil }}',
    '{{ break }}',
    '{{ continue }}',
    '{{ range .list }}{{ break 1 }}{{ end }}',
    '{{ .a.b.c.d.e }}',
    'line1\nline2 {{ .nul.x }}',
    'line1\nline2\n  {{ .s | printf "%d" | upper }} {{ index .list 5 }}',
    '{{ template "x" }}{{ define "x" }}{{ .nope.more }}{{ end }}',
    '{{/* unclosed comment }}',
    '{{ /* bad comment */ }}',
    '{{ $x }}',
    '{{ .Method arg }}',
    '{{ .s arg }}',
    '{{ $.s 1 }}',
    '{{ "s" 1 }}',
    '{{ (.s) 1 }}',
    '{{ true.x }}',
    '{{ . }}',
    '{{ .list 1 }}',
    '{{ 1 | printf "%d %d" 2 }}',
    '{{ "a" | printf }}',
    '{{ printf }}',
    '{{ index }}',
    '{{ index .list }}',
    '{{ index nil 1 }}',
    '{{ slice .list 1 2 3 4 }}',
    '{{ len }}',
    '{{ if not .list }}empty{{ else }}{{ len .list }}{{ end }}',
    '{{ println "a" 1 }}x',
    '{{ if eq .s "str" "other" }}multi{{ end }} {{ if eq .n 1 2 5 }}found{{ end }}',
    'É{{ .missing.x }}',
    '  {{ printf "%d" "x" }}\n\t{{ .nul.y }}',
    '{{ $ := 1 }}',
    '{{ range $i, $j, $k := .list }}{{ end }}',
    '{{ with $a, $b := .list }}{{ end }}',
    '{{ range $x = .list }}{{ end }}',
    '{{ $i := 0 }}{{ range $i = .list }}{{ end }}{{ $i }}',
    '{{ $i := 0 }}{{ $v := 0 }}{{ range $i, $v = .list }}{{ end }}{{ $i }}{{ $v }}',
    '{{ else if }}',
    '{{ if .t }}a{{ else if }}b{{ end }}',
    '{{ if .t }}a{{ else with .s }}b{{ end }}',
    '{{ with .s }}a{{ else if .t }}b{{ end }}',
    '{{ template }}',
    '{{ template x }}',
    '{{ define }}{{ end }}',
    '{{ define "x" }}',
    '{{ block "x" }}{{ end }}',
    '{{{{ .s }}}}',
    '{{ .s }}}}',
    '{{ .s -}}\n\n  x {{- .s }}',
    '{{- .s -}}',
    '{{-.s}}',
    '{{.s-}}',
    '{{ 3 -}}{{- 4 }}',
    '{{ .a.b | printf "%v" }}',
    '{{ $m := dict }}{{ $_ := set $m "k" "v" }}{{ $m.k }} {{ $m.missing }}',
    '{{ index (dict "a" (dict "b" "c")) "a" "b" }}',
    '{{ (printf "%s" "x").y }}',
    '{{ ("s").y }}',
    '{{ (nil).y }}',
    '{{ $x := nil }}',
  ];
  return ts.map((t, i) => ({ name: `language/${String(i).padStart(3, '0')}`, template: t, data, funcs: 'sprig' as const }));
}

function dataModelCases(): CorpusCase[] {
  const datas: [string, string][] = [
    ['ints', '{"a":1,"b":-0,"c":9223372036854775807,"d":-9223372036854775808,"e":12345678901234567}'],
    ['floats', '{"a":1.0,"b":1e2,"c":1.5e-3,"d":123456789.123,"e":-0.0,"f":1E+2}'],
    ['bigint-overflow', '{"a":9223372036854775808,"b":18446744073709551616}'],
    ['top-list', '[1,"x",{"k":"v"}]'],
    ['top-string', '"just a string"'],
    ['top-int', '42'],
    ['top-float', '4.2'],
    ['top-null', 'null'],
    ['unicode-keys', '{"ключ":"значение","emoji":"😀","esc":"a\\u0000b\\n"}'],
  ];
  const ts = ['{{ . }}', '{{ printf "%T" . }}', '{{ toJson . }}', '{{ range $k, $v := . }}{{ $k }}={{ $v }}({{ printf "%T" $v }});{{ end }}', '{{ .a }} {{ .b }} {{ add .a 1 }} {{ typeOf .a }}'];
  const cases: CorpusCase[] = [];
  for (const [dn, d] of datas) ts.forEach((t, i) => cases.push({ name: `data/${dn}/${i}`, template: t, data: d, funcs: 'sprig' }));
  return cases;
}

function main(): void {
  const groups: Record<string, CorpusCase[]> = {
    'go-text-template': goTextTemplateCases(),
    'sprig-tests': sprigTestCases(),
    seeds: seedCases(),
    fmt: fmtCases(),
    'sprig-families': sprigFamilyCases(),
    language: languageCases(),
    'data-model': dataModelCases(),
  };
  let total = 0;
  for (const [name, cases] of Object.entries(groups)) {
    // Unique names.
    const seen = new Map<string, number>();
    for (const c of cases) {
      const n = seen.get(c.name) ?? 0;
      seen.set(c.name, n + 1);
      if (n > 0) c.name += `#${n + 1}`;
    }
    writeFileSync(join(OUT, `${name}.json`), JSON.stringify(cases, null, 1) + '\n');
    total += cases.length;
    process.stdout.write(`${name}: ${cases.length} cases\n`);
  }
  process.stdout.write(`total: ${total} cases\n`);
}

main();
