// The webhook's serving certificate, made by the project (core/pki) and rotated before it expires.
//
// Each rotation makes a fresh CA and a serving certificate signed by it (default lifetime 30 days, renewed
// at 2/3 of it). The trust bundle given to the API server (caBundle) holds the new CA and the previous one
// while that is still valid, and is published *before* the server switches certificate, so the API
// server trusts both the old and the new certificate at every moment of the switch. The switch itself is
// `tlsServer.setSecureContext`: no restart, no dropped listener.
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createCA, issueServingCert, parseCertificatePem } from '../core/pki/index.ts';
import type { Logger } from '../core/observability/log.ts';

export const DEFAULT_CERT_VALIDITY_SECONDS = 30 * 86_400;
export const DEFAULT_RENEW_FRACTION = 2 / 3;
/** setTimeout's limit (about 24.8 days); longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ServingMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
  /** PEM of every CA the API server should trust right now (new first). */
  caBundle: string;
  issuedAt: number;
  notAfter: number;
  renewAt: number;
}

export interface CertManagerOptions {
  dnsNames?: string[];
  ipAddresses?: string[];
  validitySeconds?: number;
  /** Renew when this fraction of the lifetime has passed (default 2/3). */
  renewFraction?: number;
  /** Where to keep the material across restarts (`<stateDir>/webhook`); none = in memory only. */
  stateDir?: string;
  log?: Logger;
  /** Called with new material before it is served: publish the caBundle here. Errors abort the rotation (retried). */
  beforeSwap?: (m: ServingMaterial) => Promise<void>;
  /** Called to serve new material (e.g. setSecureContext). */
  swap?: (m: ServingMaterial) => void;
}

interface Persisted extends ServingMaterial {
  hosts: string[];
  /** CA PEMs with their expiry, newest first. */
  cas: Array<{ pem: string; notAfter: number }>;
}

export class CertManager {
  private readonly opts: CertManagerOptions;
  private material?: Persisted;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private rotating?: Promise<void>;
  rotations = 0;

  constructor(opts: CertManagerOptions) {
    this.opts = opts;
  }

  private get hosts(): string[] {
    return [...(this.opts.dnsNames ?? []), ...(this.opts.ipAddresses ?? [])].sort();
  }

  private get file(): string | undefined {
    return this.opts.stateDir ? join(this.opts.stateDir, 'webhook', 'serving.json') : undefined;
  }

  current(): ServingMaterial {
    if (!this.material) throw new Error('certificates not loaded: call start() first');
    return this.material;
  }

  /** Loads kept material that is still good for these hosts, or issues new material. Does not call the hooks. */
  async start(): Promise<ServingMaterial> {
    const kept = await this.load();
    this.material = kept ?? (await this.issue([]));
    if (!kept) await this.save();
    this.schedule();
    return this.material;
  }

  private async load(): Promise<Persisted | undefined> {
    if (!this.file) return undefined;
    try {
      const p = JSON.parse(await readFile(this.file, 'utf8')) as Persisted;
      if (JSON.stringify(p.hosts) !== JSON.stringify(this.hosts) || Date.now() >= p.renewAt) return undefined;
      parseCertificatePem(p.certPem);
      return p;
    } catch {
      return undefined;
    }
  }

  private async save(): Promise<void> {
    if (!this.file || !this.material) return;
    await mkdir(join(this.opts.stateDir!, 'webhook'), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(this.material), { mode: 0o600 });
    await rename(tmp, this.file);
  }

  private async issue(previousCAs: Array<{ pem: string; notAfter: number }>): Promise<Persisted> {
    const validitySeconds = this.opts.validitySeconds ?? DEFAULT_CERT_VALIDITY_SECONDS;
    const now = Date.now();
    // The CA outlives its certificate a little, so it can stay in the bundle while that is served.
    const ca = await createCA({ commonName: `connectors-webhook-ca-${now}`, validitySeconds: validitySeconds + 3600 });
    const cert = await issueServingCert(ca, {
      dnsNames: this.opts.dnsNames,
      ipAddresses: this.opts.ipAddresses,
      validitySeconds,
    });
    const cas = [
      { pem: ca.certPem, notAfter: ca.cert.notAfter.getTime() },
      ...previousCAs.filter((c) => c.notAfter > now),
    ].slice(0, 2);
    return {
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      caPem: ca.certPem,
      caBundle: cas.map((c) => c.pem).join(''),
      issuedAt: now,
      notAfter: cert.notAfter.getTime(),
      renewAt: now + Math.round((this.opts.renewFraction ?? DEFAULT_RENEW_FRACTION) * validitySeconds * 1000),
      hosts: this.hosts,
      cas,
    };
  }

  private schedule(delayMs?: number): void {
    if (this.stopped || !this.material) return;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(delayMs ?? this.material.renewAt - Date.now(), MAX_TIMER_MS));
    this.timer = setTimeout(() => {
      if (Date.now() < this.material!.renewAt && delayMs === undefined) return this.schedule();
      void this.rotate().catch(() => undefined);
    }, wait);
    this.timer.unref();
  }

  /** Rotates now: new CA and certificate, caBundle published (beforeSwap), then served (swap). */
  rotate(): Promise<void> {
    this.rotating ??= (async () => {
      try {
        const next = await this.issue(this.material?.cas ?? []);
        await this.opts.beforeSwap?.(next);
        this.material = next;
        this.opts.swap?.(next);
        this.rotations++;
        await this.save();
        this.opts.log?.info('serving certificate rotated', {
          notAfter: new Date(next.notAfter).toISOString(),
          renewAt: new Date(next.renewAt).toISOString(),
        });
        this.schedule();
      } catch (err) {
        this.opts.log?.error('certificate rotation failed; retrying in 10s', { error: (err as Error).message });
        this.schedule(10_000);
        throw err;
      } finally {
        this.rotating = undefined;
      }
    })();
    return this.rotating;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
