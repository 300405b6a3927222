// Debian packages the test suite needs (real upstream peers and clients), installed on first use.
// CI runs `npm test` on a clean machine as root, so the project's own code must install them; the test
// runner calls `ensureSystemPackages(TEST_SYSTEM_PACKAGES)` once at start.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile, chmod } from 'node:fs/promises';

/**
 * What the tests need, and why:
 * - git: the git client, and `git http-backend` (the real smart HTTP server, as a CGI).
 * - apache2: the web server in front of git http-backend (mod_cgi + mod_auth_basic, passes `Git-Protocol`
 *   as GIT_PROTOCOL, streams chunked request bodies to the CGI); brings apache2-utils (`htpasswd`, bcrypt).
 * - apache2-utils: `htpasswd -B` writes the bcrypt entries that both apache and docker-registry accept.
 * - docker-registry: the CNCF distribution registry 2.8 (`/usr/bin/docker-registry`).
 * - skopeo: a real OCI client to push and pull images.
 * - nginx-light: a plain reverse proxy used as a benchmark baseline.
 * - curl: a plain HTTP client for tests and diagnostics.
 * - gh: the GitHub CLI, the real client of the github class's githubconfig configuration.
 * - maven (brings a JDK): the real Maven client of the maven/nexus/jfrog class journeys.
 * - python3-venv: a venv from Debian's python3 for pypiserver and twine (test/support/peers/tools.ts).
 * - buildah: builds and pushes images as the bundled oci-build-push Task does (test/tekton/steps.test.ts).
 */
export const TEST_SYSTEM_PACKAGES: readonly string[] = [
  'git',
  'apache2',
  'apache2-utils',
  'docker-registry',
  'skopeo',
  'nginx-light',
  'curl',
  'gh',
  'maven',
  'python3-venv',
  'buildah',
];

/** Packages among `names` that dpkg does not report as installed. */
export function missingPackages(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  // Unknown packages make dpkg-query exit 1 and print to stderr; the installed ones are still listed.
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...names], { encoding: 'utf8' });
  if (r.error) throw new Error(`dpkg-query is not available (${r.error.message}); the tests need a Debian system`);
  const installed = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const [pkg, status] = line.trim().split(' ');
    // Multi-arch packages are listed as name:arch.
    if (pkg && status === 'installed') installed.add(pkg.split(':')[0]);
  }
  return names.filter((n) => !installed.has(n));
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/**
 * Installs whichever of `names` are missing with apt-get (one `apt-get update`, then one install), printing one
 * progress line. Packages whose maintainer scripts would start a daemon (docker-registry, nginx, apache2) are
 * kept from starting by a temporary policy-rc.d that denies every service start: tests run their own
 * instances on free loopback ports, and nothing may stay bound to a port.
 */
export async function ensureSystemPackages(
  names: readonly string[],
  progress: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Promise<void> {
  const missing = missingPackages(names);
  if (missing.length === 0) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      `missing Debian packages needed by the tests: ${missing.join(' ')}; run the tests as root so they can be ` +
        `installed, or install them yourself: sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
  }
  progress(`connectors: installing Debian packages ${missing.join(' ')} (first run only; may take a minute)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'a' };
  const hadPolicy = existsSync(POLICY_RC_D);
  const previousPolicy = hadPolicy ? await readFile(POLICY_RC_D) : undefined;
  await writeFile(
    POLICY_RC_D,
    '#!/bin/sh\n# written by connectors test/support/peers/system-packages.ts while installing\nexit 101\n',
  );
  await chmod(POLICY_RC_D, 0o755);
  try {
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-q'], env);
    await run(
      'apt-get',
      [
        '-o',
        'DPkg::Lock::Timeout=300',
        'install',
        '-y',
        '-q',
        '--no-install-recommends',
        '-o',
        'Dpkg::Options::=--force-confdef',
        '-o',
        'Dpkg::Options::=--force-confold',
        ...missing,
      ],
      env,
    );
  } finally {
    if (previousPolicy) await writeFile(POLICY_RC_D, previousPolicy);
    else await rm(POLICY_RC_D, { force: true });
  }
  const still = missingPackages(missing);
  if (still.length > 0)
    throw new Error(`apt-get finished but these packages are still not installed: ${still.join(' ')}`);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.on('error', (err) => reject(new Error(`${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const tail = Buffer.concat(out).toString('utf8').split('\n').slice(-30).join('\n');
      reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}
