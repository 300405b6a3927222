// node:http by require, not by an ESM import. Node builds the ESM facade of node:http by reading every export,
// which runs its lazy getters (WebSocket, EventSource, ...) and so loads Node's bundled undici into every process
// that imports node:http: ~13 MiB of resident memory for nothing (an ESM `import 'node:http'` leaves a process at
// 59 MiB, `require('node:http')` at 46 MiB). Type-only imports of node:http are erased and need no detour.
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export const { Agent, createServer, request, STATUS_CODES } = http;
