// Runs the walkthroughs of the documentation as printed. A page marks one with HTML comments, invisible
// when rendered, and declares every shell block in it:
//
//   <!-- walkthrough: NAME; clean: /tmp/some-dir -->     (clean: removed before and after the run)
//   <!-- run: background; ready: /regex with (?<PLACEHOLDER>...)/ -->
//   ```sh
//   a long-running command (a terminal of its own)
//   ```
//   <!-- run; expect: /regex/m -->
//   ```sh
//   commands typed in the user's shell
//   ```
//   <!-- /walkthrough -->
//
// Foreground blocks run one after another in one bash (so `export` and variables carry over) with
// `set -eo pipefail`: the first failing command fails the walkthrough. Background blocks run in their own
// process group until the walkthrough ends; `ready` waits for their output to match, and its named groups
// become placeholders: later blocks have each whole-word occurrence of the group's name replaced by what
// was printed, as a user copies a printed port. The environment is a clean login's (see cleanEnv), holding
// only what the page tells the user to set.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Block {
  /** 1-based line of the block's first command in its page. */
  line: number;
  script: string;
  background: boolean;
  ready?: RegExp;
  expect?: RegExp;
}

export interface Walkthrough {
  name: string;
  clean: string[];
  blocks: Block[];
}

const DIRECTIVE = /^<!--\s*(walkthrough|run|\/walkthrough)\b(.*?)-->\s*$/;

/** `/body/flags` → RegExp, with a clear error for anything else. */
function regexLiteral(text: string, where: string): RegExp {
  const m = /^\/(.*)\/([dgimsuy]*)$/.exec(text.trim());
  if (!m) throw new Error(`${where}: expected a /regex/flags, got ${JSON.stringify(text)}`);
  return new RegExp(m[1], m[2]);
}

/** `key: value; key; key: value` (values may hold `;` unless followed by a known key). */
function options(text: string, known: string[], where: string): Map<string, string> {
  const out = new Map<string, string>();
  const rest = text.replace(/^\s*[:;]\s*/, '').trim();
  if (!rest) return out;
  const splitter = new RegExp(`;\\s*(?=(?:${known.join('|')})\\b)`);
  for (const part of rest.split(splitter)) {
    const m = /^([a-z]+)\s*(?::\s*([\s\S]*))?$/.exec(part.trim().replace(/;\s*$/, ''));
    if (!m || !known.includes(m[1])) throw new Error(`${where}: unknown option ${JSON.stringify(part.trim())}`);
    out.set(m[1], (m[2] ?? '').trim());
  }
  return out;
}

/** Every walkthrough of a Markdown page. Shell blocks inside one must each carry a `run` directive. */
export function parseWalkthroughs(markdown: string, page: string): Walkthrough[] {
  const lines = markdown.split('\n');
  const out: Walkthrough[] = [];
  let current: Walkthrough | undefined;
  let pending: Omit<Block, 'line' | 'script'> | undefined;
  for (let i = 0; i < lines.length; i++) {
    const where = `${page}:${i + 1}`;
    const directive = DIRECTIVE.exec(lines[i].trim());
    if (directive) {
      const [, kind, rest] = directive;
      if (kind === 'walkthrough') {
        if (current) throw new Error(`${where}: walkthrough inside walkthrough ${current.name}`);
        const opts = new Map<string, string>();
        const m = /^:\s*([\w.-]+)\s*(?:;(.*))?$/.exec(rest.trim());
        if (!m) throw new Error(`${where}: expected <!-- walkthrough: NAME -->`);
        for (const [k, v] of options(m[2] ?? '', ['clean'], where)) opts.set(k, v);
        current = { name: m[1], clean: (opts.get('clean') ?? '').split(/\s+/).filter(Boolean), blocks: [] };
      } else if (kind === '/walkthrough') {
        if (!current) throw new Error(`${where}: </walkthrough> without a walkthrough`);
        if (pending) throw new Error(`${where}: a run directive without its shell block`);
        out.push(current);
        current = undefined;
      } else {
        if (!current) throw new Error(`${where}: run directive outside a walkthrough`);
        const opts = options(rest, ['background', 'ready', 'expect'], where);
        pending = {
          background: opts.has('background'),
          ready: opts.has('ready') ? regexLiteral(opts.get('ready')!, where) : undefined,
          expect: opts.has('expect') ? regexLiteral(opts.get('expect')!, where) : undefined,
        };
        if (pending.ready && !pending.background) throw new Error(`${where}: ready is for background blocks`);
      }
      continue;
    }
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence || !current) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    if (end === lines.length) throw new Error(`${where}: unterminated code block`);
    if (['sh', 'bash', 'shell', 'console'].includes(fence[1])) {
      if (!pending) throw new Error(`${where}: shell block in walkthrough ${current.name} without a run directive`);
      current.blocks.push({ ...pending, line: start + 1, script: lines.slice(start, end).join('\n') + '\n' });
      pending = undefined;
    }
    i = end;
  }
  if (current) throw new Error(`${page}: walkthrough ${current.name} is not closed`);
  return out;
}

/** A clean login's environment: a standard PATH plus where this machine keeps npm, node and go (the
 * README's prerequisites), HOME, a UTF-8 locale, and nothing of the test process (no node_modules/.bin,
 * no KUBECONFIG). `stateHome` keeps `npm start`'s state away from the user's own. */
export function cleanEnv(stateHome: string): NodeJS.ProcessEnv {
  const dirs: string[] = [];
  for (const tool of ['npm', 'go', 'git']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], {
      encoding: 'utf8',
      env: {
        PATH: (process.env.PATH ?? '')
          .split(':')
          .filter((d) => !d.includes('node_modules'))
          .join(':'),
      },
    }).stdout.trim();
    if (found) dirs.push(dirname(found));
  }
  const standard = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const env: NodeJS.ProcessEnv = {
    PATH: [...new Set([...dirs, ...standard])].join(':'),
    HOME: homedir(),
    LANG: 'C.UTF-8',
    XDG_STATE_HOME: stateHome,
  };
  // Where this machine caches the pinned Go peers, if it moved them (infrastructure, not a page's step).
  for (const key of ['CONNECTORS_CACHE_DIR', 'XDG_CACHE_HOME', 'GOPATH', 'GOMODCACHE', 'GOCACHE', 'GOPROXY'])
    if (process.env[key]) env[key] = process.env[key];
  return env;
}

export interface RunResult {
  /** Output of each foreground block, in order. */
  outputs: string[];
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Per block, and per background block until ready (default 600 s: a cold `npm start` builds peers). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

function substitute(script: string, values: Map<string, string>): string {
  let out = script;
  for (const [name, value] of values) out = out.replace(new RegExp(`\\b${name}\\b`, 'g'), value);
  return out;
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGINT'); // what Ctrl-C sends: `npm start` stops its control plane cleanly
  if (await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)])) return;
  signal('SIGKILL');
  await exited;
}

/** Runs a walkthrough; rejects naming the block (page line) that failed, with its output. */
export async function runWalkthrough(w: Walkthrough, page: string, opts: RunOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const log = opts.log ?? (() => {});
  const scratch = mkdtempSync(join(tmpdir(), `walkthrough-${w.name}-`));
  const background: ChildProcess[] = [];
  const values = new Map<string, string>();
  const outputs: string[] = [];
  for (const path of w.clean) rmSync(path, { recursive: true, force: true });
  const shell = spawn('bash', ['--noprofile', '--norc'], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let shellOut = '';
  shell.stdout.on('data', (d) => (shellOut += d));
  shell.stderr.on('data', (d) => (shellOut += d));
  shell.stdin.on('error', () => {});
  shell.stdin.write('set -eo pipefail\n');
  const shellExit = new Promise<number | null>((resolve) => shell.once('exit', (code) => resolve(code)));
  try {
    for (const [index, block] of w.blocks.entries()) {
      const where = `${page}:${block.line} (${w.name}, block ${index + 1})`;
      const script = substitute(block.script, values);
      const file = join(scratch, `block-${index + 1}.sh`);
      writeFileSync(file, script);
      log(`${where}: ${block.background ? 'starting in the background' : 'running'}`);
      if (block.background) {
        const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
          cwd: opts.cwd,
          env: opts.env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        background.push(child);
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const deadline = Date.now() + timeoutMs;
        while (block.ready) {
          const m = block.ready.exec(out);
          if (m) {
            for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) values.set(k, v);
            break;
          }
          if (child.exitCode !== null)
            throw new Error(`${where}: exited ${child.exitCode} before printing ${block.ready}:\n${out}`);
          if (Date.now() > deadline) throw new Error(`${where}: not ready in time (${block.ready}):\n${out}`);
          await sleep(100);
        }
        continue;
      }
      const marker = `__walkthrough_block_${index + 1}_done__`;
      const from = shellOut.length;
      shell.stdin.write(`source ${file}\necho ${marker}\n`);
      const deadline = Date.now() + timeoutMs;
      let exitCode: number | null | undefined;
      void shellExit.then((code) => (exitCode = code));
      while (!shellOut.includes(marker, from)) {
        await sleep(50);
        if (exitCode !== undefined) {
          throw new Error(
            `${where}: a command failed (exit ${exitCode}):\n${script}\n--- output ---\n${shellOut.slice(from)}`,
          );
        }
        if (Date.now() > deadline) throw new Error(`${where}: timed out:\n${shellOut.slice(from)}`);
      }
      const output = shellOut.slice(from, shellOut.indexOf(marker, from));
      outputs.push(output);
      if (block.expect && !block.expect.test(output))
        throw new Error(`${where}: output does not match ${block.expect}:\n${output}`);
    }
    return { outputs };
  } finally {
    shell.stdin.end();
    await stopGroup(shell);
    for (const child of background.reverse()) await stopGroup(child);
    for (const path of w.clean) rmSync(path, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}
