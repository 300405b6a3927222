// csi-sanity (kubernetes-csi/csi-test v5.6.0, built from Go modules) against the driver's socket.
//
// What is not run, and why:
//   - the suites tagged [Controller Server] (ControllerGetCapabilities, ValidateVolumeCapabilities, snapshots,
//     ...): connectors-csi is a node-only plugin — GetPluginCapabilities advertises no CONTROLLER_SERVICE and
//     the Controller service does not exist on its socket (the CSI spec forbids a CO from calling it then).
//     csi-sanity has no switch for node-only plugins and runs those suites unconditionally, so they are
//     deselected by their tag (asserted below: no CONTROLLER_SERVICE advertised). Nothing else is deselected.
//   - what csi-sanity itself skips: specs needing CreateVolume ("should work", "should be idempotent",
//     "should remove target path" — skipped because a create-path command is configured without a check-path
//     one, as secrets-store-csi-driver does) and the Stage/Stats/Expand/Health specs of capabilities the
//     driver does not advertise.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { cluster, csiSanityBinary } from '@connectors/test-support';
import { startCsiDriver, type CsiDriver } from '../../csi/index.ts';
import { setLogSink } from '../../core/observability/log.ts';
import { csiClient } from './client.ts';

function runSanity(bin: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('csi: csi-sanity against connectors-csi', function () {
  this.timeout(600_000);
  let dir: string;
  let driver: CsiDriver;
  let restoreLogs: () => void;

  before(async () => {
    const bin = await csiSanityBinary();
    expect(bin).to.match(/csi-sanity$/);
    const c = await cluster();
    dir = await mkdtemp(join(tmpdir(), 'csi-sanity-'));
    restoreLogs = setLogSink(() => {});
    driver = await startCsiDriver(c.kubeConfig, {
      endpoint: `unix://${join(dir, 'csi.sock')}`,
      nodeId: 'sanity-node',
      systemNamespace: 'connectors-system',
    });
  });

  after(async () => {
    await driver?.stop();
    restoreLogs?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes every spec csi-sanity runs for a node-only driver', async () => {
    const client = csiClient(driver.endpoint);
    const caps = await client.call('Identity', 'GetPluginCapabilities');
    client.close();
    expect(caps.capabilities.filter((c: any) => c.service?.type === 'CONTROLLER_SERVICE')).to.deep.equal([]);

    const bin = await csiSanityBinary();
    const mkpath = join(dir, 'mkpath.sh');
    await writeFile(mkpath, '#!/bin/sh\nmkdir -p "$1" && echo "$1"\n', { mode: 0o755 });
    const { code, output } = await runSanity(bin, [
      `--csi.endpoint=${driver.endpoint}`,
      `--csi.mountdir=${join(dir, 'mount')}`,
      `--csi.stagingdir=${join(dir, 'staging')}`,
      `--csi.createmountpathcmd=${mkpath}`,
      `--csi.createstagingpathcmd=${mkpath}`,
      '--ginkgo.skip=\\[Controller Server\\]',
      '--ginkgo.no-color',
      '--ginkgo.v',
    ]);
    // Every Identity and Node spec csi-sanity ran passed, and each skip is one of csi-sanity's own.
    const skips = [...new Set([...output.matchAll(/^\s+\[SKIPPED\] (?!in \[)(.+)$/gm)].map((m) => m[1].trim()))];
    process.stdout.write(`      csi-sanity skipped by itself: ${skips.join(' | ')}\n`);
    const own =
      /not supported|^CreateTargetPathCmd was set, but CheckPathCmd was not|does not have single node multi writer capability|^Config\.IdempotentCount/;
    expect(
      skips.filter((reason) => !own.test(reason)),
      "skips that are not csi-sanity's own",
    ).to.deep.equal([]);
    const summary =
      /Ran (\d+) of (\d+) Specs[\s\S]*?(SUCCESS|FAIL)! -- (\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/.exec(
        output,
      );
    expect(summary, output.slice(-4000)).to.not.equal(null);
    const [, ran, total, verdict, passed, failed] = summary!;
    process.stdout.write(`      csi-sanity: ran ${ran} of ${total} specs: ${passed} passed, ${failed} failed\n`);
    expect(verdict, output.slice(-6000)).to.equal('SUCCESS');
    expect(Number(failed)).to.equal(0);
    expect(Number(passed)).to.be.at.least(10); // Identity: GetPluginInfo, GetPluginCapabilities, Probe; Node: capabilities, info, argument checks
    expect(code).to.equal(0);
  });
});
