// The Go oracle of the template differential tests: text/template + sprig v3.3.0, built once
// from test/oracles/gotemplate with the project's peer builder and cached by a hash of its source.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinary, registerPeer } from '../../../core/peers/index.ts';

const DIR = dirname(fileURLToPath(import.meta.url));
export const ORACLE_BINARY = 'gotemplate-oracle';

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) h.update(f).update(readFileSync(join(DIR, f)));
  return h.digest('hex').slice(0, 12);
}

registerPeer('gotemplate-oracle', () => ({
  binaries: [ORACLE_BINARY],
  version: `sprig3.3.0-${sourceHash()}`,
  module: { dir: DIR },
  packages: ['.'],
  ldflags: '-s -w',
  env: { CGO_ENABLED: '0' },
}));

export interface OracleCase {
  name?: string;
  template: string;
  /** JSON text of the data ('' for nil). */
  data: string;
  funcs?: 'sprig' | 'exectest';
}

export interface OracleResult {
  output?: string;
  error?: string;
}

export async function oraclePath(): Promise<string> {
  return ensureBinary(ORACLE_BINARY);
}

function runJSON(path: string, args: string[], input: unknown, env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${path} exited ${code}: ${Buffer.concat(err).toString()}`));
      try {
        resolve(JSON.parse(Buffer.concat(out).toString('utf8')));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** Renders every case with Go in one process, with this process's TZ so that Local matches. */
export async function runOracle(cases: OracleCase[]): Promise<OracleResult[]> {
  const path = await oraclePath();
  const env = { ...process.env };
  if (process.env.TZ === undefined) delete env.TZ;
  return (await runJSON(path, [], { cases }, env)) as OracleResult[];
}

export interface OracleBenchResult {
  name: string;
  n: number;
  seconds: number;
  rendersPerSec: number;
  output: string;
}

/** Times n executions of each case in Go (parsed once). */
export async function benchOracle(cases: OracleCase[], n: number): Promise<OracleBenchResult[]> {
  const path = await oraclePath();
  return (await runJSON(path, ['-bench', String(n)], { cases }, { ...process.env, TZ: 'UTC' })) as OracleBenchResult[];
}
