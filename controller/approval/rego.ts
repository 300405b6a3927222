// A check's `state.rego` (package approval, rule `status`): compiled with the real opa (core/opa, cached in
// memory and on disk), instantiated once per module, evaluated with the check resource as input.
import { compileRego, loadPolicy, PolicyEvaluationError, RegoCompileError, type Policy } from '../../core/opa/index.ts';
import { CheckConfigError, STATE_ENTRYPOINT, STATE_FILE } from './checks.ts';

const loaded = new Map<string, Promise<Policy>>();
const LIMIT = 128;

/** The `status` the Rego gives for `input` (undefined when the rule is undefined). Throws CheckConfigError. */
export async function evaluateStateRego(source: string, input: unknown): Promise<unknown> {
  let policy: Policy;
  try {
    const compiled = await compileRego(source, { entrypoint: STATE_ENTRYPOINT, fileName: STATE_FILE });
    let p = loaded.get(compiled.sha256);
    if (!p) {
      p = loadPolicy(compiled);
      loaded.set(compiled.sha256, p);
      p.catch(() => loaded.delete(compiled.sha256));
      while (loaded.size > LIMIT) loaded.delete(loaded.keys().next().value as string);
    }
    policy = await p;
  } catch (err) {
    if (err instanceof RegoCompileError || err instanceof PolicyEvaluationError)
      throw new CheckConfigError(`state.rego does not compile: ${err.message}`);
    throw err;
  }
  try {
    return policy.evaluate(input);
  } catch (err) {
    if (err instanceof PolicyEvaluationError)
      throw new CheckConfigError(`${STATE_FILE}: evaluation failed: ${err.message}`);
    throw err;
  }
}
