// Every YAML document of the seed specifications is accepted by the real API server as written (once
// the indentation that some seeds lost is restored).
import { expect } from 'chai';
import {
  cluster,
  createNamespace,
  kubectl,
  fixtureDocuments,
  fixtureMatchesSeed,
  indentedBlocks,
  textToApply,
} from '@connectors/test-support';

/** The one seed snippet that is not YAML at all: an unquoted `{{ ... }}` is a YAML flow mapping used as a key. */
const NOT_YAML = /Authorization: \{\{ \.Secret\.StringData\.token \}\}/;

describe('seed YAML', () => {
  describe('re-indented fixtures say what the seeds say', () => {
    for (const prefix of ['000', '003']) {
      for (const doc of fixtureDocuments(prefix)) {
        it(`${doc.origin} appears verbatim in seed ${prefix}, whitespace aside`, () => {
          expect(fixtureMatchesSeed(prefix, doc.text)).to.equal(true);
        });
      }
    }
  });

  describe('seeds 000 and 003 apply as written', () => {
    for (const prefix of ['000', '003']) {
      it(`applies every document of seed ${prefix} in its namespace`, async () => {
        const c = await cluster();
        // The seeds create these namespaces first (`kubectl create ns ...`); the Pods name ServiceAccount default.
        const ns = prefix === '000' ? 'git-connector-demo' : 'oci-connector-demo';
        await kubectl(['create', 'namespace', ns]).catch((e: Error) => {
          if (!/AlreadyExists/.test(e.message)) throw e;
        });
        if (c.controllerManager) await c.waitForServiceAccount(ns);
        else await c.createServiceAccount(ns, 'default').catch(() => undefined);
        for (const doc of fixtureDocuments(prefix)) {
          const out = await kubectl(['apply', ...(doc.namespace ? ['-n', doc.namespace] : []), '-f', '-'], {
            input: doc.text,
          });
          expect(out, doc.origin).to.match(/(created|configured|unchanged)/);
        }
      });
    }
  });

  describe('seeds 001 and 002 (ConnectorClass snippets) apply as written', () => {
    let index = 0;
    for (const prefix of ['001', '002']) {
      for (const doc of indentedBlocks(prefix)) {
        const n = index++;
        if (NOT_YAML.test(doc.text)) {
          it(`${doc.origin} is not YAML as written (kubectl cannot parse it), and applies once its template is quoted`, async () => {
            const err = await kubectl(['apply', '-f', '-'], { input: textToApply(doc, n) }).then(
              () => undefined,
              (e: Error) => e,
            );
            expect(err?.message).to.match(/error converting YAML to JSON: yaml: invalid map key/);
            const quoted = {
              ...doc,
              text: doc.text.replace(NOT_YAML, "Authorization: '{{ .Secret.StringData.token }}'"),
            };
            expect(await kubectl(['apply', '-f', '-'], { input: textToApply(quoted, n) })).to.match(
              /created|configured|unchanged/,
            );
          });
          continue;
        }
        it(`${doc.origin} is accepted`, async () => {
          const out = await kubectl(['apply', '-f', '-'], { input: textToApply(doc, n) });
          expect(out).to.match(/connectorclass\.connectors\.alauda\.io\/seed-\d+-\S+ (created|configured|unchanged)/);
        });
      }
    }
  });

  it('keeps what the seed wrote: the git auth-probe templates survive the round trip byte for byte', async () => {
    const doc = indentedBlocks('002').find(
      (d) =>
        /name: git\n/.test(d.text) && /authProbes:/.test(d.text) && /Complete|address:\n {4}name: address/.test(d.text),
    );
    expect(doc, 'the complete git example').to.not.equal(undefined);
    const ns = await createNamespace('seed-roundtrip');
    void ns;
    await kubectl(['apply', '-f', '-'], { input: textToApply(doc!, 999) });
    const cls = JSON.parse(await kubectl(['get', 'connectorclass', 'seed-999-git', '-o', 'json']));
    const http = cls.spec.authProbes[0].probe.http;
    expect(http.path).to.equal(
      '/{{- range .Connector.Spec.Auth.Params }}{{- if eq .Name "repository" }}{{ .Value.StringVal }}{{ end }}{{- end }}/info/refs?service=git-upload-pack',
    );
    expect(http.httpHeaders).to.deep.equal([
      {
        name: 'Authorization',
        value:
          '{{- if .Secret }}Basic {{ printf "%s:%s" .Secret.StringData.username .Secret.StringData.password | b64enc }} {{- end }}',
      },
    ]);
  });
});
