// The shape of a CLI subcommand and the shared argument parsing, so every subcommand gets the same
// `--help` and the same error for an unknown flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface Command {
  name: string;
  summary: string;
  /** Extra lines of help after the options. */
  details?: string;
  options: Record<string, OptionSpec>;
  positionals?: string;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

export function helpText(cmd: Command): string {
  const lines = [
    `Usage: connectors ${cmd.name} [options]${cmd.positionals ? ' ' + cmd.positionals : ''}`,
    '',
    cmd.summary,
    '',
    'Options:',
  ];
  const rows = Object.entries(cmd.options).map(([name, o]) => [
    `--${name}${o.type === 'string' ? ' ' + (o.valueName ?? 'VALUE') : ''}`,
    o.description + (o.default !== undefined ? ` (default: ${String(o.default)})` : ''),
  ]);
  rows.push(['--help', 'Show this help.']);
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}  ${text}`);
  if (cmd.details) lines.push('', cmd.details.trim());
  return lines.join('\n') + '\n';
}

export async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean' } };
  for (const [name, o] of Object.entries(cmd.options)) {
    // parseArgs gets the option without the help text.
    const spec: NonNullable<ParseArgsConfig['options']>[string] & Partial<OptionSpec> = { ...o };
    delete spec.description;
    delete spec.valueName;
    options[name] = spec;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: Boolean(cmd.positionals), strict: true });
  } catch (err) {
    process.stderr.write(`connectors ${cmd.name}: ${(err as Error).message}\n\n${helpText(cmd)}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(cmd));
    return 0;
  }
  return cmd.run(parsed.values as Record<string, string | boolean | string[] | undefined>, parsed.positionals);
}
