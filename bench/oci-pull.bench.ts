// OCI pull benchmark. Run from the repository root: `node bench/oci-pull.bench.ts` (Node 24 first on PATH).
// Everything real: the test kube-apiserver (TokenReview/SubjectAccessReview), distribution 2.8 (docker-registry)
// with token auth and its token server, skopeo as the client, and the proxy as its own process started with
// the CLI (`connectors proxy`, audit lines written to /dev/null). An image of BENCH_IMAGE_MB (default 512 MiB of
// incompressible data in one layer) is pulled with `skopeo copy docker://... dir:...` directly from the registry
// (with the registry user) and through the proxy (with a ServiceAccount token), alternating, median of 5.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  cluster,
  stopCluster,
  skopeo,
  startRegistry,
  ensureSystemPackages,
  TEST_SYSTEM_PACKAGES,
  objects,
} from '@connectors/test-support';
import { benchUser, machineLine, startProxyProcess } from './proxy-process.ts';

const IMAGE_MB = Number(process.env.BENCH_IMAGE_MB ?? 512);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const out = (s: string) => process.stdout.write(s + '\n');

async function main(): Promise<void> {
  await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
  const work = await mkdtemp(join(tmpdir(), 'connectors-oci-bench-'));
  const registry = await startRegistry({ auth: 'token', users: { robot: 'robot-pass' }, tokenExpiresIn: 3600 });
  let proxy: ChildProcess | undefined;
  try {
    out(`building and pushing a ${IMAGE_MB} MiB image...`);
    const pushed = await registry.pushTestImage('bench/big:v1', { sizeBytes: IMAGE_MB * 1024 * 1024 });
    const mib = pushed.blobBytes / 1024 / 1024;

    const c = await cluster();
    const ns = await c.createNamespace('oci-bench');
    const sys = await c.createNamespace('oci-bench-sys');
    // The Connector points at docker-registry itself (not the recording relay), as does the direct pull.
    await c.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: objects.yaml(
        objects.registryTokenSecret('reg', 'robot', 'robot-pass'),
        objects.connector('reg', {
          className: 'oci',
          address: registry.directUrl,
          auth: { name: 'tokenAuth', secret: 'reg' },
        }),
        benchUser(ns),
      ),
    });
    const token = await c.createToken(ns, 'bench', { audience: 'connectors-proxy', expirationSeconds: 3600 });
    const started = await startProxyProcess({ kubeconfigPath: c.kubeconfigPath, systemNamespace: sys });
    proxy = started.proxy;
    const proxyPort = started.port;
    const prefix = `127.0.0.1:${proxyPort}/namespaces/${ns}/connectors/reg`;
    for (let i = 0; ; i++) {
      const r = await fetch(`http://${prefix.replace('/namespaces', '/v2/namespaces')}/`, {
        headers: { authorization: `Bearer ${token}` },
      }).catch(() => undefined);
      await r?.arrayBuffer();
      if (r?.status === 200) break;
      if (i > 300) throw new Error(`proxy not ready: ${r?.status}`);
      await sleep(100);
    }
    out(await machineLine());

    const directHost = new URL(registry.directUrl).host;
    const pull = async (src: string, creds: string): Promise<number> => {
      const dest = join(work, 'pulled');
      await rm(dest, { recursive: true, force: true });
      const t0 = performance.now();
      await skopeo([
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        '--src-creds',
        creds,
        `docker://${src}`,
        `dir:${dest}`,
      ]);
      const s = (performance.now() - t0) / 1000;
      await rm(dest, { recursive: true, force: true });
      return s;
    };
    // Warm-up (page cache of the registry's storage, proxy caches).
    await pull(`${prefix}/bench/big:v1`, `u:${token}`);
    const direct: number[] = [];
    const via: number[] = [];
    /** utime and stime of the proxy process, in seconds (clock ticks of 1/100 s). */
    const cpuSeconds = async () => {
      const f = (await readFile(`/proc/${proxy!.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
      return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
    };
    let proxyUser = 0;
    let proxySystem = 0;
    for (let i = 0; i < RUNS; i++) {
      direct.push(await pull(`${directHost}/bench/big:v1`, 'robot:robot-pass'));
      const cpu0 = await cpuSeconds();
      via.push(await pull(`${prefix}/bench/big:v1`, `u:${token}`));
      const cpu1 = await cpuSeconds();
      proxyUser += cpu1.user - cpu0.user;
      proxySystem += cpu1.system - cpu0.system;
    }
    const proxyCpu = proxyUser + proxySystem;
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    out(
      `\nskopeo copy docker://... dir:... of a ${mib.toFixed(0)} MiB image (token-auth registry), median of ${RUNS}:`,
    );
    out(
      `    direct       ${median(direct).toFixed(2)} s  ${(mib / median(direct)).toFixed(0)} MiB/s   runs: ${direct.map((s) => s.toFixed(2)).join(', ')}`,
    );
    out(
      `    via proxy    ${median(via).toFixed(2)} s  ${(mib / median(via)).toFixed(0)} MiB/s   runs: ${via.map((s) => s.toFixed(2)).join(', ')}`,
    );
    out(`    throughput ratio proxy/direct = ${(median(direct) / median(via)).toFixed(2)} (goal >= 0.9)`);
    out(
      `    proxy CPU per pull: ${(proxyCpu / RUNS).toFixed(2)} s (user ${(proxyUser / RUNS).toFixed(2)}, ` +
        `system ${(proxySystem / RUNS).toFixed(2)}; ${((mib * RUNS) / proxyCpu).toFixed(0)} MiB per ` +
        `CPU-second)`,
    );
    const rss = proxy.pid ? Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${proxy.pid}/status`, 'utf8'))![1]) : 0;
    out(`    proxy RSS after the pulls: ${(rss / 1024).toFixed(1)} MiB`);
    await c.deleteNamespace(ns);
    await c.deleteNamespace(sys);
  } finally {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
    await registry.stop();
    await rm(work, { recursive: true, force: true });
    await stopCluster();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
