// NodePublishVolume / NodeUnpublishVolume against the real apiserver: the seed's attributes, built-in files,
// configurations and params, scope, tokens (TokenRequest bound to the Pod, or kubelet's), republish, the
// errors kubelet reports, and logs free of tokens.
import { lstat, mkdir, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { readFileSet } from '../../csi/atomicwriter.ts';
import { DirMounter, mountPoints, type Mounter } from '../../csi/mounter.ts';
import { startCsiDriver } from '../../csi/index.ts';
import { jwtClaims, setupCsi, type CsiEnv } from './fixture.ts';
import { csiClient, publishRequest, type RpcError } from './client.ts';

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

async function mountId(target: string): Promise<string | undefined> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === target)?.[0];
}

describe('csi: NodePublishVolume against the real apiserver', function () {
  this.timeout(120_000);
  let env: CsiEnv;
  const tokensSeen = new Set<string>();

  before(async () => {
    env = await setupCsi('csi-pub');
    await env.connector(env.ns, 'git-connector', 'https://github.com');
  });
  after(async () => env?.stop());

  async function files(target: string): Promise<Map<string, string>> {
    const set = (await readFileSet(target))!;
    const t = set.get('context.token');
    if (t) tokensSeen.add(t);
    return set;
  }

  it('renders the seed volume (connector.name, configuration.names: gitconfig) into a tmpfs with the built-in files', async () => {
    const { target } = await env.publish({ 'connector.name': 'git-connector', 'configuration.names': 'gitconfig' });
    const set = await files(target);
    expect([...set.keys()].sort()).to.deep.equal([
      '.env',
      '.gitconfig',
      'ca.cert',
      'ca.crt',
      'connector.status.proxyAddress',
      'context.proxy.caCert',
      'context.token',
      'http.proxy',
      'https.proxy',
    ]);
    const token = set.get('context.token')!;
    expect(await readFile(join(target, '.gitconfig'), 'utf8')).to.equal(
      `[http]\n    extraHeader = Authorization: Basic ${Buffer.from(':' + token).toString('base64')}\n` +
        `[url "http://c-git-connector.${env.ns}.svc.cluster.local"]\n    insteadOf = https://github.com\n`,
    );
    const proxy = `http://${env.ns}%2Fgit-connector:${token}@127.0.0.1:3128`;
    expect(set.get('http.proxy')).to.equal(proxy);
    expect(set.get('.env')).to.equal(`http_proxy=${proxy}\nhttps_proxy=${proxy}\nno_proxy=localhost,127.0.0.1,::1\n`);
    expect(set.get('connector.status.proxyAddress')).to.equal(`http://c-git-connector.${env.ns}.svc.cluster.local`);
    for (const f of set.keys()) expect((await stat(join(target, f))).mode & 0o777, f).to.equal(0o444);
    if (env.driver.mounter.kind === 'tmpfs') expect((await mountPoints()).has(target)).to.equal(true);
  });

  it('renders the configurations found when some are not, and logs the ones skipped', async () => {
    const { target } = await env.publish({ connectors: 'git-connector', 'configuration.names': 'gitconfig,nosuch' });
    const set = await files(target);
    expect(set.has('.gitconfig')).to.equal(true);
    const skipped = env.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'configurations not found, skipped');
    expect(skipped).to.deep.include({ pod: `${env.ns}/${env.pod.name}`, configurations: ['nosuch'] });
  });

  it("issues a token for the pod's ServiceAccount, bound to the pod, audience connectors-proxy, 30m by default and token.expiration otherwise", async () => {
    for (const [attr, seconds] of [
      [undefined, 1800],
      ['60m', 3600],
      ['1h30m', 5400],
    ] as const) {
      const { target } = await env.publish({
        connectors: 'git-connector',
        ...(attr ? { 'token.expiration': attr } : {}),
      });
      const claims = jwtClaims((await files(target)).get('context.token')!);
      expect(claims.aud).to.deep.equal(['connectors-proxy']);
      expect(claims.sub).to.equal(`system:serviceaccount:${env.ns}:default`);
      expect(claims['kubernetes.io'].pod).to.deep.equal({ name: env.pod.name, uid: env.pod.uid });
      expect(claims.exp - claims.iat, String(attr)).to.equal(seconds);
    }
  });

  it('uses the token kubelet requested (volume_context, or secrets per KEP-5538) when it does not outlive token.expiration', async () => {
    const kubeletToken = await env.c.createToken(env.ns, 'default', {
      audience: 'connectors-proxy',
      expirationSeconds: 3600,
      boundPod: env.pod,
    });
    tokensSeen.add(kubeletToken);
    const tokens = JSON.stringify({
      'connectors-proxy': { token: kubeletToken, expirationTimestamp: new Date(Date.now() + 3600_000).toISOString() },
    });
    const key = 'csi.storage.k8s.io/serviceAccount.tokens';
    const viaContext = await env.publish(
      { connectors: 'git-connector', 'token.expiration': '60m' },
      { extraContext: { [key]: tokens } },
    );
    expect((await files(viaContext.target)).get('context.token')).to.equal(kubeletToken);
    const viaSecrets = await env.publish(
      { connectors: 'git-connector', 'token.expiration': '60m' },
      { secrets: { [key]: tokens } },
    );
    expect((await files(viaSecrets.target)).get('context.token')).to.equal(kubeletToken);
    // 30m requested: kubelet's 1h token would outlive it, so the driver issues its own.
    const shorter = await env.publish({ connectors: 'git-connector' }, { extraContext: { [key]: tokens } });
    const own = (await files(shorter.target)).get('context.token')!;
    expect(own).to.not.equal(kubeletToken);
    expect(jwtClaims(own).exp - jwtClaims(own).iat).to.equal(1800);
  });

  it('mounts only the built-ins without configuration.names, and applies !file exclusions', async () => {
    const plain = await files((await env.publish({ connectors: 'git-connector' })).target);
    expect([...plain.keys()]).to.not.include('.gitconfig');
    expect(plain.size).to.equal(8);
    const noToken = await files(
      (await env.publish({ connectors: 'git-connector', 'configuration.names': '!context.token' })).target,
    );
    expect(noToken.has('context.token')).to.equal(false);
    expect(noToken.size).to.equal(7);
    const config1 = await files(
      (await env.publish({ connectors: 'git-connector', 'configuration.names': 'config1,!config1.conf' })).target,
    );
    expect(config1.get('config1.extra')).to.equal('two\n');
    expect(config1.has('config1.conf')).to.equal(false);
  });

  it('injects configuration params over declared defaults', async () => {
    const { target } = await env.publish({
      connectors: 'git-connector',
      'configuration.names': 'npmrc',
      'configuration.params': '{"npmrc":{"registry":"npm-proxy"}}',
    });
    expect(await readFile(join(target, '.npmrc'), 'utf8')).to.equal('registry=npm-proxy\nstrict-ssl=true\n');
  });

  it('republishes by rewriting the files atomically, not the mount, with a fresh token', async () => {
    const key = 'csi.storage.k8s.io/serviceAccount.tokens';
    const mk = async () => {
      const t = await env.c.createToken(env.ns, 'default', {
        audience: 'connectors-proxy',
        expirationSeconds: 3600,
        boundPod: env.pod,
      });
      tokensSeen.add(t);
      return {
        t,
        ctx: {
          [key]: JSON.stringify({
            'connectors-proxy': { token: t, expirationTimestamp: new Date(Date.now() + 3600_000).toISOString() },
          }),
        },
      };
    };
    const first = await mk();
    const attrs = { connectors: 'git-connector', 'configuration.names': 'gitconfig', 'token.expiration': '1h' };
    const { target, volumeId } = await env.publish(attrs, { extraContext: first.ctx });
    const gen1 = await readlink(join(target, '..data'));
    const mount1 = await mountId(target);
    // The same request again (kubelet's periodic republish with an unchanged token): nothing is rewritten.
    await env.publish(attrs, { extraContext: first.ctx, target, volumeId });
    expect(await readlink(join(target, '..data'))).to.equal(gen1);
    // A renewed token: a new generation swapped in, the same mount.
    const second = await mk();
    await env.publish(attrs, { extraContext: second.ctx, target, volumeId });
    const gen2 = await readlink(join(target, '..data'));
    expect(gen2).to.not.equal(gen1);
    expect(await mountId(target)).to.equal(mount1);
    expect(await readFile(join(target, 'context.token'), 'utf8')).to.equal(second.t);
    expect(await readFile(join(target, '.gitconfig'), 'utf8')).to.contain(
      Buffer.from(':' + second.t).toString('base64'),
    );
    expect((await readdir(target)).filter((e) => e.startsWith('..'))).to.have.members(['..data', gen2]);
  });

  it('unpublishes idempotently and removes the target path', async () => {
    const { target, volumeId } = await env.publish({ connectors: 'git-connector' });
    for (let i = 0; i < 2; i++)
      await env.client.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
    expect(await exists(target)).to.equal(false);
    expect((await mountPoints()).has(target)).to.equal(false);
    await env.client.call('Node', 'NodeUnpublishVolume', {
      volume_id: 'never-published',
      target_path: env.target('never'),
    });
  });

  it('never writes a token, nor the volume context or secrets, to its logs', () => {
    // Every token that reached a volume above, and every kubelet token passed in, against every log line.
    const text = env.logs.join('\n');
    expect(env.logs.filter((l) => l.includes('"volume published"')).length).to.be.greaterThan(5);
    expect(tokensSeen.size).to.be.greaterThan(5);
    for (const t of tokensSeen) expect(text.includes(t), 'a token appeared in the driver logs').to.equal(false);
    for (const t of tokensSeen)
      expect(text.includes(Buffer.from(':' + t).toString('base64')), 'a Basic header appeared in the logs').to.equal(
        false,
      );
    expect(text).to.not.include('serviceAccount.tokens');
    expect(text).to.not.include('csi.storage.k8s.io/pod.uid');
  });

  it('answers Probe ready and NodeGetInfo with the node id', async () => {
    expect(await env.client.call('Identity', 'Probe')).to.deep.equal({ ready: { value: true } });
    expect((await env.client.call('Identity', 'GetPluginInfo')).name).to.equal('connectors-csi');
    expect((await env.client.call('Node', 'NodeGetInfo')).node_id).to.equal('test-node');
  });
});

describe('csi: scope and multi-connector against the real apiserver', function () {
  this.timeout(120_000);
  let env: CsiEnv;
  before(async () => (env = await setupCsi('csi-scope')));
  after(async () => env?.stop());

  it('allows kube-public connectors from anywhere and project connectors from member namespaces', async () => {
    const publicName = `pub-${env.className}`;
    await env.connector('kube-public', publicName);
    await env.publish({ connectors: `kube-public/${publicName}` });
    const group = await env.c.createNamespace('csi-group');
    await env.c.kubectl(['label', 'namespace', group, `cpaas.io/inner-namespace=${group}`]);
    await env.connector(group, 'shared');
    const member = await env.c.createNamespace('csi-member');
    await env.c.kubectl(['label', 'namespace', member, `cpaas.io/project=${group}`]);
    const memberPod = await env.createPod(member);
    await env.publish({ connectors: `${group}/shared` }, { pod: memberPod });
    await env.publish({ 'connector.name': 'shared', 'connector.namespace': group }, { pod: memberPod });
    const outsider = await env.c.createNamespace('csi-outsider');
    const outsiderPod = await env.createPod(outsider);
    const denied = await env.publish({ connectors: `${group}/shared` }, { pod: outsiderPod }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    expect(denied?.code).to.equal(status.PERMISSION_DENIED);
    expect(denied?.details).to.contain(`a Pod in namespace "${outsider}" may not use Connector "${group}/shared"`);
    await env.connectors.delete(publicName, 'kube-public');
  });

  it('merges several connectors into one configuration when enable-multi-connector is on', async () => {
    await env.connector(env.ns, 'a', 'https://github.com');
    await env.connector(env.ns, 'b', 'https://gitlab.com');
    await env.setFlag('enable-multi-connector', true);
    const deadline = Date.now() + 10_000;
    let target: string;
    for (;;) {
      try {
        target = (await env.publish({ connectors: 'a,b', 'configuration.names': 'gitconfig' })).target;
        break;
      } catch (err) {
        if ((err as RpcError).code !== status.FAILED_PRECONDITION || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100)); // the flag's watch has not delivered yet
      }
    }
    const gitconfig = await readFile(join(target, '.gitconfig'), 'utf8');
    expect(gitconfig).to.contain(
      `[url "http://c-a.${env.ns}.svc.cluster.local"]\n    insteadOf = https://github.com\n[url "http://c-b.${env.ns}.svc.cluster.local"]\n    insteadOf = https://gitlab.com\n`,
    );
    expect(await readFile(join(target, 'connector.status.proxyAddress'), 'utf8')).to.equal(
      `http://c-b.${env.ns}.svc.cluster.local`,
    );
    await env.setFlag('enable-multi-connector', false);
  });
});

describe('csi: NodePublishVolume errors, each leaving nothing at the target path', function () {
  this.timeout(120_000);
  let env: CsiEnv;
  let other: string;
  before(async () => {
    env = await setupCsi('csi-err');
    await env.connector(env.ns, 'git-connector', 'https://github.com');
    await env.connector(env.ns, 'second');
    other = await env.c.createNamespace('csi-other');
    await env.connector(other, 'foreign');
  });
  after(async () => env?.stop());

  const cases: Array<{
    name: string;
    attrs: () => Record<string, string>;
    readonly?: boolean;
    ephemeral?: boolean;
    code: status;
    message: string | RegExp | (() => string);
  }> = [
    {
      name: 'a missing connector',
      attrs: () => ({ 'connector.name': 'git-github' }),
      code: status.NOT_FOUND,
      message: 'connector "git-github" not found',
    },
    {
      name: 'an unknown configuration (with an exclusion)',
      attrs: () => ({ connectors: 'git-connector', 'configuration.names': 'nonexistent,!context.token' }),
      code: status.NOT_FOUND,
      message: () => `configuration "nonexistent" not found in connectorclass "${env.className}"`,
    },
    {
      name: 'configuration.params that is not JSON',
      attrs: () => ({ connectors: 'git-connector', 'configuration.names': 'npmrc', 'configuration.params': '{npmrc' }),
      code: status.INVALID_ARGUMENT,
      message: /^invalid volume attribute "configuration\.params": not valid JSON/,
    },
    {
      name: 'a missing required param',
      attrs: () => ({ connectors: 'git-connector', 'configuration.names': 'npmrc' }),
      code: status.INVALID_ARGUMENT,
      message: /requires parameter "registry"/,
    },
    {
      name: 'a writable volume',
      attrs: () => ({ connectors: 'git-connector' }),
      readonly: false,
      code: status.INVALID_ARGUMENT,
      message: 'readOnly must be true: set readOnly: true on the csi volume of driver connectors-csi',
    },
    {
      name: 'a persistent (non-ephemeral) volume',
      attrs: () => ({ connectors: 'git-connector' }),
      ephemeral: false,
      code: status.INVALID_ARGUMENT,
      message: /^only ephemeral inline volumes are supported/,
    },
    {
      name: 'no connector at all',
      attrs: () => ({ 'configuration.names': 'gitconfig' }),
      code: status.INVALID_ARGUMENT,
      message: 'volume attribute "connectors" (or the deprecated "connector.name") is required',
    },
    {
      name: 'a bad token.expiration',
      attrs: () => ({ connectors: 'git-connector', 'token.expiration': '30' }),
      code: status.INVALID_ARGUMENT,
      message: 'invalid volume attribute "token.expiration": time: missing unit in duration "30"',
    },
    {
      name: "a connector outside the pod's scope",
      attrs: () => ({ connectors: `${other}/foreign` }),
      code: status.PERMISSION_DENIED,
      message: () =>
        `permission denied: a Pod in namespace "${env.ns}" may not use Connector "${other}/foreign": it is ` +
        `usable only from namespace "${other}" (Connectors in kube-public are usable from every namespace, ` +
        `those of a namespace labelled cpaas.io/inner-namespace from the namespaces of that project)`,
    },
    {
      name: 'several connectors with enable-multi-connector off',
      attrs: () => ({ connectors: 'git-connector,second' }),
      code: status.FAILED_PRECONDITION,
      message: () =>
        `several connectors in one volume (${env.ns}/git-connector, ${env.ns}/second) need the feature flag ` +
        `enable-multi-connector: set enable-multi-connector: "true" in ConfigMap connectors-config of ` +
        `namespace ${env.systemNs}, or mount one connector per volume`,
    },
    {
      name: 'a template error',
      attrs: () => ({ connectors: 'git-connector', 'configuration.names': 'broken' }),
      code: status.INTERNAL,
      message:
        /^failed to generate configuration: configuration "broken" of connectorclass "csi-err-[0-9a-f]+": template: broken\.conf:1: function "nosuchfunction" not defined$/,
    },
  ];

  for (const tc of cases) {
    it(`rejects ${tc.name}`, async () => {
      const target = env.target();
      const err = await env
        .publish(tc.attrs(), {
          target,
          readonly: tc.readonly,
          extraContext: tc.ephemeral === false ? { 'csi.storage.k8s.io/ephemeral': 'false' } : {},
        })
        .then(
          () => undefined,
          (e: RpcError) => e,
        );
      expect(err, 'publish should fail').to.not.equal(undefined);
      expect(status[err!.code]).to.equal(status[tc.code]);
      const want = typeof tc.message === 'function' ? tc.message() : tc.message;
      if (want instanceof RegExp) expect(err!.details).to.match(want);
      else expect(err!.details).to.equal(want);
      expect(await exists(target), 'nothing at the target path').to.equal(false);
      expect((await mountPoints()).has(target)).to.equal(false);
    });
  }

  it('removes what it mounted and created when writing the files fails', async () => {
    // A mounter whose volume cannot be written: the atomic writer cannot replace `..data_tmp`.
    const inner = new DirMounter();
    const faulty: Mounter = {
      kind: 'dir',
      isMounted: (t) => inner.isMounted(t),
      unmount: (t) => inner.unmount(t),
      async mount(t) {
        await inner.mount(t);
        await mkdir(join(t, '..data_tmp', 'blocker'), { recursive: true });
      },
    };
    const driver = await startCsiDriver(env.c.kubeConfig, {
      endpoint: `unix://${join(env.dir, 'faulty.sock')}`,
      nodeId: 'faulty',
      systemNamespace: env.systemNs,
      mounter: faulty,
    });
    const client = csiClient(driver.endpoint);
    try {
      await driver.synced;
      const target = env.target();
      const err = await client
        .call('Node', 'NodePublishVolume', publishRequest(target, env.pod, { connectors: 'git-connector' }))
        .then(
          () => undefined,
          (e: RpcError) => e,
        );
      expect(err?.code).to.equal(status.INTERNAL);
      expect(err?.details).to.match(new RegExp(`^failed to write volume at ${target}: `));
      expect(await exists(target)).to.equal(false);
    } finally {
      client.close();
      await driver.stop();
    }
  });

  it('rejects requests without volume_id, target_path or volume_capability with InvalidArgument before reading attributes', async () => {
    for (const missing of ['volume_id', 'target_path', 'volume_capability']) {
      const req: Record<string, unknown> = {
        volume_id: 'v',
        target_path: env.target(),
        volume_capability: { mount: {} },
        readonly: true,
        volume_context: {},
      };
      delete req[missing];
      const err = await env.client.call('Node', 'NodePublishVolume', req).then(
        () => undefined,
        (e: RpcError) => e,
      );
      expect(err?.code, missing).to.equal(status.INVALID_ARGUMENT);
      expect(err?.details).to.equal(`${missing} is required`);
    }
  });
});
