// Runs the steps of a bundled Task on this machine, as Tekton would in its Pod: the same variable substitution
// in `env`, `args`, `workingDir` and `command` ($(params.x), $(params.x[*]), $(workspaces.x.path|bound),
// $(results.x.path)), the script written to a file and executed with the step's args, results read from their
// files. The step's environment is only what the Task declares plus PATH, a HOME and what the caller adds for
// host isolation (a container would have its image's). An unknown variable is an error: a Task that uses one
// would not be tested faithfully.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundledTask } from '../../tasks/index.ts';

interface ParamSpec {
  name: string;
  type?: string;
  default?: string | string[];
}
interface StepSpec {
  name: string;
  image: string;
  script?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  workingDir?: string;
}

export interface RunOptions {
  params: Record<string, string | string[]>;
  /** Workspace name → directory; a name left out is unbound (optional workspaces only). */
  workspaces: Record<string, string>;
  /** Added to every step's environment after the Task's own (host isolation, e.g. a storage.conf). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface RunResult {
  results: Record<string, string>;
  output: string;
  /** The environment each step ran with, for leak checks. */
  envs: Array<Record<string, string>>;
}

export class StepFailed extends Error {
  readonly output: string;
  constructor(message: string, output: string) {
    super(`${message}\n${output}`);
    this.output = output;
  }
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function runTask(task: BundledTask['task'], opts: RunOptions): Promise<RunResult> {
  const spec = task.spec as {
    params?: ParamSpec[];
    workspaces?: Array<{ name: string; optional?: boolean }>;
    results?: Array<{ name: string }>;
    steps: StepSpec[];
  };
  const params: Record<string, string | string[]> = {};
  for (const p of spec.params ?? []) {
    const v = opts.params[p.name] ?? p.default;
    if (v === undefined) throw new Error(`param ${p.name} of Task ${task.metadata.name} is required`);
    params[p.name] = v;
  }
  for (const name of Object.keys(opts.params))
    if (!(name in params)) throw new Error(`Task ${task.metadata.name} has no param ${name}`);
  for (const w of spec.workspaces ?? [])
    if (!w.optional && !opts.workspaces[w.name]) throw new Error(`workspace ${w.name} is required`);

  const scratch = await mkdtemp(join(tmpdir(), `task-${task.metadata.name}-`));
  const resultsDir = join(scratch, 'results');
  await mkdir(resultsDir);
  const declaredResults = new Set((spec.results ?? []).map((r) => r.name));

  const variable = (expr: string): string => {
    let m: RegExpExecArray | null;
    if ((m = /^params\.([A-Za-z0-9_.-]+)$/.exec(expr))) {
      const v = params[m[1]];
      if (v === undefined) throw new Error(`$(${expr}): no such param`);
      if (Array.isArray(v)) throw new Error(`$(${expr}): array param outside args`);
      return v;
    }
    if ((m = /^workspaces\.([a-z0-9-]+)\.(path|bound)$/.exec(expr))) {
      const dir = opts.workspaces[m[1]];
      return m[2] === 'bound' ? String(Boolean(dir)) : (dir ?? '');
    }
    if ((m = /^results\.([A-Za-z0-9_-]+)\.path$/.exec(expr))) {
      if (!declaredResults.has(m[1])) throw new Error(`$(${expr}): no such result`);
      return join(resultsDir, m[1]);
    }
    throw new Error(`$(${expr}): variable not supported by the host runner`);
  };
  const subst = (s: string) => s.replace(/\$\(([^)]+)\)/g, (_, e: string) => variable(e));
  const substArgs = (args: string[]) =>
    args.flatMap((a) => {
      const m = /^\$\(params\.([A-Za-z0-9_.-]+)\[\*\]\)$/.exec(a);
      if (!m) return [subst(a)];
      const v = params[m[1]];
      if (!Array.isArray(v)) throw new Error(`${a}: not an array param`);
      return v;
    });

  const envs: RunResult['envs'] = [];
  let output = '';
  try {
    for (const [i, step] of spec.steps.entries()) {
      const home = join(scratch, `home-${i}`);
      await mkdir(home);
      const env: Record<string, string> = { PATH: HOST_PATH, HOME: home, LANG: 'C' };
      for (const e of step.env ?? []) env[e.name] = subst(e.value ?? '');
      Object.assign(env, opts.env ?? {});
      envs.push(env);
      const cwd = (step.workingDir && subst(step.workingDir)) || scratch;
      const args = substArgs(step.args ?? []);
      let cmd: string[];
      if (step.script !== undefined) {
        const file = join(scratch, `script-${i}`);
        const script = step.script.startsWith('#!') ? step.script : `#!/bin/sh\nset -e\n${step.script}`;
        await writeFile(file, script);
        await chmod(file, 0o755);
        cmd = [file, ...args];
      } else if (step.command) {
        cmd = [...step.command.map(subst), ...args];
      } else throw new Error(`step ${step.name} has neither script nor command`);
      const r = await exec(cmd, env, cwd, opts.timeoutMs ?? 300_000);
      output += `--- step ${step.name}\n${r.output}`;
      if (r.code !== 0) throw new StepFailed(`step ${step.name} of ${task.metadata.name} exited ${r.code}`, output);
    }
    const results: Record<string, string> = {};
    for (const f of await readdir(resultsDir)) results[f] = await readFile(join(resultsDir, f), 'utf8');
    return { results, output, envs };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function exec(
  cmd: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-64 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
