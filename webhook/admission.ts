// AdmissionReview v1 wire types and the response a Decision becomes.
import { encodePatch, type JsonPatchOp } from './jsonpatch.ts';

/** The object under review, as the API server sent it; webhook/handlers.ts types it per kind. */
type ReviewedObject = unknown;

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  object?: ReviewedObject;
  oldObject?: ReviewedObject;
  dryRun?: boolean;
  userInfo?: { username?: string; groups?: string[] };
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string; status?: 'Failure' };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export type Verdict =
  | { allowed: true; patch?: JsonPatchOp[]; warnings?: string[] }
  | { allowed: false; code: number; reason: string; message: string; warnings?: string[] };

/** Warnings are shown by kubectl; the API server caps each at 120 characters and the total. */
function trimWarnings(warnings: string[] | undefined): string[] | undefined {
  if (!warnings?.length) return undefined;
  return warnings.slice(0, 10).map((w) => (w.length > 400 ? w.slice(0, 397) + '...' : w));
}

export function toResponse(uid: string, v: Verdict): AdmissionResponse {
  if (!v.allowed) {
    return {
      uid,
      allowed: false,
      status: { code: v.code, reason: v.reason, message: v.message, status: 'Failure' },
      warnings: trimWarnings(v.warnings),
    };
  }
  const res: AdmissionResponse = { uid, allowed: true, warnings: trimWarnings(v.warnings) };
  if (v.patch?.length) {
    res.patchType = 'JSONPatch';
    res.patch = encodePatch(v.patch);
  }
  return res;
}

export function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
