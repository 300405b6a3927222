// The image's base: the files of a few Debian packages (what distroless images are made of), unpacked with
// dpkg-deb, without maintainer scripts and without documentation, plus the /etc files a container needs.
//
// Why these packages: Node.js (the official build the project pins) links against glibc (libc6), libstdc++
// and libgcc_s; the CSI driver runs `mount -t tmpfs` and `umount` (csi/mounter.ts), which come with
// util-linux's `mount` package and its libraries (libmount, libblkid, libselinux, libpcre2). Nothing else:
// no shell, no package manager, no coreutils. Node carries its own CA certificates, OpenSSL and ICU.
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { LayerEntry } from './layer.ts';

export const BASE_PACKAGES = [
  'libc6',
  'libgcc-s1',
  'libstdc++6',
  'mount',
  'libmount1',
  'libblkid1',
  'libselinux1',
  'libpcre2-8-0',
] as const;

/** The user the image runs as (distroless's `nonroot`); the CSI driver overrides it with 0. */
export const NONROOT_UID = 65532;

/** Files of the packages that a container never reads. */
const DROP = [
  /^usr\/share\/(doc|man|info|lintian|locale|bug|gcc|gdb)(\/|$)/,
  /^usr\/lib\/x86_64-linux-gnu\/gconv(\/|$)/,
];

export interface DebianPackage {
  name: string;
  version: string;
  /** sha256 of the .deb file. */
  sha256: string;
}

function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out).toString())
        : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`)),
    );
  });
}

/**
 * Downloads the packages' .deb files (the apt candidate versions) into `dir`. apt's package lists may be
 * missing or stale on a fresh machine: then one `apt-get update` and a second try.
 */
async function downloadDebs(dir: string, log: (l: string) => void): Promise<string[]> {
  const get = () => run('apt-get', ['download', '-q', ...BASE_PACKAGES], dir);
  try {
    await get();
  } catch (err) {
    log(`apt-get download failed (${(err as Error).message.split('\n')[0]}); running apt-get update once`);
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-q']);
    await get();
  }
  return (await readdir(dir)).filter((f) => f.endsWith('.deb')).map((f) => join(dir, f));
}

async function walk(root: string, dir = root, out: LayerEntry[] = []): Promise<LayerEntry[]> {
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const rel = relative(root, path);
    if (DROP.some((re) => re.test(rel))) continue;
    const st = await lstat(path);
    if (st.isSymbolicLink()) out.push({ path: rel, type: 'symlink', target: await readlink(path) });
    else if (st.isDirectory()) {
      out.push({ path: rel, type: 'dir', mode: st.mode & 0o1777 });
      await walk(root, path, out);
    } else if (st.isFile())
      // No setuid or setgid bits (mount is setuid root in Debian): nothing in the image may raise privileges.
      out.push({ path: rel, type: 'file', mode: st.mode & 0o1777, source: path });
  }
  return out;
}

/** /etc files every distroless image has: users, groups, name service switch, and an empty /tmp. */
function containerFiles(): LayerEntry[] {
  return [
    {
      path: 'etc/passwd',
      type: 'file',
      content: `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
    },
    { path: 'etc/group', type: 'file', content: `root:x:0:\nnonroot:x:${NONROOT_UID}:\n` },
    { path: 'etc/nsswitch.conf', type: 'file', content: 'passwd: files\ngroup: files\nhosts: files dns\n' },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'root', type: 'dir', mode: 0o700 },
    { path: 'home/nonroot', type: 'dir', mode: 0o755 },
  ];
}

export interface Base {
  entries: LayerEntry[];
  packages: DebianPackage[];
  /** Removes the unpacked files (call after the layer is built). */
  cleanup(): Promise<void>;
}

/**
 * Unpacks the packages into a temporary root. Debian 12 ships files under /lib and /bin; newer releases under
 * /usr only, with /lib → usr/lib links that base-files makes: those links are added when a package has no
 * top-level directory of its own, so the dynamic loader is at /lib64/ld-linux-x86-64.so.2 either way.
 */
export async function debianBase(log: (l: string) => void = () => {}): Promise<Base> {
  const work = await mkdtemp(join(tmpdir(), 'connectors-image-base-'));
  try {
    const debDir = join(work, 'debs');
    const root = join(work, 'root');
    await run('mkdir', ['-p', debDir, root]);
    const debs = await downloadDebs(debDir, log);
    const packages: DebianPackage[] = [];
    for (const deb of debs.sort()) {
      const fields = (await run('dpkg-deb', ['--show', '--showformat=${Package}\t${Version}', deb])).split('\t');
      const sha = (await run('sha256sum', [deb])).split(' ')[0];
      packages.push({ name: fields[0], version: fields[1], sha256: sha });
      await run('dpkg-deb', ['-x', deb, root]);
    }
    const missing = BASE_PACKAGES.filter((p) => !packages.some((d) => d.name === p));
    if (missing.length) throw new Error(`apt-get download gave no .deb for ${missing.join(', ')}`);
    const entries = await walk(root);
    const top = new Set(entries.filter((e) => !e.path.includes('/')).map((e) => e.path));
    for (const dir of ['bin', 'sbin', 'lib', 'lib64'])
      if (!top.has(dir) && entries.some((e) => e.path.startsWith(`usr/${dir}/`)))
        entries.push({ path: dir, type: 'symlink', target: `usr/${dir}` });
    entries.push(...containerFiles());
    return { entries, packages, cleanup: () => rm(work, { recursive: true, force: true }) };
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
