// The repository's code is formatted by Prettier (.prettierrc.json): `npm run format` rewrites it, this test
// fails naming every file that differs. ESLint (eslint.config.js) must report nothing.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

describe('code style', () => {
  it('every file Prettier covers is formatted (npm run format fixes it)', () => {
    const run = spawnSync(join(root, 'node_modules/.bin/prettier'), ['--list-different', '.'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.error, String(run.error)).to.equal(undefined);
    expect(run.stdout.trim(), 'files not formatted by Prettier').to.equal('');
    expect(run.status, run.stderr).to.equal(0);
  });

  it('ESLint (typescript-eslint, type-aware rules) reports nothing (npm run lint lists it)', function () {
    this.timeout(300_000);
    const run = spawnSync(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '.'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(run.error, String(run.error)).to.equal(undefined);
    expect(run.stdout.trim(), 'ESLint problems').to.equal('');
    expect(run.status, run.stderr).to.equal(0);
  });

  it('no file holds a merge conflict marker', () => {
    // git grep over tracked files: a marker left by a rebase in a Markdown page or a YAML file breaks nothing
    // a compiler sees, so it must be caught here.
    const run = spawnSync('git', ['grep', '-n', '-E', '^(<<<<<<< |>>>>>>> |=======$)', '--', '.', ':!node_modules'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stdout.trim(), 'conflict markers').to.equal('');
  });
});
