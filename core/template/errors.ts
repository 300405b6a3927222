// Errors shaped like Go's text/template errors.

/** A parse error: `template: NAME:LINE: message`. */
export class TemplateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateParseError';
  }
}

/** An execution error: `template: NAME:LINE:COL: executing "NAME" at <node>: message`. */
export class TemplateExecError extends Error {
  readonly templateName: string;
  constructor(message: string, templateName: string) {
    super(message);
    this.name = 'TemplateExecError';
    this.templateName = templateName;
  }
}

/**
 * An error returned (or panicked) by a template function; the executor reports it as
 * `error calling NAME: message`.
 */
export class FuncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuncError';
  }
}

/** Go's runtime panics inside functions (index out of range and friends). */
export function runtimeError(message: string): FuncError {
  return new FuncError('runtime error: ' + message);
}
