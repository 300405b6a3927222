// `npm run gen:deploy`: what the Helm chart takes from the repository, and the plain manifests rendered from it.
//
// 1. deploy/helm/connectors/crds/ ← the CRDs of core/api (as deploy/crds);
//    deploy/helm/connectors/files/generated/*.json ← the built-in ConnectorClasses (connectorclasses/*.yaml),
//    the ResourceInterfaces (resourceinterfaces/*.yaml, when that folder exists), every RBAC object of
//    deploy/rbac/*.yaml, the webhook configurations (webhook/register.ts) and the built-in AccessPolicy
//    templates (core/approval/templates.ts). The chart's templates read
//    these at render time, so a new class, ResourceInterface or role in the repository is in the next chart.
// 2. deploy/manifests/connectors.yaml ← `helm template` of the chart with the plain-manifest values
//    (namespace created and labelled, the webhook making its own certificate), for `kubectl apply`.
//
// test/install/chart.test.ts fails when either differs from what this script writes.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { crdFiles } from '../cli/commands/crds.ts';
import { builtinClasses } from '../connectorclasses/index.ts';
import { ensureBinary } from '../core/peers/index.ts';
import { deployManifests } from '../webhook/register.ts';
import { builtinTemplates } from '../core/approval/templates.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = join(ROOT, 'deploy/helm/connectors');
export const MANIFESTS_FILE = join(ROOT, 'deploy/manifests/connectors.yaml');
/** Stands for the release namespace in generated files; the templates replace it. */
export const NAMESPACE_PLACEHOLDER = 'connectors-release-namespace';
/** Values of the plain manifests (deploy/manifests/connectors.yaml). */
// The git plugin's serving certificate is made by Helm at install time: static manifests leave the plugin out.
export const MANIFEST_VALUES = ['namespace.create=true', 'webhook.certificate.source=self', 'gitPlugin.enabled=false'];
export const MANIFEST_RELEASE = { name: 'connectors', namespace: 'connectors-system' };

type Obj = Record<string, unknown>;

function yamlObjects(dir: string): Obj[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Obj | null))
    .filter((o): o is Obj => Boolean(o && typeof o === 'object' && o.kind));
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

/** Files of the chart that come from the repository, by path relative to the chart. */
export function generatedChartFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(crdFiles())) files[`crds/${name}`] = text;
  files['files/generated/connectorclasses.json'] = json(builtinClasses({ systemNamespace: NAMESPACE_PLACEHOLDER }));
  files['files/generated/resourceinterfaces.json'] = json(yamlObjects(join(ROOT, 'resourceinterfaces')));
  files['files/generated/rbac.json'] = json(yamlObjects(join(ROOT, 'deploy/rbac')));
  files['files/generated/webhook-configurations.json'] = json(deployManifests(NAMESPACE_PLACEHOLDER));
  files['files/generated/approval-templates.json'] = json(builtinTemplates(NAMESPACE_PLACEHOLDER));
  return files;
}

export async function writeChartFiles(): Promise<string[]> {
  const files = generatedChartFiles();
  for (const dir of ['crds', 'files/generated']) {
    await mkdir(join(CHART_DIR, dir), { recursive: true });
    for (const f of await readdir(join(CHART_DIR, dir)))
      if (!(`${dir}/${f}` in files)) await rm(join(CHART_DIR, dir, f));
  }
  for (const [path, text] of Object.entries(files)) await writeFile(join(CHART_DIR, path), text);
  return Object.keys(files);
}

export function runHelm(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return ensureBinary('helm').then(
    (helm) =>
      new Promise((resolveRun, reject) => {
        const child = spawn(helm, args, {
          // No user Helm configuration, repositories or cache leak in.
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: process.env.HOME ?? '/tmp',
            HELM_CONFIG_HOME: '/nonexistent-helm-config',
            HELM_CACHE_HOME: '/nonexistent-helm-cache',
            HELM_DATA_HOME: '/nonexistent-helm-data',
            ...opts.env,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (c: Buffer) => out.push(c));
        child.stderr.on('data', (c: Buffer) => err.push(c));
        child.on('error', reject);
        child.on('close', (code) => {
          const stdout = Buffer.concat(out).toString();
          const stderr = Buffer.concat(err).toString();
          if (code === 0) resolveRun(stdout);
          else
            reject(
              Object.assign(new Error(`helm ${args.join(' ')} (exit ${code}): ${stderr || stdout}`), {
                stdout,
                stderr,
              }),
            );
        });
      }),
  );
}

/** `helm template` of the chart with the plain-manifest values: the text of deploy/manifests/connectors.yaml. */
export async function renderManifests(): Promise<string> {
  const out = await runHelm([
    'template',
    MANIFEST_RELEASE.name,
    CHART_DIR,
    '--namespace',
    MANIFEST_RELEASE.namespace,
    ...MANIFEST_VALUES.flatMap((v) => ['--set', v]),
  ]);
  return (
    '# Generated by `npm run gen:deploy` (helm template of deploy/helm/connectors with ' +
    MANIFEST_VALUES.join(', ') +
    '). Do not edit.\n# Apply the CRDs first: kubectl apply --server-side -f deploy/crds/\n' +
    out
  );
}

async function main(): Promise<void> {
  const written = await writeChartFiles();
  process.stdout.write(`wrote ${written.length} generated chart files under ${CHART_DIR}\n`);
  await mkdir(dirname(MANIFESTS_FILE), { recursive: true });
  await writeFile(MANIFESTS_FILE, await renderManifests());
  process.stdout.write(`wrote ${MANIFESTS_FILE}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`npm run gen:deploy: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
