// CA certificates a Connector adds to what its tool is trusted with (spec.caCertSecretRef, and the global
// CA Secrets of the system namespace labelled connectors.cpaas.io/ca-cert: "true"): every PEM certificate
// in a key ending .crt or .pem, or in a value holding a PEM header. Used by the controller's probes and the
// proxy's upstream transports alike, so both trust the same certificates.
import { X509Certificate } from 'node:crypto';
import type { DecodedSecret } from './secret.ts';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Pure: the certificates of a CA Secret. `invalid` when it has no candidate key, or no candidate held a
 * parsable certificate (blocks that do not parse are skipped).
 */
export function caCertificatesOf(s: Pick<DecodedSecret, 'data'>): { pems: string[]; invalid: boolean } {
  const pems: string[] = [];
  let candidates = 0;
  for (const [k, v] of Object.entries(s.data)) {
    if (!(k.endsWith('.crt') || k.endsWith('.pem') || v.includes('-----BEGIN'))) continue;
    candidates++;
    for (const block of v.match(PEM_BLOCK) ?? []) {
      try {
        new X509Certificate(block);
        pems.push(block);
      } catch {
        // not a certificate
      }
    }
  }
  return { pems, invalid: candidates === 0 || pems.length === 0 };
}
