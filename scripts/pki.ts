/**
 * `npm run pki`: the local CA and one certificate per identity under .berth/pki (what `npm start
 * --tls` makes), for docker compose: every service, the console (as the operator `console`) and the
 * CLI operator `local`. Kept between runs; certificates close to expiry are reissued. The keys are
 * secrets (mode 600): never commit them.
 */
import { join } from 'node:path';
import { ensurePki } from '@berth/grpc-kit';
import { discoverServices } from './start/services.ts';
import { LOCAL_OPERATOR, shellExports } from './start/tls.ts';

const root = new URL('..', import.meta.url).pathname;
const pki = ensurePki(join(root, '.berth', 'pki'));
const services = discoverServices(root).filter((s) => s.name !== 'console');
for (const s of services) pki.issue('service', s.name);
pki.issue('operator', 'console');
const operator = pki.envFor('operator', LOCAL_OPERATOR);
console.log(
  `CA and certificates for ${services.map((s) => s.name).join(', ')}, operator/console and operator/${LOCAL_OPERATOR} in ${pki.dir}`,
);
console.log(`The CLI as operator spiffe://berth/operator/${LOCAL_OPERATOR}:\n  ${shellExports(operator, '\n  ')}`);
