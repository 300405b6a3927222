import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from '../command.ts';
import { parse, parseJSON } from '../../core/template/index.ts';

export const command: Command = {
  name: 'template',
  summary:
    'Render a Go text/template + sprig template (ConnectorClass probes and configuration files) exactly as Go does.',
  positionals: 'render',
  details: `Subcommands:
  render   Render --template FILE with the data of --data FILE.json and print the result.

The data file is decoded like Kubernetes decodes objects: integer literals stay integers (int64),
other numbers are float64. On error the Go-shaped message goes to stderr and the exit code is 1.`,
  options: {
    template: { type: 'string', description: 'Template file to render.', valueName: 'FILE' },
    data: {
      type: 'string',
      description: 'JSON data file (the template dot). Omit for no data.',
      valueName: 'FILE.json',
    },
    name: {
      type: 'string',
      description: 'Template name used in error messages (default: the file name).',
      valueName: 'NAME',
    },
  },
  async run(values, positionals) {
    const [sub] = positionals;
    if (sub !== 'render') {
      process.stderr.write(
        `connectors template: unknown or missing subcommand ${JSON.stringify(sub ?? '')} (want "render")\n`,
      );
      return 2;
    }
    const templateFile = values.template as string | undefined;
    if (!templateFile) {
      process.stderr.write('connectors template render: --template FILE is required\n');
      return 2;
    }
    const text = await readFile(templateFile, 'utf8');
    let data: unknown = undefined;
    if (values.data) {
      try {
        data = parseJSON(await readFile(values.data as string, 'utf8'));
      } catch (e) {
        process.stderr.write(
          `connectors template render: bad JSON in ${values.data as string}: ${(e as Error).message}\n`,
        );
        return 1;
      }
    }
    try {
      const out = parse((values.name as string | undefined) ?? basename(templateFile), text).execute(data);
      process.stdout.write(out);
      return 0;
    } catch (e) {
      process.stderr.write((e as Error).message + '\n');
      return 1;
    }
  },
};
