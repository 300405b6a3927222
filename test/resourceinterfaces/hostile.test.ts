// Hostile ResourceInterface expressions through the running webhook: each fails only its own admission request,
// with a message naming the integration, the attribute and why, while the webhook keeps answering others. The
// ResourceInterfaces, ConnectorClass and Connector live in the real API server (the webhook's caches read them);
// the AdmissionReviews are posted to the webhook directly, so no Tekton CRDs are needed.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinClasses } from '../../connectorclasses/index.ts';
import { INTEGRATIONS_ANNOTATION } from '../../core/resourceinterface/integration.ts';
import { builtinResourceInterfaces } from '../../resourceinterfaces/index.ts';
import { PATHS } from '../../webhook/handlers.ts';
import { startWebhook, type RunningWebhook } from '../../webhook/index.ts';
import { cluster, objects, type Cluster } from '@connectors/test-support';

/** The sandbox deadline of this test's webhook: long enough that a request answered while a runaway
 * expression runs shows the webhook was not blocked, even on a busy machine. */
const DEADLINE_MS = 4000;
const MAX_WAITING = 4;

interface Reply {
  allowed: boolean;
  status?: { status?: string; code?: number; reason?: string; message?: string };
  patch?: string;
  /** When the reply arrived (ms since the epoch). */
  at: number;
}

describe('resourceinterfaces: hostile expressions through the webhook', function () {
  this.timeout(120_000);
  const id = randomBytes(4).toString('hex');
  const stateDir = mkdtempSync(join(tmpdir(), 'ri-hostile-'));
  const className = `ri-hostile-${id}`;
  let c: Cluster;
  let wh: RunningWebhook;
  let ns: string;
  let systemNamespace: string;
  const interfaces: string[] = [];

  const cases: Array<{ what: string; expression: string; message: string; runaway?: boolean }> = [
    {
      what: 'an infinite loop',
      expression: '{(() => { for (;;) {} })()}',
      message: 'took longer than the deadline',
      runaway: true,
    },
    {
      what: 'recursion that catches its own stack overflow (the worker is ended)',
      expression: '{(function f() { try { return f() } catch (e) { return f() } })()}',
      message: 'took longer than the deadline',
      runaway: true,
    },
    {
      what: 'deep recursion',
      expression: '{(function f() { return f() })()}',
      message: 'InternalError: stack overflow',
    },
    {
      what: 'deeply nested JSON',
      expression: "{JSON.parse('['.repeat(100000) + ']'.repeat(100000))}",
      message: 'SyntaxError: stack overflow',
    },
    {
      what: 'a huge allocation',
      expression: '{new Array(2 ** 31 - 1).fill(0)}',
      message: 'InternalError: out of memory',
    },
    { what: 'a huge string', expression: "{'x'.repeat(2 ** 30)}", message: 'RangeError: invalid string length' },
  ];
  const riName = (i: number) => `hostile-${i}-${id}`;

  const kubectlJson = (args: string[], obj: unknown) => c.kubectl(args, { input: JSON.stringify(obj) });

  /** A PipelineRun AdmissionReview posted to the webhook; resolves with the response and when it came. */
  const review = (iface: string): Promise<Reply> => {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: randomBytes(8).toString('hex'),
        kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' },
        resource: { group: 'tekton.dev', version: 'v1', resource: 'pipelineruns' },
        namespace: ns,
        operation: 'CREATE',
        object: {
          apiVersion: 'tekton.dev/v1',
          kind: 'PipelineRun',
          metadata: {
            name: 'r',
            namespace: ns,
            annotations: {
              [INTEGRATIONS_ANNOTATION]: JSON.stringify([
                {
                  name: 'source',
                  interface: { name: iface },
                  connectorRef: { name: 'git' },
                  params: [{ name: 'repository', value: 'org/app.git' }],
                },
              ]),
            },
          },
          spec: { pipelineRef: { name: 'p' } },
        },
      },
    });
    const url = new URL(PATHS.pipelineruns, wh.url);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', ca: wh.caBundle(), headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            try {
              resolve({ ...JSON.parse(text).response, at: Date.now() });
            } catch (err) {
              reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)} (${(err as Error).message})`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
  const normal = 'gitcoderepository';
  /** The JSON patch of an allowed reply, as text. */
  const patchOf = (r: Reply) => Buffer.from(r.patch ?? '', 'base64').toString();
  const GIT_URL = '{"name":"git-url","value":"https://git.example.com/org/app.git"}';

  before(async () => {
    c = await cluster();
    ns = await c.createNamespace('ri-hostile');
    systemNamespace = await c.createNamespace('ri-hostile-sys');
    const git = builtinClasses({ systemNamespace }).find((b) => b.metadata.name === 'git')!;
    const labels: Record<string, string> = { ...git.metadata.labels };
    for (const [i, k] of cases.entries()) {
      const ri = structuredClone(builtinResourceInterfaces(['gitcoderepository'])[0]);
      ri.metadata.name = riName(i);
      ri.spec!.attributes!.find((a) => a.name === 'url')!.expression = k.expression;
      await kubectlJson(['create', '-f', '-'], ri);
      interfaces.push(ri.metadata.name);
      labels[`resourceinterface.connectors.cpaas.io/${ri.metadata.name}`] = 'true';
    }
    await kubectlJson(['apply', '--server-side', '--field-manager=ri-hostile-test', '-f', '-'], {
      apiVersion: 'v1',
      kind: 'List',
      items: builtinResourceInterfaces(['gitcoderepository']),
    });
    await kubectlJson(['create', '-f', '-'], { ...git, metadata: { ...git.metadata, name: className, labels } });
    await kubectlJson(
      ['create', '-n', ns, '-f', '-'],
      objects.connector('git', { className, address: 'https://git.example.com' }),
    );
    wh = await startWebhook(c.kubeConfig, {
      host: '127.0.0.1',
      port: 0,
      stateDir,
      systemNamespace,
      configName: `connectors-webhook-ri-hostile-${id}`,
      expressionLimits: { deadlineMs: DEADLINE_MS },
      // The burst below (6 at once) fits: 2 evaluating, 4 waiting; the waits outlast a runaway's deadline.
      expressionWait: { timeoutMs: 3 * DEADLINE_MS, maxWaiting: MAX_WAITING },
    });
    // The webhook's caches see the objects: the last interface created answers with its own refusal.
    for (let started = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
      const r = await review(riName(cases.length - 1));
      if (r.status?.message?.includes('invalid string length')) break;
      if (Date.now() - started > 30_000) throw new Error(`the webhook never saw the objects: ${r.status?.message}`);
    }
  });
  after(async () => {
    await wh?.stop();
    await c.kubectl(['delete', 'connectorclass', className, '--ignore-not-found']);
    for (const name of interfaces) await c.kubectl(['delete', 'resourceinterface', name, '--ignore-not-found']);
    if (ns) await c.deleteNamespace(ns);
    if (systemNamespace) await c.deleteNamespace(systemNamespace);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('expands the normal gitcoderepository integration (the request the cases send alongside)', async () => {
    const r = await review(normal);
    expect(r.allowed, r.status?.message).to.equal(true);
    expect(patchOf(r)).to.include(GIT_URL);
  });

  for (const [i, k] of cases.entries()) {
    it(`refuses ${k.what} with "${k.message}" and keeps answering other requests`, async () => {
      const sent = Date.now();
      const hostile = review(riName(i));
      await new Promise((r) => setTimeout(r, 100));
      const [bad, good] = await Promise.all([hostile, review(normal)]);
      expect(bad).to.deep.include({
        allowed: false,
        status: {
          status: 'Failure',
          code: 400,
          reason: 'BadRequest',
          message: `metadata.annotations["${INTEGRATIONS_ANNOTATION}"][0]: attribute "url" of ResourceInterface "${riName(i)}": ${k.message}`,
        },
      });
      expect(good.allowed, good.status?.message).to.equal(true);
      expect(patchOf(good)).to.include(GIT_URL);
      if (k.runaway) {
        // Answered while the runaway expression still ran: the webhook's event loop was free.
        expect(good.at, 'the normal request waited for the runaway one').to.be.lessThan(bad.at);
        expect(bad.at - sent).to.be.at.least(DEADLINE_MS);
      }
    });
  }

  it('answers a burst of runaway requests and normal ones together', async () => {
    const hostile = [0, 1, 0].map((i) => review(riName(i)));
    const normals = [1, 2, 3].map(() => review(normal));
    const replies = await Promise.all([...hostile, ...normals]);
    expect(replies.slice(0, 3).map((r) => r.status?.message?.endsWith('took longer than the deadline'))).to.deep.equal([
      true,
      true,
      true,
    ]);
    expect(replies.slice(3).map((r) => r.allowed)).to.deep.equal([true, true, true]);
  });

  it(`refuses at once, 503, the request past ${MAX_WAITING} waiting for a busy sandbox; the waiting ones are answered`, async () => {
    const sent = Date.now();
    // Both workers busy with runaway expressions, then more normal requests than may wait.
    const hostile = [0, 1].map((i) => review(riName(i)));
    await new Promise((r) => setTimeout(r, 300));
    const normals = Array.from({ length: MAX_WAITING + 1 }, () => review(normal));
    const replies = await Promise.all([...hostile, ...normals]);
    const refused = replies.filter((r) => r.status?.code === 503);
    expect(refused).to.have.length(1);
    expect(refused[0]).to.deep.include({
      allowed: false,
      status: {
        status: 'Failure',
        code: 503,
        reason: 'ServiceUnavailable',
        message: `the expression sandbox is busy (${MAX_WAITING} waiting already); try again`,
      },
    });
    expect(refused[0].at - sent, 'refused without waiting for a worker').to.be.lessThan(DEADLINE_MS);
    const served = replies.slice(2).filter((r) => r !== refused[0]);
    expect(served.map((r) => r.allowed)).to.deep.equal(Array.from({ length: MAX_WAITING }, () => true));
    for (const r of served) expect(patchOf(r)).to.include(GIT_URL);
  });
});
