// CA certificates of a CA Secret: keys ending .crt/.pem or values with a PEM header, certificates only.
import { expect } from 'chai';
import { caCertificatesOf } from '../../../core/connector/index.ts';
import { createCA } from '../../../core/pki/index.ts';

describe('core/connector: CA certificates of a Secret', () => {
  let a: string;
  let b: string;
  before(async () => {
    [a, b] = (await Promise.all([createCA({ commonName: 'a' }), createCA({ commonName: 'b' })])).map((x) =>
      x.certPem.trim(),
    );
  });

  const cases: Array<[string, () => Record<string, string>, number, boolean]> = [
    ['ca.crt with one certificate', () => ({ 'ca.crt': a }), 1, false],
    ['a bundle in tls.pem', () => ({ 'tls.pem': `${a}\n${b}\n` }), 2, false],
    ['any key whose value has a PEM header', () => ({ bundle: a, other: 'x' }), 1, false],
    ['two keys', () => ({ 'a.crt': a, 'b.crt': b }), 2, false],
    ['no candidate key', () => ({ foo: 'bar' }), 0, true],
    ['a .crt that holds no certificate', () => ({ 'ca.crt': 'not a certificate' }), 0, true],
    [
      'a broken block next to a good one',
      () => ({ 'ca.crt': `${a.replace(/\n[^\n]+\n-----END/, '\n-----END')}\n${b}` }),
      1,
      false,
    ],
  ];
  for (const [what, data, count, invalid] of cases)
    it(`${what}: ${count} certificate(s)${invalid ? ', invalid' : ''}`, () => {
      const r = caCertificatesOf({ data: data() });
      expect(r.pems).to.have.length(count);
      expect(r.invalid).to.equal(invalid);
      for (const p of r.pems) expect(p).to.match(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/);
    });
});
