// compileRego with the real opa: v1 and v0 syntax, compile errors fit for a condition message, the
// capabilities restriction, the bundle extraction and the memory/disk cache.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ensureBinary } from '../../core/peers/index.ts';
import {
  RegoCompileError,
  allowedBuiltinNames,
  buildCapabilities,
  clearCompileMemoryCache,
  compileRego,
  loadPolicy,
} from '../../core/opa/index.ts';
import { extractFromTarGz } from '../../core/opa/tar.ts';
import { WASM_NATIVE_BUILTINS } from '../../core/opa/capabilities.ts';

describe('opa: compileRego', function () {
  this.timeout(600_000);
  let opa: string;
  let cacheDir: string;

  before(async () => {
    opa = await ensureBinary('opa');
    cacheDir = mkdtempSync(join(tmpdir(), 'opa-cache-test-'));
  });
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  const compile = (source: string, entrypoint = 'proxy/auth') =>
    compileRego(source, { entrypoint, fileName: 'generator.rego', cacheDir });

  const languages: { name: string; source: string; version: 'v0' | 'v1' }[] = [
    { name: 'v1 (if, :=)', source: 'package proxy\nauth := {"token": input.t} if input.t != ""\n', version: 'v1' },
    {
      name: 'v1 with import rego.v1',
      source: 'package proxy\nimport rego.v1\nauth := {"token": input.t} if input.t != ""\n',
      version: 'v1',
    },
    {
      name: 'v0 (rule body without if)',
      source: 'package proxy\nauth = {"token": input.t} { input.t != "" }\n',
      version: 'v0',
    },
    {
      name: 'v0 with future.keywords',
      source: 'package proxy\nimport future.keywords.in\nauth = {"token": t} { some t in input.ts }\n',
      version: 'v0',
    },
    {
      name: 'v0 partial set without contains',
      source: 'package proxy\nnames[n] { n := input.ts[_] }\nauth = {"token": concat(",", names)}\n',
      version: 'v0',
    },
  ];
  for (const l of languages) {
    it(`compiles ${l.name} as Rego ${l.version}`, async () => {
      const c = await compile(l.source);
      assert.equal(c.regoVersion, l.version);
      assert.equal(c.wasm.subarray(0, 4).toString('latin1'), '\0asm');
      assert.match(c.sha256, /^[0-9a-f]{64}$/);
      assert.equal(c.entrypoint, 'proxy/auth');
    });
  }

  const errors: { name: string; source: string; entrypoint?: string; message: RegExp }[] = [
    {
      name: 'a syntax error',
      source: 'package proxy\n\nauth := {"x": \n',
      message: /^generator\.rego:4: rego_parse_error: unexpected eof token: expected rule value term/,
    },
    {
      name: 'an unsupported built-in (http.send)',
      source:
        'package proxy\nauth := {"position": "header", "auth": {"X": http.send({"method": "get", "url": "http://x"}).body}}\n',
      message:
        /^generator\.rego:2: rego_type_error: undefined function http\.send \(the OPA built-in http\.send is not supported/,
    },
    {
      name: 'an unsupported built-in in a v0 policy (net.lookup_ip_addr)',
      source: 'package proxy\nauth = {"auth": {"X": x}} { x := net.lookup_ip_addr("example.com") }\n',
      message: /^generator\.rego:2: rego_type_error: undefined function net\.lookup_ip_addr/,
    },
    {
      name: 'an unknown function',
      source: 'package proxy\nauth := {"x": nosuch.fn(1)}\n',
      message: /^generator\.rego:2: rego_type_error: undefined function nosuch\.fn$/,
    },
    {
      name: 'the wrong package',
      source: 'package other\nauth := {}\n',
      message: /^generator\.rego: no rule "auth" in package "proxy" \(entrypoint proxy\/auth\)$/,
    },
    {
      name: 'an invalid entrypoint',
      source: 'package proxy\nauth := {}\n',
      entrypoint: 'proxy/../x',
      message: /^invalid entrypoint/,
    },
  ];
  for (const e of errors) {
    it(`rejects ${e.name} with a concise message`, async () => {
      const err = await compile(e.source, e.entrypoint).then(
        () => assert.fail('compiled'),
        (x: unknown) => x,
      );
      assert.ok(err instanceof RegoCompileError, String(err));
      assert.match(err.message, e.message);
      assert.doesNotMatch(err.message, /connectors-opa-|\/tmp\//, 'no temp paths');
      assert.doesNotMatch(err.message, /\n/, 'one line');
    });
  }

  it('accepts `import time` (as the reference example writes it) by blanking the import, with a warning; line numbers stay', async () => {
    const c = await compile('package proxy\n\nimport time\n\nauth := {"t": time.now_ns()}\n');
    assert.deepEqual(c.warnings, ['line 3: ignored "import time": built-ins need no import']);
    const bad = await compile('package proxy\nimport time\nauth := {"t": time.now_ns(}\n').catch((x: Error) => x);
    assert.match(String((bad as Error).message), /^generator\.rego:3: rego_parse_error/);
  });

  it('caches in memory (same promise) and on disk (no opa run on a fresh process cache)', async () => {
    const source = `package proxy\nauth := {"n": ${Date.now()}}\n`;
    const t0 = performance.now();
    const first = await compile(source);
    const cold = performance.now() - t0;
    assert.equal(compile(source), compile(source));
    assert.ok(existsSync(join(cacheDir, `${first.key}.wasm`)) && existsSync(join(cacheDir, `${first.key}.json`)));
    clearCompileMemoryCache();
    const t1 = performance.now();
    const again = await compile(source);
    const warm = performance.now() - t1;
    assert.equal(again.sha256, first.sha256);
    assert.deepEqual(again.wasm, first.wasm);
    assert.ok(warm < cold, `disk hit ${warm.toFixed(1)}ms should beat a compile ${cold.toFixed(1)}ms`);
    assert.ok(!readdirSync(cacheDir).some((f) => f.startsWith('.')), 'no temp files left');
  });

  it('keys the cache on the entrypoint too', async () => {
    const source = 'package proxy\nauth := {"a": 1}\nother := {"b": 2}\n';
    const a = await compile(source, 'proxy/auth');
    const b = await compile(source, 'proxy/other');
    assert.notEqual(a.key, b.key);
    assert.deepEqual((await loadPolicy(b)).evaluate({}), { b: 2 });
  });

  it('builds the capabilities from OPA: every allowed name is an OPA built-in or declared by us', () => {
    const current = JSON.parse(execFileSync(opa, ['capabilities', '--current'], { encoding: 'utf8' }));
    const known = new Set<string>(current.builtins.map((b: { name: string }) => b.name));
    for (const name of WASM_NATIVE_BUILTINS) assert.ok(known.has(name), `${name} is not an OPA ${opa} built-in`);
    const caps = buildCapabilities(current);
    const names = new Set(caps.builtins.map((b) => b.name));
    assert.deepEqual(
      [...names].sort(),
      [...allowedBuiltinNames()].filter((n) => known.has(n) || n === 'hmac.sha256').sort(),
    );
    assert.ok(names.has('hmac.sha256') && names.has('time.now_ns') && names.has('sprintf') && !names.has('http.send'));
  });

  it('reads /policy.wasm out of a tar.gz (ustar prefix + GNU long name)', () => {
    const header = (name: string, size: number, type = '0', prefix = '') => {
      const h = Buffer.alloc(512);
      h.write(name, 0, 'utf8');
      h.write('0000644\0', 100);
      h.write(size.toString(8).padStart(11, '0') + '\0', 124);
      h.write(type, 156);
      h.write('ustar\0', 257);
      h.write('00', 263);
      h.write(prefix, 345);
      h.write('        ', 148);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
      return h;
    };
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
    const long = 'x'.repeat(120) + '/data.json';
    const tar = Buffer.concat([
      header('././@LongLink', long.length + 1, 'L'),
      pad(Buffer.from(long + '\0')),
      header('ignored', 2),
      pad(Buffer.from('{}')),
      header('policy.wasm', 4, '0', ''),
      pad(Buffer.from('wasm')),
      header('b.wasm', 3, '0', 'a'),
      pad(Buffer.from('abc')),
      Buffer.alloc(1024),
    ]);
    const gz = gzipSync(tar);
    assert.equal(extractFromTarGz(gz, '/policy.wasm')?.toString(), 'wasm');
    assert.equal(extractFromTarGz(gz, 'a/b.wasm')?.toString(), 'abc');
    assert.equal(extractFromTarGz(gz, long)?.toString(), '{}');
    assert.equal(extractFromTarGz(gz, '/missing'), undefined);
  });

  it('also works when opa has to write into an unwritable cache dir', async () => {
    const file = join(cacheDir, 'not-a-dir');
    writeFileSync(file, '');
    const c = await compileRego('package proxy\nauth := {"ok": true}\n', {
      entrypoint: 'proxy/auth',
      cacheDir: join(file, 'sub'),
    });
    assert.deepEqual((await loadPolicy(c)).evaluate({}), { ok: true });
  });
});

describe('opa: compileRego without a working opa', () => {
  it('rejects with the reason and does not remember the failure', async () => {
    const opts = { entrypoint: 'proxy/auth', opaPath: '/nonexistent/opa', cacheDir: false as const };
    const first = compileRego('package proxy\nauth := {}\n', opts);
    await assert.rejects(
      first,
      (e: Error) => !(e instanceof RegoCompileError) && /cannot run \/nonexistent\/opa/.test(e.message),
    );
    const again = compileRego('package proxy\nauth := {}\n', opts);
    assert.notEqual(again, first, 'a new attempt, not the remembered failure');
    await assert.rejects(again, /cannot run/);
    // whereas a policy error is remembered
    const bad = { entrypoint: 'proxy/auth', cacheDir: false as const };
    const b1 = compileRego('package proxy\nauth := {\n', bad);
    await assert.rejects(b1, RegoCompileError);
    assert.equal(compileRego('package proxy\nauth := {\n', bad), b1);
  });
});
