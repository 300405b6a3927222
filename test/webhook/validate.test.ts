// Pure rules of the validating webhook: Connectors (addresses, the same-namespace Secret rule, against their
// class) and ConnectorClasses, with Rego compiled by the real opa; and the Connector handler's lookups.
import { expect } from 'chai';
import type { Connector, ConnectorClass } from '../../core/api/index.ts';
import type { AdmissionRequest } from '../../webhook/admission.ts';
import { handlers, PATHS } from '../../webhook/handlers.ts';
import type { Lookups } from '../../webhook/lookups.ts';
import { compileRego, RegoCompileError } from '../../core/opa/index.ts';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import { validateConnector } from '../../webhook/validate/connector.ts';
import { validateConnectorClass } from '../../webhook/validate/connectorclass.ts';

const cls = (spec: ConnectorClass['spec']): ConnectorClass => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'ConnectorClass',
  metadata: { name: 'tool' },
  spec,
});
const connector = (spec: Partial<Connector['spec']>): Connector => ({
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name: 'c', namespace: 'ns' },
  spec: { connectorClassName: 'tool', address: 'https://tool.example.com', ...spec },
});

const toolClass = cls({
  addressExtensions: [{ name: 'api' }, { name: 'web', default: 'https://web.example.com' }],
  params: [{ name: 'sslVerify', default: 'true' }, { name: 'org' }],
  auth: {
    types: [
      { name: 'basicAuth', secretType: 'kubernetes.io/basic-auth', optional: true },
      { name: 'apiKey', secretType: 'example.com/api-key', params: [{ name: 'key' }] },
    ],
  },
  authProbes: [{ authName: 'basicAuth', params: [{ name: 'repository' }], probe: { http: { path: '/' } } }],
});
const ok = {
  addressExtensions: [{ name: 'api', value: 'https://api.example.com' }],
  params: [{ name: 'org', value: 'o' }],
  auth: { name: 'basicAuth', params: [{ name: 'repository', value: 'o/r.git' }] },
};

describe('webhook: Connector validation', () => {
  it('accepts a valid Connector', () => {
    expect(validateConnector(connector(ok), toolClass).errors).to.deep.equal([]);
  });

  const cases: Array<{
    name: string;
    spec: Partial<Connector['spec']>;
    secret?: { type?: string; keys: string[] };
    error: string;
  }> = [
    {
      name: 'a required extension missing',
      spec: { ...ok, addressExtensions: [] },
      error:
        'spec.addressExtensions: required extension "api" is missing (ConnectorClass "tool" declares it without a default)',
    },
    {
      name: 'an undeclared extension',
      spec: { ...ok, addressExtensions: [...ok.addressExtensions, { name: 'foo', value: 'https://foo.example.com' }] },
      error: 'spec.addressExtensions[1].name: "foo" is not declared by ConnectorClass "tool" (declared: api, web)',
    },
    {
      name: 'a duplicate extension',
      spec: { ...ok, addressExtensions: [...ok.addressExtensions, { name: 'api', value: 'https://api2.example.com' }] },
      error: 'spec.addressExtensions[1].name: duplicate extension "api" (also at spec.addressExtensions[0])',
    },
    {
      name: 'a value equal to spec.address',
      spec: { ...ok, addressExtensions: [{ name: 'api', value: 'https://tool.example.com/' }] },
      error: 'spec.addressExtensions[0].value: must differ from spec.address (https://tool.example.com)',
    },
    {
      name: 'ftp://x',
      spec: { ...ok, addressExtensions: [{ name: 'api', value: 'ftp://x' }] },
      error: 'spec.addressExtensions[0].value: "ftp://x" is not an http:// or https:// URL',
    },
    {
      name: 'an extension that no URL parser reads',
      spec: { ...ok, addressExtensions: [{ name: 'api', value: 'http://[x' }] },
      error: 'spec.addressExtensions[0].value: "http://[x" is not a valid URL',
    },
    {
      name: 'spec.address that no URL parser reads',
      spec: { ...ok, address: 'http://[x' },
      error: 'spec.address: "http://[x" is not a valid URL',
    },
    {
      name: 'spec.address without a host',
      spec: { ...ok, address: 'http://' },
      error: 'spec.address: "http://" is not a valid URL',
    },
    {
      name: 'spec.address of another scheme',
      spec: { ...ok, address: 'ssh://git.example.com' },
      error: 'spec.address: "ssh://git.example.com" is not an http:// or https:// URL',
    },
    {
      name: 'spec.address with credentials in it',
      spec: { ...ok, address: 'https://me:secret@tool.example.com' },
      error:
        'spec.address: "https://xxxxx:xxxxx@tool.example.com/" must not carry credentials: put them in the Secret of spec.auth.secretRef',
    },
    {
      name: 'a secretRef into another namespace',
      spec: { ...ok, auth: { ...ok.auth, secretRef: { name: 's', namespace: 'other' } } },
      error:
        'spec.auth.secretRef.namespace "other" is not the Connector\'s namespace "ns": only Secrets of the Connector\'s namespace can be used',
    },
    {
      name: 'an empty value',
      spec: { ...ok, addressExtensions: [{ name: 'api', value: '' }] },
      error: 'spec.addressExtensions[0].value: must not be empty',
    },
    {
      name: 'an undeclared param',
      spec: {
        ...ok,
        params: [
          { name: 'org', value: 'o' },
          { name: 'colour', value: 'x' },
        ],
      },
      error: 'spec.params[1].name: "colour" is not declared by ConnectorClass "tool" (declared: sslVerify, org)',
    },
    {
      name: 'a required param missing',
      spec: { ...ok, params: [] },
      error: 'spec.params: required parameter "org" is missing (ConnectorClass "tool" declares it without a default)',
    },
    {
      name: 'an unknown auth name',
      spec: { ...ok, auth: { name: 'basic-auth' } },
      error: 'spec.auth.name: "basic-auth" is not an auth type of ConnectorClass "tool" (one of: basicAuth, apiKey)',
    },
    {
      name: 'a missing secretRef for a non-optional type',
      spec: { ...ok, auth: { name: 'apiKey' } },
      error: 'spec.auth.secretRef: required: auth type "apiKey" of ConnectorClass "tool" is not optional',
    },
    {
      name: 'secret type mismatch',
      spec: { ...ok, auth: { ...ok.auth, secretRef: { name: 's' } } },
      secret: { type: 'Opaque', keys: ['username'] },
      error:
        'spec.auth.secretRef: Secret "s" has type "Opaque", but auth type "basicAuth" of connectorclass "tool" requires "kubernetes.io/basic-auth"',
    },
    {
      name: 'secret without a declared key',
      spec: { ...ok, auth: { name: 'apiKey', secretRef: { name: 's' } } },
      secret: { type: 'example.com/api-key', keys: ['other'] },
      error: 'spec.auth.secretRef: Secret "s" is missing key "key" required by auth type "apiKey"',
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      expect(validateConnector(connector(c.spec), toolClass, c.secret).errors).to.include(c.error);
    });
  }

  it('a matching secret, or none yet, is fine', () => {
    expect(
      validateConnector(connector({ ...ok, auth: { ...ok.auth, secretRef: { name: 's' } } }), toolClass, {
        type: 'kubernetes.io/basic-auth',
        keys: ['username', 'password'],
      }).errors,
    ).to.deep.equal([]);
    expect(
      validateConnector(connector({ ...ok, auth: { ...ok.auth, secretRef: { name: 's' } } }), toolClass, undefined)
        .errors,
    ).to.deep.equal([]);
  });

  it('auth probe params are optional: a missing one is a warning saying what is checked instead', () => {
    const r = validateConnector(connector({ ...ok, auth: { name: 'basicAuth' } }), toolClass);
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings).to.deep.equal([
      'spec.auth.params: "repository" not given: ConnectorClass "tool" spec.authProbes[0] for "basicAuth" ' +
        'uses it to check the credentials, which are checked at the address root only without it',
    ]);
  });

  it('the reference git Connector without spec.auth.params is valid against the built-in git class', () => {
    const git = loadBuiltinClass('git');
    const r = validateConnector(
      connector({
        connectorClassName: 'git',
        address: 'https://github.com',
        auth: { name: 'basicAuth', secretRef: { name: 'github-secret' } },
      }),
      git,
      { type: 'kubernetes.io/basic-auth', keys: ['username', 'password'] },
    );
    expect(r.errors).to.deep.equal([]);
  });

  it('an OCI Connector takes a kubernetes.io/basic-auth Secret (documented equivalent), not an Opaque one', () => {
    const oci = loadBuiltinClass('oci');
    const c = connector({
      connectorClassName: 'oci',
      address: 'https://harbor.example.com',
      auth: { name: 'tokenAuth', secretRef: { name: 'harbor-secret' } },
    });
    expect(
      validateConnector(c, oci, { type: 'kubernetes.io/basic-auth', keys: ['username', 'password'] }).errors,
    ).to.deep.equal([]);
    expect(validateConnector(c, oci, { type: 'Opaque', keys: ['username', 'password'] }).errors).to.deep.equal([
      'spec.auth.secretRef: Secret "harbor-secret" has type "Opaque", but auth type "tokenAuth" of ' +
        'connectorclass "oci" requires "cpaas.io/distribution-registry-token" or "kubernetes.io/basic-auth"',
    ]);
  });

  it('the handler never reads a Secret of another namespace: refused without a lookup, its type unnamed', async () => {
    const asked: string[] = [];
    const lookups = {
      connectorClass: () => Promise.resolve(toolClass),
      secret: (namespace: string, name: string) => {
        asked.push(`${namespace}/${name}`);
        return Promise.resolve({ type: 'kubernetes.io/ssh-auth', keys: ['ssh-privatekey'] });
      },
    } as unknown as Lookups;
    const h = handlers({ lookups, flags: { enabled: () => false } as never, systemNamespace: 'connectors-system' });
    const review = (secretRef: { name: string; namespace?: string }): AdmissionRequest => ({
      uid: 'u',
      kind: { group: 'connectors.alauda.io', version: 'v1alpha1', kind: 'Connector' },
      resource: { group: 'connectors.alauda.io', version: 'v1alpha1', resource: 'connectors' },
      namespace: 'ns',
      operation: 'CREATE',
      object: connector({ ...ok, auth: { ...ok.auth, secretRef } }),
    });
    const foreign = await h[PATHS.connectors](review({ name: 'deploy-key', namespace: 'kube-system' }));
    expect(foreign.allowed).to.equal(false);
    expect(foreign.status?.message).to.include(
      'spec.auth.secretRef.namespace "kube-system" is not the Connector\'s namespace "ns"',
    );
    expect(foreign.status?.message).to.not.match(/ssh-auth|has type/);
    expect(asked).to.deep.equal([]);
    const local = await h[PATHS.connectors](review({ name: 'deploy-key' }));
    expect(local.status?.message).to.include('Secret "deploy-key" has type "kubernetes.io/ssh-auth"');
    expect(asked).to.deep.equal(['ns/deploy-key']);
  });

  it('an unknown class: allowed with a warning, extension shape still checked', () => {
    const r = validateConnector(connector({ connectorClassName: 'nope' }), undefined);
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings[0]).to.match(/ConnectorClass "nope" not found.*ConnectorClassNotFound/);
    expect(
      validateConnector(connector({ addressExtensions: [{ name: 'a', value: 'ftp://x' }] }), undefined).errors,
    ).to.have.length(1);
  });

  it('the OCI quick start Connector is valid against the built-in oci class', () => {
    const oci = loadBuiltinClass('oci');
    const seed = connector({
      connectorClassName: 'oci',
      address: 'https://harbor.example.com',
      auth: { name: 'tokenAuth', secretRef: { name: 'harbor-secret' } },
    });
    expect(
      validateConnector(seed, oci, { type: 'cpaas.io/distribution-registry-token', keys: ['password', 'username'] }),
    ).to.deep.equal({ errors: [], warnings: [] });
  });
});

describe('webhook: ConnectorClass validation', function () {
  this.timeout(60_000);
  const checkRego = async (source: string, opts: { entrypoint: string; fileName: string }) => {
    await compileRego(source, opts);
  };
  const isPolicyError = (e: unknown) => e instanceof RegoCompileError;
  const v = (spec: ConnectorClass['spec']) => validateConnectorClass(cls(spec), { checkRego, isPolicyError });

  it('accepts the built-in oci class, whose templates parse', async () => {
    expect(await v(loadBuiltinClass('oci').spec)).to.deep.equal({ errors: [], warnings: [] });
  });

  const cases: Array<{ name: string; spec: ConnectorClass['spec']; error: RegExp }> = [
    {
      name: 'duplicate auth type names',
      spec: {
        auth: {
          types: [
            { name: 'a', secretType: 'Opaque' },
            { name: 'a', secretType: 'Opaque' },
          ],
        },
      },
      error: /^spec\.auth\.types\[1\]\.name: duplicate auth type "a" \(also at spec\.auth\.types\[0\]\)$/,
    },
    {
      name: 'a header without name',
      spec: { livenessProbe: { http: { path: '/', httpHeaders: [{ value: 'x' }] as never } } },
      error: /^spec\.livenessProbe\.http\.httpHeaders\[0\]\.name: must be a non-empty string$/,
    },
    {
      name: 'a header map with a non-string value',
      spec: { livenessProbe: { http: { path: '/', httpHeaders: { 'X-A': 1 } as never } } },
      error: /^spec\.livenessProbe\.http\.httpHeaders\.X-A: must be a string/,
    },
    {
      name: 'headers that are neither list nor map',
      spec: { livenessProbe: { http: { path: '/', httpHeaders: 'Authorization: x' as never } } },
      error: /^spec\.livenessProbe\.http\.httpHeaders: must be a list of \{name, value\} or a map/,
    },
    {
      name: 'a bad configuration file name',
      spec: { configurations: [{ name: 'c', data: { 'a/b': 'x' } }] },
      error: /^spec\.configurations\[0\]\.data\["a\/b"\]: file name may contain only letters, digits/,
    },
    {
      name: 'a configuration template that does not parse',
      spec: { configurations: [{ name: 'c', data: { 'config.json': '{{ .context.token | nosuchfunc }}' } }] },
      error:
        /^spec\.configurations\[0\]\.data\["config\.json"\]: template: config\.json:1: function "nosuchfunc" not defined$/,
    },
    {
      name: 'an auth probe path template that does not parse',
      spec: {
        auth: { types: [{ name: 'a', secretType: 'Opaque' }] },
        authProbes: [{ authName: 'a', probe: { http: { path: '/{{ if .Secret }}' } } }],
      },
      error: /^spec\.authProbes\[0\]\.probe\.http\.path: template: path:1: unexpected EOF$/,
    },
    {
      name: 'an auth probe header template that does not parse',
      spec: {
        auth: { types: [{ name: 'a', secretType: 'Opaque' }] },
        authProbes: [
          {
            authName: 'a',
            probe: {
              http: { path: '/', httpHeaders: [{ name: 'Authorization', value: '{{ .Secret.StringData.token ' }] },
            },
          },
        ],
      },
      error: /^spec\.authProbes\[0\]\.probe\.http\.httpHeaders\[0\]\.value: template: /,
    },
    {
      name: 'a generator that does not parse',
      spec: {
        auth: { types: [{ name: 'a', secretType: 'Opaque', generator: { rego: 'package proxy\nauth = {\n' } }] },
      },
      error: /^spec\.auth\.types\[0\]\.generator\.rego: generator\.rego:\d+: rego_parse_error/,
    },
    {
      name: 'a generator without the auth rule',
      spec: {
        auth: { types: [{ name: 'a', secretType: 'Opaque', generator: { rego: 'package proxy\nfoo := 1\n' } }] },
      },
      error: /^spec\.auth\.types\[0\]\.generator\.rego: .*no rule "auth"/,
    },
    {
      name: 'an authExtractor with an unsupported built-in',
      spec: {
        proxy: {
          uri: 'http://p',
          authExtractor: {
            rego: 'package proxy\nauth := {"token": http.send({"method": "get", "url": "http://x"}).body}\n',
          },
        },
      },
      error:
        /^spec\.proxy\.authExtractor\.rego: authExtractor\.rego:\d+: rego_type_error: undefined function http\.send/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, async () => {
      const r = await v(c.spec);
      expect(
        r.errors.some((e) => c.error.test(e)),
        r.errors.join('\n'),
      ).to.equal(true);
    });
  }

  it('accepts map-form headers (the reference form), templated headers and a compiling generator', async () => {
    const r = await v({
      auth: {
        types: [
          {
            name: 'a',
            secretType: 'Opaque',
            params: [{ name: 'token' }],
            generator: {
              rego: 'package proxy\nauth = {"position": "header", "auth": {"Authorization": concat(" ", ["Bearer", input.data.token])}}\n',
            },
          },
        ],
      },
      authProbes: [
        {
          authName: 'a',
          probe: { http: { path: '/api', httpHeaders: { Authorization: '{{ .Secret.StringData.token }}' } } },
        },
      ],
    });
    expect(r).to.deep.equal({ errors: [], warnings: [] });
  });

  it('an authProbe for an undeclared auth type is a warning (the reference class fragments declare probes alone)', async () => {
    const r = await v({ auth: { types: [{ name: 'a', secretType: 'Opaque' }] }, authProbes: [{ authName: 'b' }] });
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings).to.deep.equal([
      'spec.authProbes[0].authName: "b" is not one of spec.auth.types[].name (a); this probe is never used',
    ]);
  });

  it('a failure to run opa is a warning, not a rejection', async () => {
    const r = await validateConnectorClass(
      cls({ auth: { types: [{ name: 'a', secretType: 'Opaque', generator: { rego: 'package proxy\n' } }] } }),
      {
        checkRego: () => Promise.reject(new Error('spawn opa ENOENT')),
        isPolicyError,
      },
    );
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings[0]).to.match(/not checked \(spawn opa ENOENT\)/);
  });
});
