// What a Secret gives the proxy to inject, by its type.
import { expect } from 'chai';
import {
  authorizationHeader,
  credentialsFingerprint,
  credentialsOf,
  resolveSecret,
  usernamePassword,
  type RawSecret,
} from '../../../core/connector/index.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (type: string | undefined, data: Record<string, string>): RawSecret => ({
  metadata: { name: 's', namespace: 'ns' },
  type,
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
const withSecret = (raw: RawSecret | undefined, ref: { name: string; namespace?: string } | null = { name: 's' }) =>
  credentialsOf(
    resolveSecret(
      { metadata: { namespace: 'ns', name: 'c' }, spec: ref ? { auth: { name: 'a', secretRef: ref } } : {} },
      () => raw,
    ),
  );

describe('core/connector: credentials', () => {
  it('no secretRef: anonymous', () =>
    expect(withSecret(undefined, null)).to.deep.equal({ ok: true, credentials: { kind: 'anonymous' } }));
  const table: Array<[string, RawSecret | undefined, ReturnType<typeof withSecret>]> = [
    [
      'basic-auth',
      secret('kubernetes.io/basic-auth', { username: 'u', password: 'p' }),
      { ok: true, credentials: { kind: 'basic', username: 'u', password: 'p' } },
    ],
    [
      'basic-auth with a password only',
      secret('kubernetes.io/basic-auth', { password: 'p' }),
      { ok: true, credentials: { kind: 'basic', username: '', password: 'p' } },
    ],
    [
      'basic-auth with neither',
      secret('kubernetes.io/basic-auth', { other: 'x' }),
      { ok: false, message: 'Secret ns/s has neither "username" nor "password"' },
    ],
    [
      'bearer-token',
      secret('connectors.cpaas.io/bearer-token', { token: 't' }),
      { ok: true, credentials: { kind: 'bearer', token: 't' } },
    ],
    [
      'bearer-token without token',
      secret('connectors.cpaas.io/bearer-token', {}),
      { ok: false, message: 'Secret ns/s has no "token"' },
    ],
    [
      'Opaque',
      secret(undefined, { k: 'v' }),
      { ok: true, credentials: { kind: 'data', secretType: 'Opaque', data: { k: 'v' } } },
    ],
    [
      'a registry account',
      secret('cpaas.io/distribution-registry-token', { username: 'u', password: 'p' }),
      {
        ok: true,
        credentials: {
          kind: 'data',
          secretType: 'cpaas.io/distribution-registry-token',
          data: { username: 'u', password: 'p' },
        },
      },
    ],
    ['a missing Secret', undefined, { ok: false, message: 'Secret "s" of namespace "ns" not found' }],
  ];
  for (const [what, raw, want] of table) it(what, () => expect(withSecret(raw)).to.deep.equal(want));

  it('a Secret of another namespace is refused, whatever it holds', () => {
    const r = withSecret(secret('kubernetes.io/basic-auth', { username: 'u', password: 'p' }), {
      name: 's',
      namespace: 'other',
    });
    expect(r).to.deep.include({ ok: false });
    expect(!r.ok && r.message).to.match(/only Secrets of the Connector's namespace can be used/);
  });

  it('headers, user name and password, fingerprints', () => {
    expect(authorizationHeader({ kind: 'basic', username: 'u', password: 'p' })).to.equal('Basic dTpw');
    expect(authorizationHeader({ kind: 'bearer', token: 't' })).to.equal('Bearer t');
    expect(authorizationHeader({ kind: 'data', secretType: 'Opaque', data: {} })).to.equal(undefined);
    expect(usernamePassword({ kind: 'data', secretType: 'x', data: { username: 'u', password: 'p' } })).to.deep.equal({
      username: 'u',
      password: 'p',
    });
    expect(usernamePassword({ kind: 'data', secretType: 'x', data: { token: 't' } })).to.equal(undefined);
    expect(usernamePassword({ kind: 'anonymous' })).to.equal(undefined);
    const a = credentialsFingerprint({ kind: 'basic', username: 'u', password: 'p' });
    expect(a).to.match(/^[0-9a-f]{16}$/);
    expect(credentialsFingerprint({ kind: 'basic', username: 'u', password: 'q' })).to.not.equal(a);
    expect(a).to.not.contain('p');
  });
});
