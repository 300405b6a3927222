// `npm test`: prepares everything the suite needs on a fresh machine (Debian packages, pinned Go peers),
// type-checks, runs every test/**/*.test.ts with mocha, and ends with one summary line
// `tests: N passed, N failed, N skipped`. Arguments narrow the run to files or folders under test/.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';
import { ensureSystemPackages, mochaHooks, TEST_SYSTEM_PACKAGES } from '@connectors/test-support';
import { ensureBinary } from '../core/peers/index.ts';
import { prepareTestPeers } from './prepare-peers.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

function findTests(dir: string): string[] {
  if (statSync(dir).isFile()) return [dir];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'fixtures') out.push(...findTests(path));
    } else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

function step(title: string) {
  process.stdout.write(`\n== ${title}\n`);
}

async function prepare(): Promise<void> {
  step('system packages');
  await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
  step('typecheck (tsc 7, strict)');
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript7/bin/tsc'), '-p', join(root, 'tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) throw new Error('typecheck failed');
  step('pinned Go peers (built once, then cached)');
  for (const binary of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'opa']) {
    process.stdout.write(`${binary}: ${await ensureBinary(binary, (l) => process.stdout.write(l + '\n'))}\n`);
  }
  await prepareTestPeers((l: string) => process.stdout.write(l + '\n'));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const started = Date.now();
  await prepare();
  const targets = args.length ? args.map((a) => resolve(a)) : [join(root, 'test')];
  const files = targets.flatMap(findTests);
  step(`mocha: ${files.length} test files`);
  const mocha = new Mocha({ reporter: 'spec', timeout: 120_000, slow: 5_000 });
  mocha.rootHooks(mochaHooks);
  for (const f of files) mocha.addFile(f);
  await mocha.loadFilesAsync();
  const stats = await new Promise<Mocha.Stats>((resolveRun) => {
    const runner = mocha.run();
    runner.on('end', () => resolveRun(runner.stats!));
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`\nfiles: ${files.map((f) => relative(root, f)).length}, wall time ${seconds}s\n`);
  process.stdout.write(`tests: ${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped\n`);
  return stats.failures > 0 || stats.tests === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`npm test: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
