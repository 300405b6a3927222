// A serving certificate made by someone else (the Helm chart, cert-manager) and mounted from a Secret: read
// from two PEM files and read again when they change, since cert-manager renews the Secret and kubelet
// swaps the mounted files in place. The caBundle of the webhook configurations is then not ours to publish
// (the chart writes it, or cert-manager's CA injector does).
import { readFile } from 'node:fs/promises';
import { parseCertificatePem } from '../core/pki/index.ts';
import type { Logger } from '../core/observability/log.ts';

export const DEFAULT_CERT_FILE_POLL_MS = 30_000;

export interface CertFilesOptions {
  certFile: string;
  keyFile: string;
  /** How often to look for new files (default 30 s). */
  pollMs?: number;
  log?: Logger;
  /** Called to serve new material (e.g. setSecureContext). */
  swap?: (m: { certPem: string; keyPem: string }) => void;
}

export class FileCertificates {
  private readonly opts: CertFilesOptions;
  private material?: { certPem: string; keyPem: string };
  private timer?: NodeJS.Timeout;
  /** The last problem logged, so a file that stays broken is reported once, not at every poll. */
  private lastProblem = '';
  /** How many times changed files were loaded after the first. */
  rotations = 0;

  constructor(opts: CertFilesOptions) {
    this.opts = opts;
  }

  current(): { certPem: string; keyPem: string } {
    if (!this.material) throw new Error('certificate files not loaded: call start() first');
    return this.material;
  }

  /** Reads both files; rejects with a message naming the file when one is missing or not PEM. */
  private async read(): Promise<{ certPem: string; keyPem: string }> {
    const [certPem, keyPem] = await Promise.all([
      readFile(this.opts.certFile, 'utf8').catch((err: Error) => {
        throw new Error(`--tls-cert-file ${this.opts.certFile}: ${err.message}`);
      }),
      readFile(this.opts.keyFile, 'utf8').catch((err: Error) => {
        throw new Error(`--tls-key-file ${this.opts.keyFile}: ${err.message}`);
      }),
    ]);
    try {
      parseCertificatePem(certPem);
    } catch (err) {
      throw new Error(`--tls-cert-file ${this.opts.certFile}: not a PEM certificate (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem))
      throw new Error(`--tls-key-file ${this.opts.keyFile}: not a PEM private key`);
    return { certPem, keyPem };
  }

  async start(): Promise<{ certPem: string; keyPem: string }> {
    this.material = await this.read();
    this.timer = setInterval(() => void this.reload(), this.opts.pollMs ?? DEFAULT_CERT_FILE_POLL_MS);
    this.timer.unref();
    return this.material;
  }

  /** Serves the files again if they changed; a half-written or broken pair keeps the current one. */
  async reload(): Promise<boolean> {
    let next: { certPem: string; keyPem: string };
    try {
      next = await this.read();
    } catch (err) {
      this.problem('certificate files unreadable; serving the previous certificate', err as Error);
      return false;
    }
    if (next.certPem === this.material?.certPem && next.keyPem === this.material?.keyPem) return false;
    try {
      this.opts.swap?.(next);
    } catch (err) {
      // setSecureContext rejects a key that does not match the certificate (a pair caught mid-update).
      this.problem('new certificate files rejected; serving the previous certificate', err as Error);
      return false;
    }
    this.lastProblem = '';
    this.material = next;
    this.rotations++;
    this.opts.log?.info('serving certificate reloaded from files', { certFile: this.opts.certFile });
    return true;
  }

  private problem(msg: string, err: Error): void {
    if (err.message === this.lastProblem) return;
    this.lastProblem = err.message;
    this.opts.log?.warn(msg, { error: err.message });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
