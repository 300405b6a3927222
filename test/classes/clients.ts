// The real clients of the class journeys, each run with a clean environment and nothing but the rendered files:
// mvn (Debian), npm and yarn (Berry), pip and twine. Shared by the per-tool classes and by nexus/jfrog.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  MAKE_WHEEL,
  MAVEN_DEPENDENCY_PLUGIN,
  MAVEN_DEPLOY_PLUGIN,
  pythonToolsBin,
  yarnMain,
} from '@connectors/test-support';
import type { ClassEnv } from './packages-fixture.ts';

const PATH = `${join(process.execPath, '..')}:/usr/bin:/bin`;

/** Writes a Maven artifact (jar, pom and their sha1 files) into a repository directory, as a deploy would. */
export async function seedMavenArtifact(repoDir: string, g: string, a: string, v: string, content: string) {
  const dir = join(repoDir, ...g.split('.'), a, v);
  await mkdir(dir, { recursive: true });
  const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></project>\n`;
  for (const [file, data] of [
    [`${a}-${v}.jar`, content],
    [`${a}-${v}.pom`, pom],
  ]) {
    await writeFile(join(dir, file), data);
    await writeFile(join(dir, `${file}.sha1`), createHash('sha1').update(data).digest('hex'));
  }
}

/**
 * mvn resolves com.example:greeting:1.0 (dependency:get, through the settings' mirror) and deploys a new artifact to
 * `deployUrl` (deploy:deploy-file), with `-s <rendered settings.xml>` and an empty local repository.
 */
export async function mavenResolveAndDeploy(
  env: ClassEnv,
  settings: string,
  deploy: { url: string; repositoryId: string; artifactId: string },
): Promise<void> {
  const work = await mkdtemp(join(env.work, 'mvn-'));
  const home = join(work, 'home');
  const local = join(work, 'local-repository');
  await mkdir(home);
  const mvn = (args: string[]) =>
    env.run('mvn', ['-B', '-s', settings, `-Dmaven.repo.local=${local}`, '-Dmaven.resolver.transport=wagon', ...args], {
      env: { PATH, HOME: home, LANG: 'C.UTF-8' },
      cwd: work,
    });
  const got = await mvn([
    `${MAVEN_DEPENDENCY_PLUGIN}:get`,
    '-Dartifact=com.example:greeting:1.0',
    '-Dtransitive=false',
  ]);
  expect(got.stdout).to.include('BUILD SUCCESS');
  expect(await readFile(join(local, 'com/example/greeting/1.0/greeting-1.0.jar'), 'utf8')).to.equal('greeting 1.0\n');

  const jar = join(work, `${deploy.artifactId}.jar`);
  await writeFile(jar, `built by ${deploy.artifactId}\n`);
  const deployed = await mvn([
    `${MAVEN_DEPLOY_PLUGIN}:deploy-file`,
    `-Dfile=${jar}`,
    '-DgroupId=com.example',
    `-DartifactId=${deploy.artifactId}`,
    '-Dversion=1.0',
    '-Dpackaging=jar',
    `-Durl=${deploy.url}`,
    `-DrepositoryId=${deploy.repositoryId}`,
  ]);
  expect(deployed.stdout).to.include(
    `Uploaded to ${deploy.repositoryId}: ${deploy.url}/com/example/${deploy.artifactId}/1.0/`,
  );
}

/** A package directory for npm publish. */
async function npmPackage(dir: string, name: string, version: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js', license: 'MIT' }));
  await writeFile(join(dir, 'index.js'), `module.exports = 'hello from ${name} ${version}';\n`);
}

/**
 * npm publishes `name@1.0.0` and installs it in a new project, with HOME = the rendered files (~/.npmrc); then
 * Yarn Berry installs it with HOME = the rendered files (~/.yarnrc.yml), when `yarnHome` is given.
 */
export async function npmPublishAndInstall(
  env: ClassEnv,
  o: { npmHome: string; yarnHome?: string; name: string },
): Promise<void> {
  const work = await mkdtemp(join(env.work, 'npm-'));
  const cache = join(work, 'npm-cache');
  const npmEnv = { PATH, HOME: o.npmHome, npm_config_cache: cache, npm_config_update_notifier: 'false' };
  const pkg = join(work, 'pkg');
  await npmPackage(pkg, o.name, '1.0.0');
  const published = await env.run('npm', ['publish'], { env: npmEnv, cwd: pkg });
  expect(published.stdout).to.include(`+ ${o.name}@1.0.0`);

  const app = join(work, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  await env.run('npm', ['install', `${o.name}@1.0.0`, '--prefer-online'], { env: npmEnv, cwd: app });
  expect(await readFile(join(app, 'node_modules', o.name, 'index.js'), 'utf8')).to.include(
    `hello from ${o.name} 1.0.0`,
  );

  if (!o.yarnHome) return;
  const yarnApp = join(work, 'yarn-app');
  await mkdir(yarnApp);
  await writeFile(
    join(yarnApp, 'package.json'),
    JSON.stringify({ name: 'yarn-app', version: '1.0.0', private: true, dependencies: { [o.name]: '1.0.0' } }),
  );
  await writeFile(join(yarnApp, 'yarn.lock'), '');
  const yarnEnv = {
    PATH,
    HOME: o.yarnHome,
    YARN_ENABLE_TELEMETRY: '0',
    YARN_ENABLE_GLOBAL_CACHE: 'false',
    YARN_NODE_LINKER: 'node-modules',
    YARN_GLOBAL_FOLDER: join(work, 'yarn-global'),
  };
  await env.run(process.execPath, [await yarnMain(), 'install'], { env: yarnEnv, cwd: yarnApp });
  expect(await readFile(join(yarnApp, 'node_modules', o.name, 'index.js'), 'utf8')).to.include(
    `hello from ${o.name} 1.0.0`,
  );
}

/**
 * twine uploads a wheel of `name` 1.0 with HOME = the rendered .pypirc's directory, then pip installs it with
 * PIP_CONFIG_FILE = the rendered pip.conf (into a target directory).
 */
export async function twineUploadAndPipInstall(
  env: ClassEnv,
  o: { pypircHome: string; pipConf: string; name: string },
): Promise<void> {
  const bin = await pythonToolsBin();
  const work = await mkdtemp(join(env.work, 'pypi-'));
  const dist = join(work, 'dist');
  await mkdir(dist);
  const wheel = (
    await env.run(join(bin, 'python'), [MAKE_WHEEL, o.name, '1.0', dist], { env: { PATH } })
  ).stdout.trim();
  const upload = await env.run(
    join(bin, 'twine'),
    ['upload', '--non-interactive', '--disable-progress-bar', '--repository', 'connectors-pypi', wheel],
    { env: { PATH, HOME: o.pypircHome, PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring' }, cwd: work },
  );
  expect(upload.stdout + upload.stderr).to.match(/Uploading .*\.whl/);

  const home = join(work, 'home');
  const target = join(work, 'site');
  await mkdir(home);
  await env.run(
    join(bin, 'pip'),
    ['install', '--no-deps', '--no-cache-dir', '--disable-pip-version-check', '--target', target, `${o.name}==1.0`],
    { env: { PATH, HOME: home, PIP_CONFIG_FILE: o.pipConf }, cwd: work },
  );
  const module = join(target, `${o.name.replace(/-/g, '_')}.py`);
  expect(existsSync(module), `${module} installed`).to.equal(true);
  expect(await readFile(module, 'utf8')).to.include(`hello from ${o.name} 1.0`);
}
