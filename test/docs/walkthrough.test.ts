// Every walkthrough of the documentation (README.md and every other Markdown page of the repository) runs
// exactly as printed, in a clean shell, against what it starts itself (`npm start`, a git server, ...):
// see walkthrough.ts for how a page marks one. The runner itself is tested first on small pages, so a
// walkthrough that passes here is known to fail when one of its commands stops working.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, parseWalkthroughs, runWalkthrough, type Walkthrough } from './walkthrough.ts';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function pages(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((p) => p && !p.startsWith('test/fixtures/') && !p.includes('node_modules/'));
}

describe('docs: the walkthrough runner', function () {
  this.timeout(60_000);
  let state: string;
  before(() => (state = mkdtempSync(join(tmpdir(), 'walkthrough-runner-'))));
  after(() => rmSync(state, { recursive: true, force: true }));
  const run = (markdown: string) => {
    const [w] = parseWalkthroughs(markdown, 'page.md');
    return runWalkthrough(w, 'page.md', { cwd: state, env: cleanEnv(state), timeoutMs: 20_000 });
  };
  const page = (...blocks: string[]) => ['<!-- walkthrough: t -->', ...blocks, '<!-- /walkthrough -->'].join('\n');
  const sh = (directive: string, script: string) => `<!-- ${directive} -->\n\`\`\`sh\n${script}\n\`\`\``;

  it('runs foreground blocks in one shell, in order, so variables and exports carry over', async () => {
    const result = await run(page(sh('run', 'export A=1; B=2'), sh('run; expect: /^1 2$/m', 'echo "$A $B"')));
    expect(result.outputs[1].trim()).to.equal('1 2');
  });

  const failures: Array<[string, string, RegExp]> = [
    [
      'a command that does not exist',
      sh('run', 'echo before\nconnectors-no-such-command\necho after'),
      /page\.md:4 .*failed/,
    ],
    ['a failing command inside a pipeline', sh('run', 'false | cat'), /failed/],
    ['output that misses its expectation', sh('run; expect: /hello/', 'echo goodbye'), /does not match \/hello\//],
    ['a background block that exits before it is ready', sh('run: background; ready: /up/', 'exit 3'), /exited 3/],
  ];
  for (const [name, block, error] of failures) {
    it(`fails on ${name}, naming the page line`, async () => {
      const err = await run(page(block)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.match(error);
    });
  }

  it('fills a placeholder from what a background block printed, and stops that block at the end', async () => {
    const result = await run(
      page(
        sh('run: background; ready: /port (?<PORT>\\d+)/', 'echo "listening on port 4711"; exec sleep 300'),
        sh('run; expect: /^http:\\/\\/127\\.0\\.0\\.1:4711$/m', 'echo http://127.0.0.1:PORT'),
      ),
    );
    expect(result.outputs[0].trim()).to.equal('http://127.0.0.1:4711');
    const sleeping = execFileSync('sh', ['-c', 'pgrep -f "^sleep 300$" || true'], { encoding: 'utf8' }).trim();
    expect(sleeping, 'background block left running').to.equal('');
  });

  it('runs with a clean environment: nothing of the test process (node_modules/.bin, KUBECONFIG)', async () => {
    const result = await run(page(sh('run', 'echo "PATH=$PATH"; echo "KUBECONFIG=${KUBECONFIG:-unset}"')));
    expect(result.outputs[0]).to.not.include('node_modules');
    expect(result.outputs[0]).to.include('KUBECONFIG=unset');
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['a shell block without a directive', page('```sh\necho x\n```'), /without a run directive/],
    ['a directive without its block', page('<!-- run -->'), /without its shell block/],
    ['an unknown option', page(sh('run; wait: 3', 'true')), /unknown option/],
    ['an unclosed walkthrough', '<!-- walkthrough: x -->\n', /not closed/],
  ];
  for (const [name, markdown, error] of malformed)
    it(`rejects a page with ${name}`, () => expect(() => parseWalkthroughs(markdown, 'page.md')).to.throw(error));
});

describe('docs: every walkthrough runs as printed', function () {
  // A cold `npm start` may build the control plane's binaries; they are built once by the test runner.
  this.timeout(900_000);
  const found: Array<{ page: string; walkthrough: Walkthrough }> = [];
  for (const page of pages())
    for (const walkthrough of parseWalkthroughs(readFileSync(join(root, page), 'utf8'), page))
      found.push({ page, walkthrough });

  it('README.md has its git clone walkthrough marked', () => {
    expect(found.map((f) => `${f.page}#${f.walkthrough.name}`)).to.include('README.md#readme-git-clone');
  });

  for (const { page, walkthrough } of found) {
    it(`${page}: ${walkthrough.name}`, async () => {
      const state = mkdtempSync(join(tmpdir(), `walkthrough-state-`));
      try {
        await runWalkthrough(walkthrough, page, {
          cwd: root,
          env: cleanEnv(state),
          log: process.env.CONNECTORS_TEST_VERBOSE ? (l) => process.stderr.write(l + '\n') : undefined,
        });
      } finally {
        rmSync(state, { recursive: true, force: true });
      }
    });
  }
});
