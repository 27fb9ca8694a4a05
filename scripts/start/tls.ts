/**
 * `npm start --tls`: a local CA and one certificate per identity under .berth/pki (openssl, through
 * @berth/grpc-kit's ensurePki), every service run with mutual TLS, and this process (health checks,
 * the demo fleet) calling as the operator `spiffe://berth/operator/local`, whose files the banner
 * prints for the CLI. Plain `npm start` stays plaintext on loopback (authentication off).
 */
import { join } from 'node:path';
import { ensurePki, type LocalPki } from '@berth/grpc-kit';
import type { ServiceManifest } from './services.ts';

export interface StartTls {
  /** Variables a service's process gets (none without --tls). */
  envFor(service: ServiceManifest): Record<string, string>;
  /** The banner's line about TLS. */
  readonly banner: string;
}

export const LOCAL_OPERATOR = 'local';

export function startTls(root: string, enabled: boolean, services: readonly ServiceManifest[]): StartTls {
  if (!enabled) {
    return {
      envFor: () => ({ GRPC_HOST: '127.0.0.1' }),
      banner: 'TLS off (loopback only): every caller on this machine is an operator. `npm start --tls` for mutual TLS.',
    };
  }
  const pki: LocalPki = ensurePki(join(root, '.berth', 'pki'));
  for (const s of services) pki.issue('service', s.name);
  const operator = pki.envFor('operator', LOCAL_OPERATOR);
  // This process's own calls (health, demo fleet) present the operator certificate (grpc-kit's createClient default).
  Object.assign(process.env, operator);
  const exports = shellExports(operator, '\n    ');
  return {
    // The console calls the services for the people using it: as an operator (docs/security.md).
    envFor: (s) => ({
      GRPC_HOST: '127.0.0.1',
      ...(s.name === 'console' ? pki.envFor('operator', 'console') : pki.envFor('service', s.name)),
    }),
    banner:
      `TLS on: mutual TLS between every service and caller, CA and certificates in ${pki.dir}\n` +
      `  The CLI as operator spiffe://berth/operator/${LOCAL_OPERATOR}:\n    ${exports}`,
  };
}

/** `export K=V` lines for the CLI's certificate variables, joined by `separator`. */
export function shellExports(env: Readonly<Record<string, string>>, separator: string): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${v}`)
    .join(separator);
}
