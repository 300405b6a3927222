// The OCI distribution-spec conformance suite (legacy ginkgo runner, tag v1.1.1, vendored unmodified in
// ./conformance-suite because the nested module has no tags the Go module proxy serves), built once as a test
// binary through core/peers and cached. `runConformance` runs it against a registry URL and returns the result
// of every spec from its JUnit report.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinary, registerPeer, type ProgressFn } from '../../core/peers/index.ts';

export const CONFORMANCE_VERSION = '1.1.1';

registerPeer('oci-conformance', () => ({
  binaries: ['oci-conformance.test'],
  version: CONFORMANCE_VERSION,
  module: { dir: fileURLToPath(new URL('./conformance-suite', import.meta.url)) },
  packages: ['.'],
  testBinary: true,
  env: { CGO_ENABLED: '0' },
}));

export function conformanceBinary(progress?: ProgressFn): Promise<string> {
  return ensureBinary('oci-conformance.test', progress);
}

export interface ConformanceOptions {
  /** `http://127.0.0.1:PORT` */
  rootUrl: string;
  namespace: string;
  crossmountNamespace: string;
  username: string;
  password: string;
  timeoutMs?: number;
}

export interface SpecResult {
  /** Spec name as in the JUnit report (workflow and spec text). */
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  failure?: string;
}

export interface ConformanceRun {
  specs: SpecResult[];
  exitCode: number;
  output: string;
}

const unescape = (s: string) => s.replace(/&#xA;/g, '\n').replace(/&#x9;/g, '\t').replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Spec results of a ginkgo JUnit report (pure). */
export function parseJUnit(xml: string): SpecResult[] {
  const out: SpecResult[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const attrs = m[1];
    const name = unescape(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? '');
    const inner = m[3] ?? '';
    const statusAttr = /\bstatus="([^"]*)"/.exec(attrs)?.[1];
    let status: SpecResult['status'] = 'passed';
    if (/<(failure|error)\b/.test(inner) || statusAttr === 'failed' || statusAttr === 'panicked') status = 'failed';
    else if (/<skipped\b/.test(inner) || statusAttr === 'skipped' || statusAttr === 'pending') status = 'skipped';
    const failure = status === 'failed' ? unescape(/<(?:failure|error)\b[^>]*message="([^"]*)"/.exec(inner)?.[1] ?? '').slice(0, 500) : undefined;
    // Suite-level nodes (BeforeSuite, ReportAfterSuite) are not specs.
    if (/^\[(ReportAfterSuite|BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite)\]/.test(name)) continue;
    out.push({ name, status, failure });
  }
  return out;
}

/** Runs the pull, push, content-discovery and content-management workflows against `rootUrl`. */
export async function runConformance(o: ConformanceOptions): Promise<ConformanceRun> {
  const bin = await conformanceBinary();
  const dir = await mkdtemp(join(tmpdir(), 'connectors-oci-conformance-'));
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      OCI_ROOT_URL: o.rootUrl,
      OCI_NAMESPACE: o.namespace,
      OCI_CROSSMOUNT_NAMESPACE: o.crossmountNamespace,
      OCI_USERNAME: o.username,
      OCI_PASSWORD: o.password,
      OCI_TEST_PULL: '1',
      OCI_TEST_PUSH: '1',
      OCI_TEST_CONTENT_DISCOVERY: '1',
      OCI_TEST_CONTENT_MANAGEMENT: '1',
      OCI_HIDE_SKIPPED_WORKFLOWS: '0',
      OCI_REPORT_DIR: dir,
    };
    let output = '';
    const exitCode = await new Promise<number>((resolve, reject) => {
      const child = spawn(bin, ['-test.v', '-test.timeout', '10m'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (c: Buffer) => { output = (output + c.toString()).slice(-200_000); };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code ?? -1);
      });
    });
    let xml = '';
    try {
      xml = await readFile(join(dir, 'junit.xml'), 'utf8');
    } catch {
      throw new Error(`the conformance suite wrote no junit.xml (exit ${exitCode}):\n${output.slice(-4000)}`);
    }
    return { specs: parseJUnit(xml), exitCode, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
