// The messages between core/resourceinterface/expression.ts and its sandbox worker (sandbox-worker.ts), kept
// apart so that neither side loads the other.

export interface SandboxLimits {
  memoryBytes: number;
  stackBytes: number;
  deadlineMs: number;
  resultBytes: number;
}
export interface SandboxScope {
  params: Record<string, unknown>;
  connector: unknown;
  connectors?: string;
}

export type SandboxCall =
  { op: 'open'; limits: SandboxLimits } | { op: 'eval'; expressions: string[]; scope: SandboxScope } | { op: 'close' };
export type SandboxRequest = SandboxCall & { id: number };

export type SandboxReply =
  | { id: number; ok: true }
  /** Each expression's value as JSON text (`undefined` for undefined); stops at the first error. */
  | { id: number; values: Array<string | undefined>; error?: string }
  /** Below JavaScript: the worker must be ended. */
  | { id: number; fatal: string };

/** Longest error message passed on (a thrown string can be megabytes; it ends up in an admission response). */
export const MAX_MESSAGE = 300;
