// Admission rules for ConnectorClasses: unique auth type
// names, authProbes naming declared types, httpHeaders shape, configuration file names, Go templates that
// parse, and Rego that compiles (with the real opa, through core/opa's cache). Messages name the field.
import type { ConnectorClass, HTTPProbe } from '../../core/api/index.ts';
import { parse as parseTemplate } from '../../core/template/index.ts';
import type { ValidationResult } from './connector.ts';

export const FILE_NAME = /^[A-Za-z0-9._-]+$/;

/** Compiles one Rego module; rejects with an error whose message is the diagnosis. `policyError` tells a
 * policy's own error (→ reject) from a failure to run the compiler (→ allow with a warning). */
export type RegoChecker = (source: string, opts: { entrypoint: string; fileName: string }) => Promise<void>;

export interface ClassValidationOptions {
  checkRego?: RegoChecker;
  isPolicyError?: (err: unknown) => boolean;
}

function checkHeaders(field: string, headers: unknown, errors: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    headers.forEach((h, i) => {
      const at = `${field}[${i}]`;
      if (h === null || typeof h !== 'object' || Array.isArray(h))
        return void errors.push(`${at}: must be an object {name, value}`);
      const { name, value, ...rest } = h as Record<string, unknown>;
      if (typeof name !== 'string' || !name) errors.push(`${at}.name: must be a non-empty string`);
      if (value !== undefined && typeof value !== 'string') errors.push(`${at}.value: must be a string`);
      const extra = Object.keys(rest);
      if (extra.length) errors.push(`${at}: unknown field(s) ${extra.join(', ')}; a header is {name, value}`);
      if (typeof name === 'string' && typeof value === 'string') out.push([`${at}.value`, value]);
    });
    return out;
  }
  if (typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (typeof value !== 'string')
        errors.push(
          `${field}.${name}: must be a string (headers are a list of {name, value} or a map of name to string)`,
        );
      else out.push([`${field}.${name}`, value]);
    }
    return out;
  }
  errors.push(`${field}: must be a list of {name, value} or a map of name to string`);
  return out;
}

function checkTemplate(
  field: string,
  text: string | undefined,
  errors: string[],
  name = field.slice(field.lastIndexOf('.') + 1),
): void {
  if (text === undefined || !text.includes('{{')) return;
  try {
    parseTemplate(name, text);
  } catch (err) {
    errors.push(`${field}: ${(err as Error).message}`);
  }
}

export async function validateConnectorClass(
  cls: Pick<ConnectorClass, 'spec'>,
  opts: ClassValidationOptions = {},
): Promise<ValidationResult> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const spec = cls.spec ?? {};

  const typeNames = new Map<string, number>();
  (spec.auth?.types ?? []).forEach((t, i) => {
    const prev = typeNames.get(t.name);
    if (prev !== undefined)
      errors.push(`spec.auth.types[${i}].name: duplicate auth type "${t.name}" (also at spec.auth.types[${prev}])`);
    else typeNames.set(t.name, i);
  });

  const probeHttp = (field: string, http: HTTPProbe | undefined, templated: boolean) => {
    if (!http) return;
    const values = checkHeaders(`${field}.httpHeaders`, http.httpHeaders, errors);
    if (templated) {
      checkTemplate(`${field}.path`, http.path, errors);
      checkTemplate(`${field}.host`, http.host, errors);
      for (const [f, v] of values) checkTemplate(f, v, errors);
    }
  };
  probeHttp('spec.livenessProbe.http', spec.livenessProbe?.http, false);
  const probeNames = new Map<string, number>();
  (spec.authProbes ?? []).forEach((p, i) => {
    const at = `spec.authProbes[${i}]`;
    // A warning, not an error: the reference's class fragments declare probes without auth types.
    if (!typeNames.has(p.authName))
      warnings.push(
        `${at}.authName: "${p.authName}" is not one of spec.auth.types[].name ` +
          `(${[...typeNames.keys()].join(', ') || 'none declared'}); this probe is never used`,
      );
    const prev = probeNames.get(p.authName);
    if (prev !== undefined) errors.push(`${at}.authName: duplicate "${p.authName}" (also at spec.authProbes[${prev}])`);
    else probeNames.set(p.authName, i);
    probeHttp(`${at}.probe.http`, p.probe?.http, true);
    checkTemplate(`${at}.probe.api.path`, p.probe?.api?.path, errors);
  });

  const configNames = new Map<string, number>();
  (spec.configurations ?? []).forEach((cfg, i) => {
    const at = `spec.configurations[${i}]`;
    const prev = configNames.get(cfg.name);
    if (prev !== undefined)
      errors.push(`${at}.name: duplicate configuration "${cfg.name}" (also at spec.configurations[${prev}])`);
    else configNames.set(cfg.name, i);
    for (const [file, text] of Object.entries(cfg.data ?? {})) {
      const field = `${at}.data[${JSON.stringify(file)}]`;
      if (!FILE_NAME.test(file) || file === '.' || file === '..')
        errors.push(`${field}: file name may contain only letters, digits, ".", "_" and "-"`);
      if (typeof text !== 'string') errors.push(`${field}: must be a string`);
      else checkTemplate(field, text, errors, file);
    }
  });

  if (opts.checkRego) {
    const policies: Array<{ field: string; source: string | undefined; entrypoint: string; fileName: string }> = [
      ...(spec.auth?.types ?? []).map((t, i) => ({
        field: `spec.auth.types[${i}].generator.rego`,
        source: t.generator?.rego,
        entrypoint: 'proxy/auth',
        fileName: 'generator.rego',
      })),
      {
        field: 'spec.proxy.authExtractor.rego',
        source: spec.proxy?.authExtractor?.rego,
        entrypoint: 'proxy/auth',
        fileName: 'authExtractor.rego',
      },
      {
        field: 'spec.api.permissions.rego',
        source: spec.api?.permissions?.rego,
        entrypoint: 'permissions/result',
        fileName: 'permissions.rego',
      },
    ];
    await Promise.all(
      policies
        .filter((p) => p.source !== undefined && p.source.trim() !== '')
        .map(async (p) => {
          try {
            await opts.checkRego!(p.source!, { entrypoint: p.entrypoint, fileName: p.fileName });
          } catch (err) {
            if (!opts.isPolicyError || opts.isPolicyError(err)) errors.push(`${p.field}: ${(err as Error).message}`);
            else
              warnings.push(
                `${p.field}: not checked (${(err as Error).message}); the controller reports compile errors in the class status`,
              );
          }
        }),
    );
  }
  return { errors, warnings };
}
