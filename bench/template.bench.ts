// Template engine throughput: renders per second of the seed templates (the CSI .gitconfig, its
// multi-connector `range .connectors` form, and the git auth-probe path), parsed once and executed
// in a loop, against the Go oracle (text/template + sprig v3.3.0) rendering the same templates in a
// loop. Prints a Markdown table with the TS/Go ratio.
//
//   export PATH=$PWD/node_modules/.bin:$PATH && node bench/template.bench.ts [N]
import { parse, parseJSON } from '../core/template/index.ts';
import { benchOracle } from '../test/oracles/gotemplate/oracle.ts';

const N = Number(process.argv[2] ?? 200_000);

const connector = (name: string, addr: string, proxy: string) => ({
  name,
  metadata: { name, namespace: 'default' },
  spec: { address: addr },
  status: { proxyAddress: proxy },
});

const data = JSON.stringify({
  context: { token: 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl' },
  connector: connector('git-a', 'https://github.com', 'http://c-git-a.default.svc.cluster.local'),
  connectors: [
    connector('git-a', 'https://github.com', 'http://proxy-a.default.svc'),
    connector('git-b', 'https://gitlab.com', 'http://proxy-b.default.svc'),
    connector('git-c', 'https://bitbucket.org', 'http://proxy-c.default.svc'),
  ],
  Connector: {
    Spec: {
      Auth: {
        Params: [
          { Name: 'other', Value: { StringVal: 'x' } },
          { Name: 'repository', Value: { StringVal: 'org/repo.git' } },
        ],
      },
    },
  },
});

const cases = [
  {
    name: 'gitconfig (single connector)',
    template:
      '[http]\n    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}\n[url "{{ ' +
      '.connector.status.proxyAddress }}"]\n    insteadOf = {{.connector.spec.address}}\n',
  },
  {
    name: 'gitconfig (range .connectors, 3 items)',
    template:
      '[http]\n    extraHeader = Authorization: Basic {{ printf ":%s" .context.token | b64enc }}\n{{- ' +
      'range .connectors }}\n[url "{{ .status.proxyAddress }}"]\n    insteadOf = {{ .spec.address }}\n{{- ' +
      'end }}\n',
  },
  {
    name: 'git auth-probe path',
    template:
      '/{{- range .Connector.Spec.Auth.Params }}{{- if eq .Name "repository" }}{{ .Value.StringVal }}{{ end }}{{- end }}/info/refs?service=git-upload-pack',
  },
];

function benchTS(template: string): { rps: number; output: string } {
  const tpl = parse('bench', template);
  const d = parseJSON(data);
  let out = '';
  for (let i = 0; i < Math.min(N / 10, 20_000); i++) out = tpl.execute(d); // warm-up (JIT)
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) out = tpl.execute(d);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { rps: N / secs, output: out };
}

const go = await benchOracle(
  cases.map((c) => ({ name: 'bench', template: c.template, data, funcs: 'sprig' as const })),
  N,
);
const rows: string[] = [];
let minRatio = Infinity;
for (const [i, c] of cases.entries()) {
  const ts = benchTS(c.template);
  if (ts.output !== go[i].output)
    throw new Error(`${c.name}: outputs differ\nTS: ${JSON.stringify(ts.output)}\nGo: ${JSON.stringify(go[i].output)}`);
  const ratio = ts.rps / go[i].rendersPerSec;
  minRatio = Math.min(minRatio, ratio);
  rows.push(
    `| ${c.name} | ${Math.round(ts.rps).toLocaleString('en-US')} | ${Math.round(go[i].rendersPerSec).toLocaleString('en-US')} | ${ratio.toFixed(2)} |`,
  );
}
process.stdout.write(`N = ${N} executions per template (parsed once), Node ${process.version}\n\n`);
process.stdout.write(
  '| template | TS renders/s | Go renders/s | TS/Go |\n| --- | --- | --- | --- |\n' + rows.join('\n') + '\n',
);
process.stdout.write(`\nlowest TS/Go ratio: ${minRatio.toFixed(2)} (goal ≥ 0.5)\n`);
