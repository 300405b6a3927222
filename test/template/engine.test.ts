// Focused tests of the template engine: the public API, the data model (int64 vs float64), and the
// sprig functions whose output is random or time-dependent (checked by shape and by verification).
import { expect } from 'chai';
import { createPrivateKey } from 'node:crypto';
import {
  parse,
  parseJSON,
  render,
  renderJSON,
  TemplateExecError,
  TemplateParseError,
  defineFunc,
  GoInt,
} from '../../core/template/index.ts';
import { bcryptCompare, bcryptHash } from '../../core/template/sprig/bcrypt.ts';

describe('template engine API', () => {
  it('parses once and renders many times with different data', () => {
    const tpl = parse(
      'probe',
      '/{{- range .Connector.Spec.Auth.Params }}{{- if eq .Name "repository" }}{{ .Value.StringVal }}{{ end }}{{- end }}/info/refs',
    );
    for (const repo of ['a/b.git', 'c/d.git']) {
      const data = parseJSON(
        JSON.stringify({
          Connector: { Spec: { Auth: { Params: [{ Name: 'repository', Value: { StringVal: repo } }] } } },
        }),
      );
      expect(tpl.execute(data)).to.equal(`/${repo}/info/refs`);
    }
  });

  it('render() returns the text or throws Go-shaped errors', () => {
    expect(render('{{ .a | upper }}', { a: 'x' })).to.equal('X');
    expect(() => render('{{ .a.b }}', parseJSON('{"a":"s"}'), 'cfg')).to.throw(
      TemplateExecError,
      'template: cfg:1:5: executing "cfg" at <.a.b>: can\'t evaluate field b in type interface {}',
    );
    expect(() => render('{{ if }}', {}, 'cfg')).to.throw(TemplateParseError, 'template: cfg:1: missing value for if');
    expect(() => render('{{ nope 1 }}', {}, 'cfg')).to.throw(
      TemplateParseError,
      'template: cfg:1: function "nope" not defined',
    );
  });

  it('missing keys render <no value>; fields of nil error like Go', () => {
    expect(renderJSON('{{ .missing }}|{{ .a.missing.deeper }}', '{"a":{}}')).to.equal('<no value>|<no value>');
    expect(() => renderJSON('{{ .a.b }}', '{"a":null}', 't')).to.throw(
      'template: t:1:5: executing "t" at <.a.b>: nil pointer evaluating interface {}.b',
    );
  });

  it('keeps JSON integers as int64 and other numbers as float64', () => {
    const d = parseJSON('{"i": 10, "f": 1.0, "e": 1e2, "big": 9223372036854775807}');
    expect(parse('t', '{{ printf "%T %T %T" .i .f .e }}').execute(d)).to.equal('int64 float64 float64');
    expect(parse('t', '{{ .i }} {{ .f }} {{ .e }} {{ .big }} {{ add .big 0 }}').execute(d)).to.equal(
      '10 1 100 9223372036854775807 9223372036854775807',
    );
    expect(() => parse('t', '{{ repeat .i "x" }}').execute(d)).to.throw(
      'wrong type for value; expected int; got int64',
    );
    // Plain JS numbers are float64: Go prints large floats with an exponent.
    expect(render('{{ .n }}', { n: 1e6 })).to.equal('1e+06');
    expect(render('{{ .n }}', { n: 1_000_000n })).to.equal('1000000');
  });

  it('accepts extra functions with Go signatures', () => {
    const tpl = parse('t', '{{ double 21 }} {{ "x" | double }}', {
      funcs: {
        double: defineFunc(['interface {}'], 'interface {}', (v) =>
          v instanceof GoInt ? new GoInt('int', v.v * 2n) : `${v as string}${v as string}`,
        ),
      },
    });
    expect(tpl.execute(undefined)).to.equal('42 xx');
  });

  it('lists the templates a text defines and executes one by name', () => {
    const tpl = parse('root', '{{ define "a" }}A{{ .x }}{{ end }}{{ template "a" . }}');
    expect(tpl.templates().sort()).to.deep.equal(['a', 'root']);
    expect(tpl.execute({ x: 1n }, 'a')).to.equal('A1');
    expect(() => tpl.execute({}, 'nope')).to.throw('template: no template "nope" associated with template "root"');
  });
});

describe('sprig functions checked by shape or verification', () => {
  it('random strings have the requested length and alphabet', () => {
    // Rendered one by one: randAscii may produce any printable character, the separator too.
    const [an, a, n, asc, empty] = [
      'randAlphaNum 20',
      'randAlpha 10',
      'randNumeric 8',
      'randAscii 12',
      'randAlphaNum 0',
    ].map((f) => render(`{{ ${f} }}`, {}));
    expect(an).to.match(/^[A-Za-z0-9]{20}$/);
    expect(a).to.match(/^[A-Za-z]{10}$/);
    expect(n).to.match(/^[0-9]{8}$/);
    expect(asc).to.match(/^[\x20-\x7e]{12}$/);
    expect(empty).to.equal('');
  });

  it('uuidv4, randBytes, randInt and shuffle', () => {
    const [u1, u2, rb, ri, sh] = render(
      '{{ uuidv4 }} {{ uuidv4 }} {{ randBytes 24 }} {{ randInt 5 10 }} {{ shuffle "abcdef" }}',
      {},
    ).split(' ');
    expect(u1).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(u1).to.not.equal(u2);
    expect(Buffer.from(rb, 'base64')).to.have.length(24);
    expect(Number(ri)).to.be.within(5, 9);
    expect([...sh].sort().join('')).to.equal('abcdef');
  });

  it('bcrypt matches the reference vectors and verifies its own hashes', () => {
    // OpenBSD / x/crypto test vector.
    const salt = Buffer.from(
      '10410410410410410410410410410410'.replace(/../g, (h) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    );
    expect(bcryptHash('U*U', 5, salt).slice(0, 7)).to.equal('$2a$05$');
    expect(bcryptCompare('$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'U*U')).to.equal(true);
    expect(bcryptCompare('$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK', 'U*U*')).to.equal(true);
    expect(bcryptCompare('$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'wrong')).to.equal(false);
    const h = render('{{ bcrypt "s3cret" }}', {});
    expect(h).to.match(/^\$2a\$10\$[./A-Za-z0-9]{53}$/);
    expect(bcryptCompare(h, 's3cret')).to.equal(true);
    const [user, hash] = render('{{ htpasswd "alice" "pw" }}', {}).split(':');
    expect(user).to.equal('alice');
    expect(bcryptCompare(hash, 'pw')).to.equal(true);
    expect(render('{{ htpasswd "a:b" "pw" }}', {})).to.equal('invalid username: a:b');
  });

  it('encryptAES output decrypts with decryptAES', () => {
    const out = render(
      '{{ $c := encryptAES "key" "plain text é" }}{{ decryptAES "key" $c }}|{{ encryptAES "k" "" }}',
      {},
    );
    expect(out).to.equal('plain text é|');
  });

  it('genPrivateKey produces parseable PEM keys of each type', function () {
    this.timeout(60_000);
    for (const [typ, header] of [
      ['ecdsa', 'EC PRIVATE KEY'],
      ['ed25519', 'PRIVATE KEY'],
      ['rsa', 'RSA PRIVATE KEY'],
    ]) {
      const pem = render(`{{ genPrivateKey "${typ}" }}`, {});
      expect(pem.startsWith(`-----BEGIN ${header}-----\n`), typ).to.equal(true);
      expect(() => createPrivateKey(pem)).to.not.throw();
    }
    expect(render('{{ genPrivateKey "dsa" }}', {})).to.match(/^-----BEGIN DSA PRIVATE KEY-----\n/);
    expect(render('{{ genPrivateKey "nope" }}', {})).to.equal('Unknown type nope');
  });

  it('now, date and ago have Go shapes', () => {
    const out = render('{{ now }}|{{ now | date "2006-01-02" }}|{{ ago now }}|{{ now | unixEpoch }}', {});
    const [n, d, ago, epoch] = out.split('|');
    expect(n).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \S+ m=\+\d+\.\d{9}$/);
    expect(d).to.match(/^\d{4}-\d\d-\d\d$/);
    expect(ago).to.equal('0s');
    expect(Math.abs(Number(epoch) - Date.now() / 1000)).to.be.below(5);
  });

  it('env, expandenv and getHostByName are disabled with a clear error', () => {
    expect(() => render('{{ env "HOME" }}', {}, 't')).to.throw(
      'error calling env: env is disabled: templates cannot read the environment',
    );
    expect(() => render('{{ expandenv "$HOME" }}', {}, 't')).to.throw('error calling expandenv: expandenv is disabled');
    expect(() => render('{{ getHostByName "example.com" }}', {}, 't')).to.throw(
      'error calling getHostByName: getHostByName is disabled',
    );
  });
});
