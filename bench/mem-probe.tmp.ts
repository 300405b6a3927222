// temporary: memory of a proxy process, step by step
import { cluster, stopCluster } from '../test/harness/cluster.ts';
import { spawn } from 'node:child_process';
const c = await cluster();
const sys = 'connectors-system';
await c.kubectl(['create', 'namespace', sys]).catch(() => {});
const child = spawn(process.execPath, ['--expose-gc', '/tmp/mem/inner.ts', c.kubeconfigPath, sys], { stdio: 'inherit', cwd: '/work/main' });
await new Promise((r) => child.once('exit', r));
await stopCluster();
