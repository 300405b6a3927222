// A Connector's Secret: the reference and the same-namespace rule, decoding, resolution through a getter,
// and whether a Secret suits the auth type (accepted types with their documented equivalents, keys).
import { expect } from 'chai';
import {
  acceptedSecretTypes,
  decodeSecret,
  lookupSecret,
  referencedSecrets,
  resolveSecret,
  secretProblem,
  secretRefOf,
  type ConnectorLike,
  type RawSecret,
} from '../../../core/connector/index.ts';

const connector = (secretRef?: { name?: string; namespace?: string }, ca?: string): ConnectorLike => ({
  metadata: { namespace: 'ns', name: 'c' },
  spec: {
    ...(secretRef ? { auth: { name: 'basicAuth', secretRef } } : {}),
    ...(ca ? { caCertSecretRef: { name: ca } } : {}),
  },
});
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('core/connector: Secret references', () => {
  const refs: Array<[string, ConnectorLike, ReturnType<typeof secretRefOf>['state'], string?]> = [
    ['no auth', connector(), 'none'],
    ['a secretRef without a name', connector({}), 'none'],
    ['a name: the Connector namespace', connector({ name: 's' }), 'local', 'ns/s'],
    ['its own namespace spelt out', connector({ name: 's', namespace: 'ns' }), 'local', 'ns/s'],
    ['another namespace', connector({ name: 's', namespace: 'other' }), 'foreign', 'other/s'],
  ];
  for (const [what, c, state, at] of refs)
    it(`${what}: ${state}`, () => {
      const r = secretRefOf(c);
      expect(r.state).to.equal(state);
      if (r.state !== 'none') expect(`${r.ref.namespace}/${r.ref.name}`).to.equal(at);
      if (r.state === 'foreign')
        expect(r.message).to.equal(
          'spec.auth.secretRef.namespace "other" is not the Connector\'s namespace "ns": only Secrets of the Connector\'s namespace can be used',
        );
    });

  it('referenced Secrets: the auth Secret when allowed, and the CA Secret', () => {
    expect(referencedSecrets(connector({ name: 's' }, 'ca'))).to.deep.equal([
      { namespace: 'ns', name: 's' },
      { namespace: 'ns', name: 'ca' },
    ]);
    expect(referencedSecrets(connector({ name: 's', namespace: 'other' }))).to.deep.equal([]);
  });

  it('resolution never looks a foreign Secret up', async () => {
    const asked: string[] = [];
    const get = (ns: string, name: string): RawSecret | undefined => {
      asked.push(`${ns}/${name}`);
      return ns === 'ns' && name === 's'
        ? { type: 'kubernetes.io/basic-auth', data: { username: b64('u') } }
        : undefined;
    };
    expect(resolveSecret(connector({ name: 's', namespace: 'other' }), get).state).to.equal('foreign');
    expect(
      (await lookupSecret(connector({ name: 's', namespace: 'other' }), (n, m) => Promise.resolve(get(n, m)))).state,
    ).to.equal('foreign');
    expect(asked).to.deep.equal([]);
    expect(resolveSecret(connector(), get)).to.deep.equal({ state: 'none' });
    const missing = resolveSecret(connector({ name: 'gone' }), get);
    expect(missing).to.deep.include({ state: 'missing', message: 'Secret "gone" of namespace "ns" not found' });
    const found = await lookupSecret(connector({ name: 's' }), (n, m) => Promise.resolve(get(n, m)));
    expect(found.state === 'found' && found.secret).to.deep.include({
      name: 's',
      namespace: 'ns',
      type: 'kubernetes.io/basic-auth',
      data: { username: 'u' },
    });
    expect(asked).to.deep.equal(['ns/gone', 'ns/s']);
  });

  it('decoding: base64 data, stringData wins, type Opaque by default, memoised per object', () => {
    const raw: RawSecret = {
      metadata: { name: 's', namespace: 'ns', resourceVersion: '7' },
      data: { a: b64('1'), b: b64('2') },
      stringData: { b: 'two' },
    };
    const d = decodeSecret(raw);
    expect(d).to.deep.include({
      name: 's',
      namespace: 'ns',
      type: 'Opaque',
      resourceVersion: '7',
      data: { a: '1', b: 'two' },
    });
    expect(decodeSecret(raw)).to.equal(d);
    expect(decodeSecret({ data: {} }, { namespace: 'x', name: 'y' })).to.deep.include({ namespace: 'x', name: 'y' });
  });
});

describe('core/connector: Secret against the auth type', () => {
  const basic = { name: 'basicAuth', secretType: 'kubernetes.io/basic-auth' };
  const registry = {
    name: 'tokenAuth',
    secretType: 'cpaas.io/distribution-registry-token',
    params: [{ name: 'username' }, { name: 'password' }],
  };
  const token = { name: 'token', secretType: 'connectors.cpaas.io/bearer-token' };
  const apiKey = {
    name: 'apiKey',
    secretType: 'example.com/api-key',
    params: [{ name: 'key' }, { name: 'opt', default: 'x' }],
  };
  const opaque = { name: 'custom', secretType: '' };

  it('accepted types: the auth type own, then its documented equivalents', () => {
    expect(acceptedSecretTypes(registry)).to.deep.equal([
      'cpaas.io/distribution-registry-token',
      'kubernetes.io/basic-auth',
    ]);
    expect(acceptedSecretTypes(basic)).to.deep.equal(['kubernetes.io/basic-auth']);
    expect(acceptedSecretTypes(opaque)).to.deep.equal(['Opaque']);
  });

  const cases: Array<
    [string, { type?: string; keys: string[] }, typeof basic & { params?: unknown }, string | undefined]
  > = [
    [
      'basic-auth for basic-auth',
      { type: 'kubernetes.io/basic-auth', keys: ['username', 'password'] },
      basic,
      undefined,
    ],
    [
      'Opaque for basic-auth',
      { type: 'Opaque', keys: ['username'] },
      basic,
      'SecretTypeMismatch: Secret "s" has type "Opaque", but auth type "basicAuth" of connectorclass "tool" requires "kubernetes.io/basic-auth"',
    ],
    ['no type is Opaque', { keys: [] }, opaque, undefined],
    [
      'registry token for an OCI registry',
      { type: 'cpaas.io/distribution-registry-token', keys: ['username', 'password'] },
      registry,
      undefined,
    ],
    [
      'basic-auth for an OCI registry (documented equivalent)',
      { type: 'kubernetes.io/basic-auth', keys: ['username', 'password'] },
      registry,
      undefined,
    ],
    [
      'basic-auth for an OCI registry without a password',
      { type: 'kubernetes.io/basic-auth', keys: ['username'] },
      registry,
      'SecretKeyMissing: Secret "s" is missing key "password" required by auth type "tokenAuth"',
    ],
    [
      'Opaque for an OCI registry',
      { type: 'Opaque', keys: ['username', 'password'] },
      registry,
      'SecretTypeMismatch: Secret "s" has type "Opaque", but auth type "tokenAuth" of connectorclass ' +
        '"tool" requires "cpaas.io/distribution-registry-token" or "kubernetes.io/basic-auth"',
    ],
    [
      'a registry token for basic-auth (not the other way round)',
      { type: 'cpaas.io/distribution-registry-token', keys: ['username', 'password'] },
      basic,
      'SecretTypeMismatch: Secret "s" has type "cpaas.io/distribution-registry-token", but auth type ' +
        '"basicAuth" of connectorclass "tool" requires "kubernetes.io/basic-auth"',
    ],
    [
      'a bearer token without token',
      { type: 'connectors.cpaas.io/bearer-token', keys: [] },
      token,
      'SecretKeyMissing: Secret "s" is missing key "token" required by auth type "token"',
    ],
    [
      'declared params without default',
      { type: 'example.com/api-key', keys: [] },
      apiKey,
      'SecretKeyMissing: Secret "s" is missing key "key" required by auth type "apiKey"',
    ],
    ['declared params, all there', { type: 'example.com/api-key', keys: ['key'] }, apiKey, undefined],
    [
      'several keys missing',
      { type: 'cpaas.io/distribution-registry-token', keys: [] },
      registry,
      'SecretKeyMissing: Secret "s" is missing keys "username" and "password" required by auth type "tokenAuth"',
    ],
  ];
  for (const [what, secret, type, want] of cases)
    it(`${what}: ${want ? want.split(':')[0] : 'fine'}`, () => {
      const p = secretProblem({ name: 's', ...secret }, type as never, 'tool');
      expect(p ? `${p.reason}: ${p.message}` : undefined).to.equal(want);
    });
});
