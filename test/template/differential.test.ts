// Differential tests: every case of the committed corpus (test/template/corpus/*.json) is rendered
// by the real Go text/template + sprig v3.3.0 (the oracle, built once and cached) and by the
// TypeScript engine; outputs must be identical, and errors must carry Go's exact message.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseJSON } from '../../core/template/index.ts';
import { runOracle, type OracleResult } from '../oracles/gotemplate/oracle.ts';
import { execTestFuncs } from './exectest-funcs.ts';

interface CorpusCase {
  name: string;
  template: string;
  data: string;
  funcs?: 'sprig' | 'exectest';
  compare?: 'exact' | 'shape' | 'lines';
}

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
const groups = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({
    group: f.replace(/\.json$/, ''),
    cases: JSON.parse(readFileSync(join(CORPUS, f), 'utf8')) as CorpusCase[],
  }));

const TEMPLATE_NAME = 'tpl';
const EXEC_FUNCS = execTestFuncs();

export function renderTS(c: CorpusCase): OracleResult {
  try {
    const tpl = parse(
      TEMPLATE_NAME,
      c.template,
      c.funcs === 'exectest' ? { sprig: false, funcs: EXEC_FUNCS } : undefined,
    );
    const data = c.data.trim() === '' ? undefined : parseJSON(c.data);
    return { output: tpl.execute(data) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function sortedChars(s: string): string {
  return [...s].sort().join('');
}

describe('template engine vs Go text/template + sprig v3.3.0 (differential)', function () {
  this.timeout(300_000);
  const all = groups.flatMap((g) => g.cases);
  let results: OracleResult[] = [];

  before(async function () {
    this.timeout(900_000);
    results = await runOracle(
      all.map((c) => ({ name: TEMPLATE_NAME, template: c.template, data: c.data, funcs: c.funcs ?? 'sprig' })),
    );
    expect(results).to.have.length(all.length);
  });

  let index = 0;
  for (const g of groups) {
    describe(g.group, () => {
      for (const c of g.cases) {
        const i = index++;
        it(c.name, () => {
          const want = results[i];
          const got = renderTS(c);
          const ctx = `case ${c.name}\ntemplate: ${JSON.stringify(c.template)}\ndata: ${c.data.slice(0, 300)}`;
          if (want.error !== undefined) {
            expect(
              got.error,
              `${ctx}\nGo failed with: ${want.error}\nTS rendered: ${JSON.stringify(got.output)}`,
            ).to.equal(want.error);
            return;
          }
          expect(got.error, `${ctx}\nTS failed, Go rendered ${JSON.stringify(want.output)}`).to.equal(undefined);
          switch (c.compare ?? 'exact') {
            case 'exact':
              expect(got.output, ctx).to.equal(want.output);
              break;
            case 'lines':
              expect(sortedChars(got.output!), ctx).to.equal(sortedChars(want.output!));
              break;
            case 'shape': {
              const a = got.output!.length;
              const b = want.output!.length;
              expect(
                Math.abs(a - b),
                `${ctx}\nGo: ${JSON.stringify(want.output)}\nTS: ${JSON.stringify(got.output)}`,
              ).to.be.at.most(Math.max(4, b * 0.1));
              break;
            }
          }
        });
      }
    });
  }
});
