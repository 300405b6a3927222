// Every subcommand explains itself with --help, and bad usage fails with exit 2 and the usage text.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { commandNames } from '../../cli/main.ts';

const cli = fileURLToPath(new URL('../../cli/connectors.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('connectors CLI', () => {
  it('lists every command in its top-level help', () => {
    const r = run('--help');
    expect(r.status).to.equal(0);
    for (const name of commandNames()) expect(r.stdout).to.match(new RegExp(`^  ${name}\\s`, 'm'));
  });

  for (const name of commandNames()) {
    it(`\`connectors ${name} --help\` prints its usage and options`, () => {
      const r = run(name, '--help');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^Usage: connectors ${name}\\b`));
      expect(r.stdout).to.include('--help');
    });
  }

  it('rejects an unknown command with exit 2', () => {
    const r = run('no-such-command');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('unknown command "no-such-command"');
  });

  it('rejects an unknown flag with exit 2 and the usage', () => {
    const r = run('crds', '--no-such-flag');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/Unknown option '--no-such-flag'/);
    expect(r.stderr).to.include('Usage: connectors crds');
  });

  it('refuses to run on a Node.js older than 24 with a clear message', () => {
    // Node.js 24 made to report itself as 20, so the check runs wherever the suite runs.
    const pretend20 =
      'data:text/javascript,' +
      'Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.20.2"}});' +
      'Object.defineProperty(process,"version",{value:"v20.20.2"})';
    const old = spawnSync(process.execPath, ['--import', pretend20, cli, '--help'], { encoding: 'utf8' });
    expect(old.status).to.equal(1);
    expect(old.stderr).to.match(/connectors needs Node.js 24/);
  });
});
