// Rego policies compiled with the real opa to wasm and evaluated in-process with opa-wasm.
export {
  compileRego,
  compileCacheKey,
  clearCompileMemoryCache,
  RegoCompileError,
  type CompiledPolicy,
  type CompileOptions,
} from './compile.ts';
export { loadPolicy, PolicyEvaluationError, type Policy, type LoadOptions } from './policy.ts';
export { BUILTINS, bindBuiltins, type BuiltinContext, type BuiltinDef, type BuiltinTable } from './builtins/index.ts';
export { WASM_NATIVE_BUILTINS, SDK_BUILTINS, allowedBuiltinNames, buildCapabilities } from './capabilities.ts';
export {
  canonicalHeaderKey,
  canonicalHeaders,
  regoRequest,
  type RegoRequest,
  type HttpRequestLike,
} from './request.ts';
export {
  generatorPolicy,
  generatorInput,
  toAuthInjection,
  applyAuthInjection,
  mergeUrlEncoded,
  AuthInjectionError,
  GENERATOR_ENTRYPOINT,
  type AuthInjection,
  type AuthPosition,
  type GeneratorPolicy,
  type InjectableRequest,
  type PolicyOptions,
} from './generator.ts';
export { authExtractorPolicy, toExtractedToken, AuthExtractorError, type AuthExtractorPolicy } from './extractor.ts';
export {
  permissionsPolicy,
  toPermissionVerb,
  PermissionsPolicyError,
  type PermissionsPolicy,
  type PermissionVerb,
} from './permissions.ts';
