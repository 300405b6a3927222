// Pinned package-registry tools the class tests run (servers and clients), installed once into the cache outside
// the repository (~/.cache/connectors/tools, CONNECTORS_CACHE_DIR) by the project's own code:
// - npm packages (verdaccio, yarn) with the machine's npm into their own prefix, at exact versions;
// - Python packages (pypiserver, twine) with pip into a venv made from Debian's python3 (python3-venv).
// Each install goes to a temporary directory renamed into place when complete, under a lock directory, so
// concurrent test processes and an interrupted install never leave a half-made tool behind.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheRoot, type ProgressFn } from '../../../core/peers/index.ts';
import { runCommand } from './process.ts';

/** verdaccio 6.8.0: the newest 6.x that runs on Node.js 20 and 24 (6.10 wants Node 22). */
export const VERDACCIO_VERSION = '6.8.0';
/** Yarn Berry as published on npm (one bundled file, no dependencies); reads `.yarnrc.yml`. */
export const YARN_VERSION = '4.9.2';
/** pypiserver with passlib (its htpasswd support) and twine, the upload client. */
export const PYTHON_TOOLS = ['pypiserver==2.4.2', 'passlib==1.7.4', 'twine==6.1.0'];
/** Debian's interpreter: the venv must not depend on a per-user pyenv. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const defaultProgress: ProgressFn = (line) => process.stderr.write(line + '\n');

export function toolsDir(): string {
  return join(cacheRoot(), 'tools');
}

async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let stale = false;
      try {
        process.kill(Number(await readFile(join(lockDir, 'pid'), 'utf8')), 0);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        stale = code === 'ESRCH' || (code === 'ENOENT' && Date.now() - (await stat(lockDir)).mtimeMs > 60_000);
      }
      if (stale) await rm(lockDir, { recursive: true, force: true });
      else await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/**
 * Builds `dir` once with `make(work)`; returns `dir`. `work` is a temporary sibling renamed into place, or `dir`
 * itself with `inPlace` (a venv: its scripts name their interpreter by absolute path), marked complete last.
 */
async function installOnce(
  dir: string,
  what: string,
  progress: ProgressFn,
  make: (work: string) => Promise<void>,
  inPlace = false,
): Promise<string> {
  if (existsSync(join(dir, '.complete'))) return dir;
  await mkdir(toolsDir(), { recursive: true });
  await withLock(`${dir}.lock`, async () => {
    if (existsSync(join(dir, '.complete'))) return;
    const started = Date.now();
    progress(`connectors: installing ${what} into ${dir} (first use only)`);
    const work = inPlace ? dir : `${dir}.work-${process.pid}`;
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    try {
      await make(work);
      await writeFile(join(work, '.complete'), new Date().toISOString() + '\n');
      if (!inPlace) {
        await rm(dir, { recursive: true, force: true });
        await rename(work, dir);
      }
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
    progress(`connectors: installed ${what} in ${Math.round((Date.now() - started) / 1000)}s`);
  });
  return dir;
}

/** An npm package at an exact version in its own prefix; returns the prefix (bins in node_modules/.bin). */
export async function ensureNpmTool(name: string, version: string, progress = defaultProgress): Promise<string> {
  const dir = join(toolsDir(), `npm-${name.replace(/[@/]/g, '_')}-${version}`);
  return installOnce(dir, `${name}@${version} (npm)`, progress, async (work) => {
    await writeFile(join(work, 'package.json'), JSON.stringify({ private: true, name: 'connectors-tool' }) + '\n');
    await runCommand('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `${name}@${version}`], {
      cwd: work,
      env: { ...process.env, npm_config_loglevel: 'error' },
    });
  });
}

/** The verdaccio executable (run it with the project's Node.js). */
export async function verdaccioMain(progress = defaultProgress): Promise<string> {
  return join(await ensureNpmTool('verdaccio', VERDACCIO_VERSION, progress), 'node_modules/verdaccio/bin/verdaccio');
}

/** yarn.js of Yarn Berry. */
export async function yarnMain(progress = defaultProgress): Promise<string> {
  return join(
    await ensureNpmTool('@yarnpkg/cli-dist', YARN_VERSION, progress),
    'node_modules/@yarnpkg/cli-dist/bin/yarn.js',
  );
}

/** The venv with PYTHON_TOOLS; returns its bin directory. */
export async function pythonToolsBin(progress = defaultProgress): Promise<string> {
  if (!existsSync(SYSTEM_PYTHON))
    throw new Error(`${SYSTEM_PYTHON} is missing: install Debian python3 and python3-venv`);
  const tag = PYTHON_TOOLS.map((p) => p.replace('==', '-')).join('_');
  const dir = join(toolsDir(), `python-${tag}`);
  await installOnce(
    dir,
    PYTHON_TOOLS.join(' ') + ' (pip, in a venv)',
    progress,
    async (work) => {
      await runCommand(SYSTEM_PYTHON, ['-m', 'venv', work]);
      await runCommand(
        join(work, 'bin/python'),
        ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...PYTHON_TOOLS],
        {
          env: { ...process.env, PIP_REQUIRE_VIRTUALENV: '1' },
        },
      );
    },
    true,
  );
  return join(dir, 'bin');
}

/** The Maven plugins the tests run, at pinned versions (full coordinates: no plugin-prefix lookups). */
export const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
export const MAVEN_DEPLOY_PLUGIN = 'org.apache.maven.plugins:maven-deploy-plugin:3.1.3';

/**
 * A Maven repository holding what mvn needs to run MAVEN_DEPENDENCY_PLUGIN's `get` and MAVEN_DEPLOY_PLUGIN's
 * `deploy-file` (the plugins and their dependencies), fetched once from Maven Central by running exactly those goals
 * with Debian's mvn. Tests serve it as the mirror of every repository, so mvn needs nothing else at test time.
 * Returns the directory, in remote-repository layout (the local repository's bookkeeping files removed).
 */
export async function mavenSeedRepository(progress = defaultProgress): Promise<string> {
  const tag = [MAVEN_DEPENDENCY_PLUGIN, MAVEN_DEPLOY_PLUGIN].map((c) => c.split(':').slice(1).join('-')).join('_');
  const dir = join(toolsDir(), `maven-seed-${tag}`);
  await installOnce(
    dir,
    `the Maven plugins ${MAVEN_DEPENDENCY_PLUGIN} and ${MAVEN_DEPLOY_PLUGIN} (mvn)`,
    progress,
    async (work) => {
      const repo = join(work, 'repository');
      const scratch = join(work, 'scratch');
      await mkdir(scratch, { recursive: true });
      await writeFile(join(scratch, 'settings.xml'), '<settings/>\n');
      await writeFile(join(scratch, 'seed.jar'), 'not really a jar\n');
      const mvn = (args: string[]) =>
        runCommand('mvn', ['-B', '-q', '-s', join(scratch, 'settings.xml'), `-Dmaven.repo.local=${repo}`, ...args], {
          cwd: scratch,
        });
      await mvn([`${MAVEN_DEPENDENCY_PLUGIN}:get`, `-Dartifact=${MAVEN_DEPLOY_PLUGIN}`]);
      await mvn([
        `${MAVEN_DEPLOY_PLUGIN}:deploy-file`,
        `-Dfile=${join(scratch, 'seed.jar')}`,
        '-DgroupId=connectors.seed',
        '-DartifactId=seed',
        '-Dversion=1',
        '-Dpackaging=jar',
        `-Durl=file://${join(scratch, 'deployed')}`,
        '-DrepositoryId=seed',
      ]);
      await rm(join(repo, 'connectors'), { recursive: true, force: true });
      await runCommand('find', [
        repo,
        '(',
        '-name',
        '_remote.repositories',
        '-o',
        '-name',
        '*.lastUpdated',
        '-o',
        '-name',
        'resolver-status.properties',
        '-o',
        '-name',
        'maven-metadata-*.xml',
        ')',
        '-delete',
      ]);
      await rm(scratch, { recursive: true, force: true });
    },
  );
  return join(dir, 'repository');
}
