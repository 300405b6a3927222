// `connectors template render` end to end: a real child process on temporary files.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'connectors.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('connectors template render', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'connectors-template-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the rendering of the seed .gitconfig template', () => {
    const tpl = join(dir, 'gitconfig.tpl');
    const data = join(dir, 'data.json');
    writeFileSync(
      tpl,
      '[http]\n    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}\n{{- ' +
        'range .connectors }}\n[url "{{ .status.proxyAddress }}"]\n    insteadOf = {{ .spec.address }}\n{{- ' +
        'end }}\n',
    );
    writeFileSync(
      data,
      JSON.stringify({
        context: { token: 'tok' },
        connectors: [{ spec: { address: 'https://github.com' }, status: { proxyAddress: 'http://proxy-a' } }],
      }),
    );
    const r = run(['template', 'render', '--template', tpl, '--data', data]);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal(
      '[http]\n    extraHeader = Authorization: Basic ' +
        Buffer.from(':tok').toString('base64') +
        '\n[url "http://proxy-a"]\n    insteadOf = https://github.com\n',
    );
  });

  it('keeps JSON integers as integers', () => {
    const tpl = join(dir, 'n.tpl');
    const data = join(dir, 'n.json');
    writeFileSync(tpl, '{{ .n }} {{ printf "%T" .n }} {{ .f }} {{ printf "%T" .f }}');
    writeFileSync(data, '{"n": 10000000, "f": 10000000.0}');
    expect(run(['template', 'render', '--template', tpl, '--data', data, '--name', 'x']).stdout).to.equal(
      '10000000 int64 1e+07 float64',
    );
  });

  it('exits 1 with the Go error on stderr for a bad template', () => {
    const tpl = join(dir, 'bad.tpl');
    writeFileSync(tpl, 'ok\n{{ if .x }}unterminated');
    const r = run(['template', 'render', '--template', tpl, '--name', 'bad']);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('template: bad:2: unexpected EOF\n');
  });

  it('exits 1 on an execution error', () => {
    const tpl = join(dir, 'exec.tpl');
    const data = join(dir, 'exec.json');
    writeFileSync(tpl, '{{ .a.b }}');
    writeFileSync(data, '{"a": "s"}');
    const r = run(['template', 'render', '--template', tpl, '--data', data]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal(
      'template: exec.tpl:1:5: executing "exec.tpl" at <.a.b>: can\'t evaluate field b in type interface {}\n',
    );
  });
});
