// What loading the proxy loads: its memory budget (RSS < 100 MiB) has no room for client-node, express or gRPC,
// nor for another component's modules, so its move onto the manager (core/kube) must not bring them in. The
// modules are those a fresh Node.js resolves when it imports proxy/index.ts (static and top-level imports; what
// the proxy imports later, e.g. core/pki for the first intercepted host, is not part of its start).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

const LIST = `
import { registerHooks } from 'node:module';
const urls = new Set();
registerHooks({ resolve(s, c, next) { const r = next(s, c); urls.add(r.url); return r; } });
await import(process.argv[1]);
console.log(JSON.stringify([...urls]));
`;

/** The URLs a fresh Node.js resolves while importing `entry`. */
function loadedBy(entry: string): string[] {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', LIST, entry], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
}

describe('proxy: the module graph of its start', function () {
  this.timeout(60_000);
  let urls: string[];
  before(() => (urls = loadedBy(fileURLToPath(new URL('../../proxy/index.ts', import.meta.url)))));

  const packages = () => [...new Set(urls.flatMap((u) => /\/node_modules\/((@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []))];

  it('loads the manager (core/kube) and its own modules', () => {
    expect(urls.some((u) => u.endsWith('/core/kube/manager.ts'))).to.equal(true);
    expect(urls.some((u) => u.endsWith('/proxy/pipeline.ts'))).to.equal(true);
  });

  // yaml: loaded when a kubeconfig file is read, which a proxy in a Pod (the in-cluster ServiceAccount) never does.
  for (const pkg of ['@kubernetes/client-node', 'express', '@grpc/grpc-js', '@grpc/proto-loader', 'undici', 'yaml'])
    it(`does not load ${pkg}`, () => expect(packages()).to.not.include(pkg));

  it("loads no other component's modules", () => {
    const others = urls
      .filter((u) => u.startsWith('file:') && !u.includes('/node_modules/'))
      .map((u) => fileURLToPath(u).slice(root.length))
      .filter((p) => /^(controller|webhook|csi|api|plugins|cli)\//.test(p));
    expect(others).to.deep.equal([]);
  });
});
