// The authProbe template data (.Connector as the Go struct view, .Secret nil or a Secret) with our Go
// template engine, and the built-in git class's gitconfig for one and for several connectors.
import { expect } from 'chai';
import { parse } from '../../core/template/index.ts';
import { templateData } from '../../controller/templatedata.ts';
import { planProbe, ProbeBuildError } from '../../controller/decide.ts';
import { loadBuiltinClass } from '../../connectorclasses/index.ts';
import type { Connector } from '../../core/api/index.ts';

const connector: Connector = {
  apiVersion: 'connectors.alauda.io/v1alpha1',
  kind: 'Connector',
  metadata: { name: 'git-connector', namespace: 'demo', generation: 3 },
  spec: {
    connectorClassName: 'git',
    address: 'https://h.example.com/gitlab',
    auth: {
      name: 'basicAuth',
      secretRef: { name: 'git-auth' },
      params: [{ name: 'repository', value: 'org/repo.git' }],
    },
  },
};
const secret = {
  name: 'git-auth',
  namespace: 'demo',
  type: 'kubernetes.io/basic-auth',
  data: { username: 'u', password: 'p' },
};

describe('controller: probe templates and the git class configuration', () => {
  it('the git authProbe renders GET <addr>/org/repo.git/info/refs?service=git-upload-pack with Authorization: Basic dTpw', () => {
    const git = loadBuiltinClass('git');
    const plan = planProbe(git.spec.authProbes![0].probe!, connector, git, {
      what: 'authProbe "basicAuth"',
      templated: true,
      secret,
      systemNamespace: 'sys',
    });
    expect(plan.request.url).to.equal('https://h.example.com/org/repo.git/info/refs?service=git-upload-pack');
    expect(plan.request.method).to.equal('GET');
    expect(plan.request.headers).to.deep.equal([{ name: 'Authorization', value: 'Basic dTpw' }]);
    const anonymous = planProbe(git.spec.authProbes![0].probe!, connector, git, {
      what: 'authProbe "basicAuth"',
      templated: true,
      systemNamespace: 'sys',
    });
    expect(anonymous.request.headers).to.deep.equal([{ name: 'Authorization', value: '' }]);
  });

  it('.Connector is the Go struct view; .Secret is nil without a Secret', () => {
    const d = templateData(connector, secret);
    const r = (t: string, data = d) => parse('t', t).execute(data);
    expect(
      r(
        '{{ .Connector.Name }}/{{ .Connector.ObjectMeta.Namespace }}/{{ .Connector.Spec.Address }}/{{ .Connector.Spec.ConnectorClassName }}',
      ),
    ).to.equal('git-connector/demo/https://h.example.com/gitlab/git');
    expect(
      r('{{ range .Connector.Spec.Auth.Params }}{{ .Name }}={{ .Value.StringVal }} ({{ .Value.Type }}){{ end }}'),
    ).to.equal('repository=org/repo.git (string)');
    expect(r('{{ .Connector.Spec.Auth.SecretRef.Name }} {{ .Connector.ObjectMeta.Generation }}')).to.equal(
      'git-auth 3',
    );
    expect(r('{{ .Secret.Type }} {{ .Secret.StringData.username }} {{ printf "%s" .Secret.Data.password }}')).to.equal(
      'kubernetes.io/basic-auth u p',
    );
    expect(r('{{ if .Secret }}yes{{ else }}no{{ end }}', templateData(connector, undefined))).to.equal('no');
  });

  it('a template error names the authProbe', () => {
    const git = loadBuiltinClass('git');
    const probe = { http: { path: '/{{ .Connector.Spec.Address | nosuchfunc }}' } };
    expect(() =>
      planProbe(probe, connector, git, { what: 'authProbe "basicAuth"', templated: true, systemNamespace: 'sys' }),
    ).to.throw(
      ProbeBuildError,
      /^authProbe "basicAuth": invalid template in path: template: authProbe "basicAuth".path:1: function "nosuchfunc" not defined$/,
    );
  });

  describe('gitconfig', () => {
    const text = loadBuiltinClass('git').spec.configurations!.find((c) => c.name === 'gitconfig')!.data!['.gitconfig'];
    const one = {
      status: { proxyAddress: 'http://c-a.ns.svc.cluster.local' },
      spec: { address: 'https://github.com' },
    };
    const two = {
      status: { proxyAddress: 'http://c-b.ns.svc.cluster.local' },
      spec: { address: 'https://gitlab.com' },
    };
    const b64 = Buffer.from(':tok').toString('base64');
    it('one connector: exactly the reference form', () => {
      const out = parse('.gitconfig', text).execute({ context: { token: 'tok' }, connector: one, connectors: [one] });
      expect(out).to.equal(
        `[http]\n    extraHeader = Authorization: Basic ${b64}\n[url "http://c-a.ns.svc.cluster.local"]\n    insteadOf = https://github.com\n`,
      );
      expect(parse('.gitconfig', text).execute({ context: { token: 'tok' }, connector: one })).to.equal(out);
    });
    it('several connectors: one [url] block each', () => {
      const out = parse('.gitconfig', text).execute({
        context: { token: 'tok' },
        connector: one,
        connectors: [one, two],
      });
      expect(out).to.equal(
        `[http]\n    extraHeader = Authorization: Basic ${b64}\n` +
          `[url "http://c-a.ns.svc.cluster.local"]\n    insteadOf = https://github.com\n` +
          `[url "http://c-b.ns.svc.cluster.local"]\n    insteadOf = https://gitlab.com\n`,
      );
    });
  });
});
