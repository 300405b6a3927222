// Pinned Go binaries the project builds from Go modules on first use: the embedded control plane
// (kube-apiserver, etcd, kubectl), the Rego compiler (opa) and the real peers the tests talk to.
// Each is built once into a cache outside the repository, keyed by name and version, so a fresh
// machine needs only Go and the module proxy, and a warm machine starts instantly.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile, rename, readFile, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PeerRecipe {
  /** Binary names produced by the build. */
  binaries: string[];
  version: string;
  /**
   * go.mod text of a wrapper module, a directory of a Go module in this repository, or a published module
   * built in place from the Go module cache with its own go.mod and go.sum (its requirements and replaces,
   * exactly as its authors pinned them; packages are then relative, e.g. ./cmd/controller).
   */
  module: { goMod: string; extraFiles?: Record<string, string> } | { dir: string } | { published: string };
  /** Packages to build, one per binary, in the same order. */
  packages: string[];
  ldflags?: string;
  /** Extra environment for `go build` (CGO_ENABLED etc.). */
  env?: Record<string, string>;
}

export const KUBERNETES_VERSION = '1.36.3';
export const ETCD_VERSION = '3.6.16';
export const OPA_VERSION = '1.22.2';
/** Helm renders and installs the chart in deploy/helm/connectors (npm run gen:manifests, test/install). */
export const HELM_VERSION = '4.3.2';
/** crane (go-containerregistry) pushes the image `npm run image` builds; the OCI tests use it as a client. */
export const CRANE_VERSION = '0.20.6';
/** Tekton Pipelines: the controller and webhook the pipeline-integration tests run against. */
export const TEKTON_PIPELINE_MODULE = 'github.com/tektoncd/pipeline';
export const TEKTON_PIPELINE_VERSION = '1.6.0';

function kubernetesWrapper(): PeerRecipe {
  const staging = [
    'api',
    'apiextensions-apiserver',
    'apimachinery',
    'apiserver',
    'cli-runtime',
    'client-go',
    'cloud-provider',
    'cluster-bootstrap',
    'code-generator',
    'component-base',
    'component-helpers',
    'controller-manager',
    'cri-api',
    'cri-client',
    'cri-streaming',
    'csi-translation-lib',
    'dynamic-resource-allocation',
    'endpointslice',
    'externaljwt',
    'kms',
    'kube-aggregator',
    'kube-controller-manager',
    'kube-proxy',
    'kube-scheduler',
    'kubectl',
    'kubelet',
    'metrics',
    'mount-utils',
    'pod-security-admission',
    'sample-apiserver',
    'sample-cli-plugin',
    'sample-controller',
    'streaming',
  ];
  const minor = KUBERNETES_VERSION.split('.')[1];
  const stagingVersion = `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}`;
  // k8s.io/kubernetes requires its staging modules at v0.0.0 (resolved by replaces into ./staging);
  // a wrapper module must replace each with its published tag.
  const goMod = [
    'module connectors.local/kubernetes-peers',
    '',
    'go 1.26.0',
    '',
    `require k8s.io/kubernetes v${KUBERNETES_VERSION}`,
    '',
    'replace (',
    ...staging.map((m) => `\tk8s.io/${m} => k8s.io/${m} ${stagingVersion}`),
    ')',
    '',
  ].join('\n');
  return {
    binaries: ['kube-apiserver', 'kubectl'],
    version: KUBERNETES_VERSION,
    module: {
      goMod,
      extraFiles: {
        'tools.go':
          '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n',
      },
    },
    packages: ['k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kubectl'],
    ldflags:
      `-s -w -X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION} -X ` +
      `k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X ` +
      `k8s.io/client-go/pkg/version.gitVersion=v${KUBERNETES_VERSION}`,
    env: { CGO_ENABLED: '0' },
  };
}

function simpleTool(binary: string, modulePath: string, version: string, pkg: string): PeerRecipe {
  return {
    binaries: [binary],
    version,
    module: {
      goMod: `module connectors.local/${binary}-peer\n\ngo 1.26.0\n\nrequire ${modulePath} v${version}\n`,
      extraFiles: { 'tools.go': `//go:build tools\n\npackage tools\n\nimport _ "${pkg}"\n` },
    },
    packages: [pkg],
    ldflags: '-s -w',
    env: { CGO_ENABLED: '0' },
  };
}

/**
 * kube-controller-manager from the same wrapper module as kube-apiserver and kubectl, as its own
 * recipe so an existing kubernetes cache directory stays valid (the Go build cache makes it cheap).
 */
function kubeControllerManager(): PeerRecipe {
  const base = kubernetesWrapper();
  return {
    ...base,
    binaries: ['kube-controller-manager'],
    module: {
      goMod: (base.module as { goMod: string }).goMod,
      extraFiles: {
        'tools.go': '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-controller-manager"\n',
      },
    },
    packages: ['k8s.io/kubernetes/cmd/kube-controller-manager'],
  };
}

/**
 * Tekton's controller and webhook, built from the published module in the module cache with its own
 * go.mod (its k8s.io and knative.dev versions differ from our kubernetes wrapper's).
 */
function tektonPipelines(): PeerRecipe {
  return {
    binaries: ['tekton-controller', 'tekton-webhook'],
    version: TEKTON_PIPELINE_VERSION,
    module: { published: `${TEKTON_PIPELINE_MODULE}@v${TEKTON_PIPELINE_VERSION}` },
    packages: ['./cmd/controller', './cmd/webhook'],
    ldflags: '-s -w',
    env: { CGO_ENABLED: '0' },
  };
}

/** Every pinned peer, by the name callers use. */
export const PEERS: Record<string, () => PeerRecipe> = {
  kubernetes: kubernetesWrapper,
  'kube-controller-manager': kubeControllerManager,
  etcd: () => simpleTool('etcd', 'go.etcd.io/etcd/server/v3', ETCD_VERSION, 'go.etcd.io/etcd/server/v3'),
  opa: () => simpleTool('opa', 'github.com/open-policy-agent/opa', OPA_VERSION, 'github.com/open-policy-agent/opa'),
  helm: () => ({
    ...simpleTool('helm', 'helm.sh/helm/v4', HELM_VERSION, 'helm.sh/helm/v4/cmd/helm'),
    // `helm version` reports the pinned version, not v4.0-dev.
    ldflags: `-s -w -X helm.sh/helm/v4/internal/version.version=v${HELM_VERSION}`,
  }),
  crane: () =>
    simpleTool(
      'crane',
      'github.com/google/go-containerregistry',
      CRANE_VERSION,
      'github.com/google/go-containerregistry/cmd/crane',
    ),
  'tekton-pipelines': tektonPipelines,
};

/** Which recipe builds a given binary. */
const BINARY_TO_PEER: Record<string, string> = {
  'kube-apiserver': 'kubernetes',
  kubectl: 'kubernetes',
  'kube-controller-manager': 'kube-controller-manager',
  etcd: 'etcd',
  opa: 'opa',
  helm: 'helm',
  crane: 'crane',
  'tekton-controller': 'tekton-pipelines',
  'tekton-webhook': 'tekton-pipelines',
};

export function cacheRoot(): string {
  const configured = process.env.CONNECTORS_CACHE_DIR;
  if (configured) return resolve(configured);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'connectors');
}

/** Register a recipe at run time (test tooling such as csi-sanity or the template oracle). */
export function registerPeer(name: string, recipe: () => PeerRecipe): void {
  PEERS[name] = recipe;
  for (const b of recipe().binaries) BINARY_TO_PEER[b] = name;
}

export type ProgressFn = (line: string) => void;

/**
 * CONNECTORS_PEERS_DIR names a directory of binaries built beforehand at the pinned versions: the container
 * image has one (`opa`, which the controller and the webhook run to compile Rego), and no Go toolchain.
 */
function prebuiltBinary(binary: string): string | undefined {
  const dir = process.env.CONNECTORS_PEERS_DIR;
  if (!dir) return undefined;
  const path = join(resolve(dir), binary);
  return existsSync(path) ? path : undefined;
}

const defaultProgress: ProgressFn = (line) => process.stderr.write(line + '\n');

/**
 * Path of a pinned binary, building its recipe on first use. Safe to call concurrently from several
 * processes: a lock directory serialises builds and the result is renamed into place atomically.
 */
export async function ensureBinary(binary: string, progress: ProgressFn = defaultProgress): Promise<string> {
  const peerName = BINARY_TO_PEER[binary];
  if (!peerName) throw new Error(`unknown peer binary ${JSON.stringify(binary)}`);
  const prebuilt = prebuiltBinary(binary);
  if (prebuilt) return prebuilt;
  const recipe = PEERS[peerName]();
  const dir = join(cacheRoot(), 'peers', `${peerName}-${recipe.version}`);
  const target = join(dir, 'bin', binary);
  if (existsSync(target)) return target;
  await nameBinaries(recipe, dir); // a cache built before binaries were renamed to their names
  if (existsSync(target)) return target;
  await mkdir(join(cacheRoot(), 'peers'), { recursive: true });
  await withLock(`${dir}.lock`, async () => {
    if (existsSync(target)) return;
    await buildRecipe(peerName, recipe, dir, progress);
  });
  if (!existsSync(target)) throw new Error(`building ${peerName} did not produce ${binary}`);
  return target;
}

async function buildRecipe(name: string, recipe: PeerRecipe, dir: string, progress: ProgressFn): Promise<void> {
  const work = `${dir}.build-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, 'bin'), { recursive: true });
  let moduleDir = work;
  if ('goMod' in recipe.module) {
    await writeFile(join(work, 'go.mod'), recipe.module.goMod);
    for (const [file, text] of Object.entries(recipe.module.extraFiles ?? {})) await writeFile(join(work, file), text);
  } else if ('published' in recipe.module) {
    moduleDir = await goModuleDir(recipe.module.published);
  } else {
    moduleDir = recipe.module.dir;
  }
  const started = Date.now();
  const ticker = setInterval(() => {
    progress(`connectors: still building ${name} v${recipe.version} (${Math.round((Date.now() - started) / 1000)}s)`);
  }, 30_000);
  progress(
    `connectors: building ${name} v${recipe.version} from Go modules into ${dir} (first use only; may take minutes)`,
  );
  try {
    // A published module is built where it lies, read-only: its go.sum must already cover the build.
    const env = {
      ...process.env,
      GOFLAGS: 'published' in recipe.module ? '-mod=readonly' : '-mod=mod',
      ...recipe.env,
    };
    if ('goMod' in recipe.module) await run('go', ['mod', 'tidy'], moduleDir, env);
    // One `go build` per binary so each gets its recipe's name (etcd's main package is .../server/v3).
    for (const [i, pkg] of recipe.packages.entries()) {
      const args = ['build', '-trimpath', '-o', join(work, 'bin', recipe.binaries[i])];
      if (recipe.ldflags) args.push('-ldflags', recipe.ldflags);
      await run('go', [...args, pkg], moduleDir, env);
    }
    await nameBinaries(recipe, work);
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    progress(`connectors: built ${name} v${recipe.version} in ${Math.round((Date.now() - started) / 1000)}s`);
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  } finally {
    clearInterval(ticker);
  }
}

/**
 * `go build -o dir/` names a binary after its package's last path element, skipping a major version
 * suffix (go.etcd.io/etcd/server/v3 → `server`); rename each to the binary name the recipe promises.
 */
async function nameBinaries(recipe: PeerRecipe, dir: string): Promise<void> {
  for (const [i, binary] of recipe.binaries.entries()) {
    const parts = (recipe.packages[i] ?? '').split('/');
    let built = parts.at(-1) ?? '';
    if (/^v[0-9]+$/.test(built) && parts.length > 1) built = parts.at(-2) ?? built;
    const from = join(dir, 'bin', built);
    const to = join(dir, 'bin', binary);
    if (built !== binary && !existsSync(to) && existsSync(from)) await rename(from, to);
  }
}

/**
 * The directory of a published module (`path@vX.Y.Z`) in the Go module cache, downloaded through the module
 * proxy on first use. Read-only: build in it, never write.
 */
export async function goModuleDir(moduleAtVersion: string): Promise<string> {
  const out = await runOutput('go', ['mod', 'download', '-json', moduleAtVersion], tmpdir(), process.env);
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (info.Error || !info.Dir) throw new Error(`go mod download ${moduleAtVersion}: ${info.Error ?? 'no directory'}`);
  return info.Dir;
}

function runOutput(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      // `go mod download -json` reports a failure in the JSON (and exits 1): let the caller read it.
      if (code === 0 || stdout.trim().startsWith('{')) resolvePromise(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${err}`));
    });
  });
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${output}`));
    });
  });
}

async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await lockIsStale(lockDir)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function lockIsStale(lockDir: string): Promise<boolean> {
  try {
    const pid = Number(await readFile(join(lockDir, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return false;
    // No pid file yet: stale only if the directory is old.
    try {
      const s = await stat(lockDir);
      return Date.now() - s.mtimeMs > 60_000 || (err as NodeJS.ErrnoException).code === 'ESRCH';
    } catch {
      return true;
    }
  }
}
