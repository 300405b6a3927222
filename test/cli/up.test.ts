// `connectors up` end to end, as `npm start -- --kubeconfig PATH` runs it: the embedded control plane
// comes up with the CRDs and built-in ConnectorClasses, the kubeconfig appears only once everything is
// ready, every seed YAML applies, and SIGTERM leaves no process and no listening port behind.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBinary } from '../../core/peers/index.ts';
import {
  alive,
  descendants,
  listeningPorts,
  portInUse,
  fixtureDocuments,
  indentedBlocks,
  textToApply,
} from '@connectors/test-support';

const cli = fileURLToPath(new URL('../../cli/connectors.js', import.meta.url));

function run(
  cmd: string,
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

describe('connectors up (embedded control plane)', function () {
  this.timeout(180_000);
  let dir: string;
  let up: ChildProcess;
  let output = '';
  let kubectlBin: string;
  const kubeconfig = () => join(dir, 'kubeconfig');
  const kubectl = async (args: string[], input?: string) => {
    const r = await run(kubectlBin, [`--kubeconfig=${kubeconfig()}`, ...args], input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    kubectlBin = await ensureBinary('kubectl');
    dir = mkdtempSync(join(tmpdir(), 'connectors-up-test-'));
    const env = { ...process.env };
    delete env.KUBECONFIG;
    up = spawn(process.execPath, [cli, 'up', '--kubeconfig', kubeconfig(), '--state-dir', join(dir, 'state')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    up.stdout!.on('data', (d) => (output += d));
    up.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 120_000;
    while (!output.includes('Connectors is running.')) {
      if (up.exitCode !== null) throw new Error(`connectors up exited ${up.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`connectors up not ready in time:\n${output}`);
      // The kubeconfig is written only once everything is ready, just before the banner.
      if (existsSync(kubeconfig()))
        expect(output, 'kubeconfig written before the built-in classes were installed').to.match(
          /installed \d+ built-in ConnectorClass/,
        );
      await sleep(100);
    }
  });

  after(() => {
    if (up && up.exitCode === null) up.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints how to use it and writes an admin kubeconfig with mode 0600', async () => {
    expect(output).to.include(`export KUBECONFIG=${kubeconfig()}`);
    const { statSync } = await import('node:fs');
    expect(statSync(kubeconfig()).mode & 0o777).to.equal(0o600);
  });

  it('lists the built-in ConnectorClasses', async () => {
    const out = await kubectl(['get', 'connectorclasses', '-o', 'name']);
    expect(out).to.include('connectorclass.connectors.alauda.io/git');
  });

  it('installs the ResourceInterfaces, and its webhook rejects one whose expression does not parse', async () => {
    const out = await kubectl(['get', 'resourceinterfaces', '-o', 'name']);
    expect(out.trim().split('\n').sort()).to.deep.equal(
      [
        'gitcoderepository',
        'githubcoderepository',
        'gitlabcoderepository',
        'harborociartifact',
        'mavenrepository',
        'npmrepository',
        'ociartifact',
      ].map((n) => `resourceinterface.connectors.alauda.io/${n}`),
    );
    const bad = {
      apiVersion: 'connectors.alauda.io/v1alpha1',
      kind: 'ResourceInterface',
      metadata: { name: 'broken' },
      spec: { attributes: [{ name: 'url', expression: '{connector.spec.address +}' }] },
    };
    const msg = await kubectl(['create', '-f', '-'], JSON.stringify(bad)).then(
      () => 'created',
      (e: Error) => e.message,
    );
    expect(msg).to.include('spec.attributes[0].expression: the expression opened at column 1 does not parse');
  });

  it('accepts `kubectl apply -f` of every seed YAML', async () => {
    await kubectl(['create', 'namespace', 'git-connector-demo']);
    await kubectl(['create', 'namespace', 'oci-connector-demo']);
    for (const doc of [...fixtureDocuments('000'), ...fixtureDocuments('003')]) {
      expect(
        await kubectl(['apply', ...(doc.namespace ? ['-n', doc.namespace] : []), '-f', '-'], doc.text),
        doc.origin,
      ).to.match(/created|configured|unchanged/);
    }
    let n = 0;
    for (const doc of [...indentedBlocks('001'), ...indentedBlocks('002')]) {
      const i = n++;
      if (/Authorization: \{\{/.test(doc.text)) continue; // not YAML as written; see test/api/seeds.test.ts
      expect(await kubectl(['apply', '-f', '-'], textToApply(doc, i)), doc.origin).to.match(
        /created|configured|unchanged/,
      );
    }
    const connectors = await kubectl(['get', 'connectors', '-A']);
    expect(connectors, '`connectors` names the kind, not a category spanning kinds').to.not.include('connectorclass');
    expect(connectors).to.match(/git-connector-demo\s+git-connector\s+git\s+https:\/\/github\.com/);
    expect(connectors).to.match(/oci-connector-demo\s+harbor\s+oci\s+https:\/\/harbor\.example\.com/);
  });

  it("`connectors render` writes the seed's .gitconfig for a ServiceAccount, pointing git at the local proxy", async () => {
    await kubectl([
      'create',
      'rolebinding',
      'use-git',
      '--clusterrole=view',
      '-n',
      'git-connector-demo',
      '--serviceaccount=git-connector-demo:default',
    ]);
    const proxyURL = /proxy\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
    const url = `${proxyURL}/namespaces/git-connector-demo/connectors/git-connector`;
    const deadline = Date.now() + 30_000;
    while (
      (await kubectl([
        'get',
        'connector',
        'git-connector',
        '-n',
        'git-connector-demo',
        '-o',
        'jsonpath={.status.proxy.httpAddress.url}',
      ])) !== url
    ) {
      if (Date.now() > deadline) throw new Error('the controller did not set the proxy address');
      await sleep(200);
    }
    const out = join(dir, 'gitdemo');
    const r = await run(process.execPath, [
      cli,
      'render',
      '--kubeconfig',
      kubeconfig(),
      '--connector',
      'git-connector-demo/git-connector',
      '--configuration',
      'gitconfig',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).to.equal(0);
    const gitconfig = readFileSync(join(out, '.gitconfig'), 'utf8');
    const token = readFileSync(join(out, 'context.token'), 'utf8');
    expect(gitconfig).to.equal(
      `[http]\n    extraHeader = Authorization: Basic ${Buffer.from(':' + token).toString('base64')}\n[url "${url}"]\n    insteadOf = https://github.com\n`,
    );
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims.aud).to.deep.equal(['connectors-proxy']);
    expect(claims.sub).to.equal('system:serviceaccount:git-connector-demo:default');
  });

  it('runs the Connectors API and the git plugin: a Connector API path reaches the plugin, the feature flags answer', async () => {
    const apiURL = /\n\s+api\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
    const pluginURL = /git-plugin\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
    expect(await kubectl(['get', 'connectorclass', 'git', '-o', 'jsonpath={.spec.api.ref.address}'])).to.equal(
      pluginURL,
    );
    const deadline = Date.now() + 30_000;
    let path = '';
    while (!path) {
      path = await kubectl([
        'get',
        'connector',
        'git-connector',
        '-n',
        'git-connector-demo',
        '-o',
        'jsonpath={.status.api.path}',
      ]);
      if (!path && Date.now() > deadline) throw new Error('the controller did not set status.api.path');
      if (!path) await sleep(200);
    }
    expect(path).to.equal('/connectors/v1alpha1/git-connector-demo/git-connector/path');
    // `default` may view the namespace (the RoleBinding of the test before): get on the Connector.
    const token = (await kubectl(['create', 'token', 'default', '-n', 'git-connector-demo'])).trim();
    const auth = { authorization: `Bearer ${token}` };
    // A repository outside the Connector's address: the git plugin itself refuses it (no request to github.com).
    const refs = await fetch(
      `${apiURL}${path}/git/gitrefs?repositoryUrl=${encodeURIComponent('https://example.org/x.git')}`,
      {
        headers: auth,
      },
    );
    expect(refs.status).to.equal(400);
    expect(((await refs.json()) as { message: string }).message).to.match(
      /is not a repository under the connector address "https:\/\/github\.com"/,
    );
    // Listing ConnectorClasses (cluster-scoped) needs more than a namespace's RoleBinding.
    const denied = await fetch(`${apiURL}/connectors-operator/featureflags`, { headers: auth });
    expect(denied.status).to.equal(403);
    await kubectl([
      'create',
      'clusterrolebinding',
      'classes-view',
      '--clusterrole=view',
      '--serviceaccount=git-connector-demo:default',
    ]);
    let flags: Response;
    const flagsDeadline = Date.now() + 10_000;
    // The cached denial lasts 5 s.
    while ((flags = await fetch(`${apiURL}/connectors-operator/featureflags`, { headers: auth })).status !== 200) {
      if (Date.now() > flagsDeadline) throw new Error(`featureflags: ${flags.status}`);
      await sleep(500);
    }
    expect(await flags.json()).to.include({
      'enable-pod-image-pull-via-connector': 'true',
      'enable-connector-apis-permissions': 'false',
    });
  });

  it('stops on SIGTERM leaving no child process and no listening port', async () => {
    const children = descendants(up.pid!);
    const ports = listeningPorts([up.pid!, ...children]);
    expect(children.length, 'etcd, kube-apiserver, ... run as children').to.be.greaterThan(1);
    expect(ports.length).to.be.greaterThan(0);
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    up.kill('SIGTERM');
    expect(await exited).to.equal(0);
    const deadline = Date.now() + 10_000;
    while (children.some(alive) && Date.now() < deadline) await sleep(100);
    expect(children.filter(alive), 'processes left behind').to.deep.equal([]);
    expect(ports.filter(portInUse), 'ports still listening').to.deep.equal([]);
  });
});
