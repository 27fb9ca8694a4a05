import { isIP } from 'node:net';
import { ValidationError } from '@berth/errors';
import { readTlsFiles, type ClientTls, type ServerTls } from './tls.ts';

/**
 * The variables every Berth service reads for its gRPC security (docs/security.md). One certificate
 * per identity serves both ways: the service's server certificate and its client certificate when it
 * calls another service.
 */
export const TLS_ENV = { cert: 'BERTH_TLS_CERT', key: 'BERTH_TLS_KEY', ca: 'BERTH_TLS_CA' } as const;
export const GRPC_HOST_ENV = 'GRPC_HOST';

export interface GrpcSecuritySettings {
  /** Address to bind; loopback by default. */
  readonly GRPC_HOST?: string | undefined;
  /** PEM files: this identity's certificate and key, and the CA that signs every Berth identity. */
  readonly BERTH_TLS_CERT?: string | undefined;
  readonly BERTH_TLS_KEY?: string | undefined;
  readonly BERTH_TLS_CA?: string | undefined;
}

export interface GrpcSecurity {
  /** Where the server binds. */
  readonly host: string;
  /** Mutual TLS for the server (undefined: plaintext, loopback only). */
  readonly server?: ServerTls;
  /** The same identity for calls to other services (undefined: plaintext). */
  readonly client?: ClientTls;
}

export const DEFAULT_GRPC_HOST = '127.0.0.1';

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/**
 * Reads the TLS files the settings name. All three variables or none; a missing file is a
 * ValidationError naming the variable (the path is no secret, the content never appears).
 */
export function grpcSecurity(settings: GrpcSecuritySettings): GrpcSecurity {
  const host = settings.GRPC_HOST?.trim() || DEFAULT_GRPC_HOST;
  const given = (Object.keys(TLS_ENV) as (keyof typeof TLS_ENV)[]).filter((k) => settings[TLS_ENV[k]]);
  if (given.length === 0) return { host };
  if (given.length < 3) {
    const missing = (Object.keys(TLS_ENV) as (keyof typeof TLS_ENV)[]).filter((k) => !given.includes(k)).map((k) => TLS_ENV[k]);
    throw new ValidationError(missing.map((field) => ({ field, reason: `is required with ${given.map((k) => TLS_ENV[k]).join(', ')}` })));
  }
  const files = readNamed(settings);
  return {
    host,
    server: { cert: files.cert, key: files.key, ca: files.ca, requireClientCert: true },
    client: { cert: files.cert, key: files.key, ca: files.ca },
  };
}

function readNamed(settings: GrpcSecuritySettings): { cert: Buffer; key: Buffer; ca: Buffer } {
  const one = (k: keyof typeof TLS_ENV): Buffer => {
    const variable = TLS_ENV[k];
    try {
      const read = readTlsFiles({ certFile: settings[variable] });
      if (!read.cert) throw new Error('empty');
      return read.cert;
    } catch (e) {
      const reason = e instanceof ValidationError ? (e.violations[0]?.reason ?? e.message) : (e as Error).message;
      throw new ValidationError({ field: variable, reason });
    }
  };
  return { cert: one('cert'), key: one('key'), ca: one('ca') };
}

/** Thrown by `listen` on a non-loopback address without mutual TLS. */
export class InsecureBindError extends Error {
  override readonly name = 'InsecureBindError';
  constructor(
    readonly serviceName: string,
    readonly host: string,
  ) {
    super(
      `${serviceName}: refusing to serve gRPC on ${host} without mutual TLS. Set ${TLS_ENV.cert}, ${TLS_ENV.key} and ${TLS_ENV.ca} ` +
        `(PEM files of this service's certificate, its key and the Berth CA; \`npm start --tls\` makes them under .berth/pki), ` +
        `or bind to loopback with ${GRPC_HOST_ENV}=127.0.0.1.`,
    );
  }
}

/** Fails fast, before a service opens its database or NATS: the same rule `listen` enforces. */
export function assertSecureBind(serviceName: string, security: GrpcSecurity): void {
  if (!isLoopbackHost(security.host) && security.server?.requireClientCert !== true)
    throw new InsecureBindError(serviceName, security.host);
}
