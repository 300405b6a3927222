// Small X.509 helpers over @peculiar/x509 and WebCrypto: certificate authorities, serving and client
// certificates, PEM encoding. Used by the embedded control plane (its PKI), the webhook (serving
// certificates and their rotation) and the proxy (per-host certificates for HTTPS interception).
// ECDSA P-256 by default (key generation takes well under a millisecond); RSA 2048 on request.
// @peculiar/x509 v2 resolves its services through tsyringe, which needs a Reflect metadata polyfill
// loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048';

const EC_GEN: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const RSA_GEN: RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};

function genParams(alg: KeyAlgorithm): EcKeyGenParams | RsaHashedKeyGenParams {
  return alg === 'rsa-2048' ? RSA_GEN : EC_GEN;
}

function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  return key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

/** A new extractable key pair (so it can be written as PEM). */
export async function generateKeyPair(alg: KeyAlgorithm = 'ecdsa-p256'): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(genParams(alg), true, ['sign', 'verify']);
}

// ---------------------------------------------------------------------------------------------------
// PEM

/** PEM text of one DER block. */
export function derToPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** Every PEM block in a text, in order. */
export function decodePem(pem: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem))
    out.push({ label: m[1], der: new Uint8Array(Buffer.from(m[2].replace(/\s+/g, ''), 'base64')) });
  return out;
}

/** PKCS#8 `PRIVATE KEY` PEM (what Go's tls and Kubernetes' keyutil accept for RSA and ECDSA). */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  let pem = keyPemCache.get(key);
  if (!pem) {
    pem = derToPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
    keyPemCache.set(key, pem);
  }
  return pem;
}

const keyPemCache = new WeakMap<CryptoKey, string>();

/** SPKI `PUBLIC KEY` PEM. */
export async function publicKeyToPem(key: CryptoKey): Promise<string> {
  return derToPem(await webcrypto.subtle.exportKey('spki', key), 'PUBLIC KEY');
}

/** Import a PKCS#8 `PRIVATE KEY` PEM (ECDSA P-256 or RSA) as a signing key, with its public key. */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKeyPair> {
  const block = decodePem(pem).find((b) => b.label === 'PRIVATE KEY');
  if (!block) throw new Error('no PKCS#8 "PRIVATE KEY" PEM block found');
  let privateKey: CryptoKey;
  try {
    privateKey = await webcrypto.subtle.importKey('pkcs8', block.der, EC_GEN, true, ['sign']);
  } catch {
    privateKey = await webcrypto.subtle.importKey(
      'pkcs8',
      block.der,
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      true,
      ['sign'],
    );
  }
  // Derive the public key through JWK (drop the private parts).
  const jwk = await webcrypto.subtle.exportKey('jwk', privateKey);
  const pub = { ...jwk };
  for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'key_ops'] as const) delete pub[privatePart];
  const publicKey = await webcrypto.subtle.importKey('jwk', pub, privateKey.algorithm, true, ['verify']);
  return { privateKey, publicKey };
}

export function certificateToPem(cert: x509.X509Certificate): string {
  return derToPem(cert.rawData, 'CERTIFICATE');
}

export function parseCertificatePem(pem: string): x509.X509Certificate {
  const block = decodePem(pem).find((b) => b.label === 'CERTIFICATE');
  if (!block) throw new Error('no CERTIFICATE PEM block found');
  return new x509.X509Certificate(block.der);
}

// ---------------------------------------------------------------------------------------------------
// Certificates

export interface CertificateAuthority {
  cert: x509.X509Certificate;
  certPem: string;
  keys: CryptoKeyPair;
  keyPem: string;
}

export interface IssuedCertificate {
  cert: x509.X509Certificate;
  certPem: string;
  keys: CryptoKeyPair;
  keyPem: string;
  /** The issuing CA's certificate, for chains and trust bundles. */
  caPem: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CommonOptions {
  /** Validity in seconds; defaults depend on the kind of certificate. */
  validitySeconds?: number;
  /** Key algorithm for a newly generated key (ignored when `keys` is given). */
  keyAlgorithm?: KeyAlgorithm;
  /** Reuse this key pair instead of generating one (e.g. one leaf key for many per-host certificates). */
  keys?: CryptoKeyPair;
}

const DAY = 86_400;
/** Backdate notBefore a little so clocks slightly behind still accept a fresh certificate. */
const BACKDATE_MS = 5 * 60_000;

function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive
  bytes[0] |= 0x01; // no leading zero byte
  return Buffer.from(bytes).toString('hex');
}

/** Escape a value for an RFC 4514 distinguished name string. */
function rdnValue(v: string): string {
  return v.replace(/([,+"\\<>;=#])/g, '\\$1').replace(/^ | $/g, '\\ ');
}

function distinguishedName(commonName: string, organizations: string[] = []): string {
  return [`CN=${rdnValue(commonName)}`, ...organizations.map((o) => `O=${rdnValue(o)}`)].join(', ');
}

function validity(seconds: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + seconds * 1000) };
}

export interface CAOptions extends CommonOptions {
  commonName: string;
  organizations?: string[];
}

/** A self-signed CA (default validity 10 years). */
export async function createCA(opts: CAOptions): Promise<CertificateAuthority> {
  const keys = opts.keys ?? (await generateKeyPair(opts.keyAlgorithm));
  const name = distinguishedName(opts.commonName, opts.organizations);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name,
    ...validity(opts.validitySeconds ?? 3650 * DAY),
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, certPem: certificateToPem(cert), keys, keyPem: await privateKeyToPem(keys.privateKey) };
}

/** A CA from its PEM certificate and PKCS#8 key (e.g. kept in a Secret). */
export async function loadCA(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  return { cert: parseCertificatePem(certPem), certPem, keys: await importPrivateKeyPem(keyPem), keyPem };
}

async function issue(
  ca: CertificateAuthority,
  subject: string,
  extensions: x509.Extension[],
  opts: CommonOptions,
  defaultSeconds: number,
): Promise<IssuedCertificate> {
  const keys = opts.keys ?? (await generateKeyPair(opts.keyAlgorithm));
  const { notBefore, notAfter } = validity(opts.validitySeconds ?? defaultSeconds);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: signingAlgorithm(ca.keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return {
    cert,
    certPem: certificateToPem(cert),
    keys,
    keyPem: await privateKeyToPem(keys.privateKey),
    caPem: ca.certPem,
    notBefore,
    notAfter,
  };
}

export interface ServingOptions extends CommonOptions {
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Defaults to the first DNS name or IP address. */
  commonName?: string;
  /** Also allow client authentication with this certificate. */
  clientAuth?: boolean;
}

/** A TLS server certificate for the given DNS names and IP addresses (default validity 1 year). */
export async function issueServingCert(ca: CertificateAuthority, opts: ServingOptions): Promise<IssuedCertificate> {
  const dnsNames = opts.dnsNames ?? [];
  const ips = opts.ipAddresses ?? [];
  if (!dnsNames.length && !ips.length)
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  const san: x509.JsonGeneralName[] = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const usages = [x509.ExtendedKeyUsage.serverAuth, ...(opts.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [])];
  return issue(
    ca,
    distinguishedName(opts.commonName ?? dnsNames[0] ?? ips[0]),
    [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      new x509.SubjectAlternativeNameExtension(san, false),
    ],
    opts,
    365 * DAY,
  );
}

export interface ClientOptions extends CommonOptions {
  /** Kubernetes user name. */
  commonName: string;
  /** Kubernetes groups (e.g. `system:masters`). */
  organizations?: string[];
}

/** A TLS client certificate: CN is the user, O the groups (default validity 1 year). */
export async function issueClientCert(ca: CertificateAuthority, opts: ClientOptions): Promise<IssuedCertificate> {
  return issue(
    ca,
    distinguishedName(opts.commonName, opts.organizations),
    [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    ],
    opts,
    365 * DAY,
  );
}

// ---------------------------------------------------------------------------------------------------
// Per-name certificate cache (proxy interception, webhook rotation)

let sharedLeafKeys: Promise<CryptoKeyPair> | undefined;

/**
 * One ECDSA key pair per process for leaf certificates that only need to differ by name (as HTTPS
 * interception proxies do): saves a key generation and a PKCS#8 export per certificate.
 */
export function sharedLeafKeyPair(): Promise<CryptoKeyPair> {
  sharedLeafKeys ??= generateKeyPair('ecdsa-p256');
  return sharedLeafKeys;
}

export interface ServingCertCacheOptions {
  /** Validity of each issued certificate in seconds (default 1 day). */
  validitySeconds?: number;
  /** Re-issue when less than this fraction of the validity remains (default 1/3). */
  renewFraction?: number;
  /** Most names kept (least recently used dropped first; default 1000). */
  maxEntries?: number;
  /** Use one shared leaf key for all names (default true). */
  shareKey?: boolean;
}

/**
 * Serving certificates by host name or IP, issued on first use, shared by concurrent callers,
 * re-issued before they expire.
 */
export class ServingCertCache {
  private readonly ca: CertificateAuthority;
  private readonly opts: Required<ServingCertCacheOptions>;
  private readonly entries = new Map<string, Promise<IssuedCertificate>>();

  constructor(ca: CertificateAuthority, opts: ServingCertCacheOptions = {}) {
    this.ca = ca;
    this.opts = { validitySeconds: DAY, renewFraction: 1 / 3, maxEntries: 1000, shareKey: true, ...opts };
  }

  async get(host: string): Promise<IssuedCertificate> {
    const name = host.toLowerCase();
    const existing = this.entries.get(name);
    if (existing) {
      const cert = await existing.catch(() => undefined);
      const renewAt = cert && cert.notAfter.getTime() - this.opts.renewFraction * this.opts.validitySeconds * 1000;
      if (cert && renewAt && Date.now() < renewAt) {
        this.entries.delete(name);
        this.entries.set(name, existing); // most recently used last
        return cert;
      }
      if (this.entries.get(name) === existing) this.entries.delete(name);
    }
    const pending = this.entries.get(name);
    if (pending) return pending;
    const isIp = /^[0-9.]+$/.test(name) || name.includes(':');
    const created = (async () =>
      issueServingCert(this.ca, {
        ...(isIp ? { ipAddresses: [name.replace(/^\[|\]$/g, '')] } : { dnsNames: [name] }),
        validitySeconds: this.opts.validitySeconds,
        keys: this.opts.shareKey ? await sharedLeafKeyPair() : undefined,
      }))();
    this.entries.set(name, created);
    created.catch(() => this.entries.delete(name));
    while (this.entries.size > this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return created;
  }
}
