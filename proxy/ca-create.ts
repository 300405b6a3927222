// `node proxy/ca-create.ts`: prints a new interception CA as JSON ({certPem, keyPem}). The proxy runs it as a short
// child process (ca.ts) so that the certificate library's memory is not kept by the proxy for its lifetime.
import { createCA } from '../core/pki/index.ts';

const ca = await createCA({ commonName: 'connectors-proxy-ca', organizations: ['connectors'] });
process.stdout.write(JSON.stringify({ certPem: ca.certPem, keyPem: ca.keyPem }));
