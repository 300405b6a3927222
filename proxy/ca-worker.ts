// Creates the interception CA in a worker thread (ca.ts): the certificate library's memory goes with the thread.
import { parentPort } from 'node:worker_threads';
import { createCA } from '../core/pki/index.ts';

const ca = await createCA({ commonName: 'connectors-proxy-ca', organizations: ['connectors'] });
parentPort!.postMessage({ certPem: ca.certPem, keyPem: ca.keyPem });
