// kubeconform (github.com/yannh/kubeconform), the schema validator the chart's rendered objects go through, built
// once from Go modules through core/peers. Its schemas cannot come from the network here: schemas.ts writes them
// from Kubernetes 1.36's own OpenAPI document (api/openapi-spec/swagger.json of the k8s.io/kubernetes module the
// control plane is built from) and from our CRDs.
import { spawn } from 'node:child_process';
import { ensureBinary, registerPeer, type ProgressFn } from '../../core/peers/index.ts';

export const KUBECONFORM_VERSION = '0.8.0';

registerPeer('kubeconform', () => ({
  binaries: ['kubeconform'],
  version: KUBECONFORM_VERSION,
  module: {
    goMod: `module connectors.local/kubeconform-peer\n\ngo 1.26.0\n\nrequire github.com/yannh/kubeconform v${KUBECONFORM_VERSION}\n`,
    extraFiles: {
      'tools.go': '//go:build tools\n\npackage tools\n\nimport _ "github.com/yannh/kubeconform/cmd/kubeconform"\n',
    },
  },
  packages: ['github.com/yannh/kubeconform/cmd/kubeconform'],
  ldflags: '-s -w',
  env: { CGO_ENABLED: '0' },
}));

export function kubeconformBinary(progress?: ProgressFn): Promise<string> {
  return ensureBinary('kubeconform', progress);
}

export interface KubeconformReport {
  resources?: Array<{ filename: string; kind: string; name: string; version: string; status: string; msg: string }>;
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/** Runs kubeconform over YAML on stdin with `-output json -summary`; resolves whatever the exit code. */
export async function kubeconform(args: string[], input: string): Promise<{ code: number; report: KubeconformReport }> {
  const bin = await kubeconformBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-summary', '-output', 'json', ...args, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code: code ?? -1, report: JSON.parse(out) as KubeconformReport });
      } catch {
        reject(new Error(`kubeconform (exit ${code}) printed no JSON report: ${err || out}`));
      }
    });
    child.stdin.end(input);
  });
}
