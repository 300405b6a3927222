// The OCI distribution-spec conformance suite (github.com/opencontainers/distribution-spec/conformance), built
// once from its Go module through core/peers and cached like the other pinned peers. The module's package is a
// `main` (its `go test -c` form is deprecated in favour of `go build`), so it is built as a plain binary. It is
// configured by OCI_* environment variables and writes results.yaml, junit.xml and report.html to a directory.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinary, registerPeer, type ProgressFn } from '../../core/peers/index.ts';
import { spawn } from 'node:child_process';

/** The pseudo-version the Go module proxy serves (its version list is refused: ask for exactly this one). */
export const CONFORMANCE_VERSION = '0.0.0-20260831232431-97274622c111';
const MODULE = 'github.com/opencontainers/distribution-spec/conformance';

registerPeer('oci-conformance', () => ({
  binaries: ['oci-conformance'],
  version: CONFORMANCE_VERSION,
  module: {
    goMod: `module connectors.local/oci-conformance-peer\n\ngo 1.26.0\n\nrequire ${MODULE} v${CONFORMANCE_VERSION}\n`,
    extraFiles: { 'tools.go': `//go:build tools\n\npackage tools\n\nimport _ "${MODULE}"\n` },
  },
  packages: [MODULE],
  // The suite reports this as the commit it ran (a module build has no VCS information).
  ldflags: `-s -w -X main.Version=v${CONFORMANCE_VERSION}`,
  env: { CGO_ENABLED: '0' },
}));

export function conformanceBinary(progress?: ProgressFn): Promise<string> {
  return ensureBinary('oci-conformance', progress);
}

export type CaseStatus = 'passed' | 'failure' | 'skipped' | 'error';

export interface ConformanceCase {
  /** e.g. `OCI Conformance Test/sha256 blobs/chunked single/blob-patch-chunked` (names repeat: one per item). */
  name: string;
  status: CaseStatus;
  /** The failure text the suite recorded (its system-out), empty for passes. */
  message: string;
}

export interface ConformanceRun {
  cases: ConformanceCase[];
  /** The API and data summaries of results.yaml as `name: status` lines. */
  summary: string;
  /** report.html: every request and response the suite made, for leak checks. */
  report: string;
  stdout: string;
  stderr: string;
}

export interface ConformanceTarget {
  /** `host:port` of the registry (or the proxy). */
  registry: string;
  repo1: string;
  repo2: string;
  username: string;
  password: string;
  /** disabled: plain HTTP; enabled: HTTPS verified with the system pool (or SSL_CERT_FILE). */
  tls?: 'disabled' | 'enabled';
  /** Extra environment (e.g. SSL_CERT_FILE). */
  env?: Record<string, string>;
}

const XML_ENTITY = /&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi;
function xmlText(s: string): string {
  return s.replace(XML_ENTITY, (_m, e: string) => {
    const l = e.toLowerCase();
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    if (l.startsWith('#')) return String.fromCodePoint(parseInt(l.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[l]!;
  });
}

/** The test cases of the suite's junit.xml (Go's encoding/xml output: one `<testcase>` element per case). */
export function parseJunit(xml: string): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const re = /<testcase\s([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const attrs = m[1];
    const name = xmlText(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? '');
    const status = (/\bstatus="([^"]*)"/.exec(attrs)?.[1] ?? 'passed') as CaseStatus;
    const out = /<system-out>([\s\S]*?)<\/system-out>/.exec(m[3] ?? '')?.[1];
    cases.push({ name, status, message: status === 'passed' ? '' : xmlText(out ?? '') });
  }
  return cases;
}

/** Runs the whole suite (every API and data workflow of spec version 1.1) against one registry address. */
export async function runConformance(t: ConformanceTarget): Promise<ConformanceRun> {
  const bin = await conformanceBinary();
  const dir = await mkdtemp(join(tmpdir(), 'connectors-oci-conformance-'));
  try {
    const results = join(dir, 'results');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      OCI_VERSION: '1.1',
      OCI_REGISTRY: t.registry,
      OCI_TLS: t.tls ?? 'disabled',
      OCI_REPO1: t.repo1,
      OCI_REPO2: t.repo2,
      OCI_USERNAME: t.username,
      OCI_PASSWORD: t.password,
      OCI_RESULTS_DIR: results,
      OCI_LOG: 'error',
      ...t.env,
    };
    // Exit 1 means "a test failed": the results say which; anything else is a broken run.
    const r = await run(bin, env, dir);
    let junit: string;
    try {
      junit = await readFile(join(results, 'junit.xml'), 'utf8');
    } catch {
      throw new Error(`the conformance suite wrote no results:\n${r.stdout}\n${r.stderr}`);
    }
    const yaml = await readFile(join(results, 'results.yaml'), 'utf8');
    const summary = yaml.slice(yaml.search(/^apis:/m)).trim();
    const report = await readFile(join(results, 'report.html'), 'utf8');
    return { cases: parseJunit(junit), summary, report, stdout: r.stdout, stderr: r.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the suite to its end (exit 0: all passed, 1: some failed), killed after 10 minutes. */
function run(bin: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', (e) => reject(new Error(`${bin}: ${e.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0 || code === 1) resolve({ stdout, stderr });
      else reject(new Error(`the conformance suite ended with ${signal ?? `exit ${code}`}:\n${stderr}${stdout}`));
    });
  });
}
