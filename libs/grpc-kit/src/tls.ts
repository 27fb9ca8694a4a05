import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ValidationError } from '@berth/errors';

type Pem = string | Buffer;
const pem = (value: Pem): Buffer => (typeof value === 'string' ? Buffer.from(value) : value);

export interface ServerTls {
  readonly cert: Pem;
  readonly key: Pem;
  /** CA that signs client certificates; required when `requireClientCert` is true. */
  readonly ca?: Pem;
  /** Mutual TLS: reject clients that present no certificate signed by `ca`. */
  readonly requireClientCert?: boolean;
}

export interface ClientTls {
  /** CA that signs the server's certificate (system roots when omitted). */
  readonly ca?: Pem;
  /** Client certificate and key, for servers that require mutual TLS. */
  readonly cert?: Pem;
  readonly key?: Pem;
  /** Expected name in the server certificate when it differs from the address host. */
  readonly serverName?: string;
}

export function serverCredentials(tls: ServerTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (tls.requireClientCert && !tls.ca) {
    throw new ValidationError({ field: 'tls.ca', reason: 'is required when requireClientCert is true' });
  }
  return grpc.ServerCredentials.createSsl(
    tls.ca ? pem(tls.ca) : null,
    [{ cert_chain: pem(tls.cert), private_key: pem(tls.key) }],
    tls.requireClientCert ?? false,
  );
}

export function channelCredentials(tls: ClientTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new ValidationError({ field: tls.cert === undefined ? 'tls.cert' : 'tls.key', reason: 'cert and key must be given together' });
  }
  return grpc.credentials.createSsl(tls.ca ? pem(tls.ca) : null, tls.key ? pem(tls.key) : null, tls.cert ? pem(tls.cert) : null);
}

/** Reads PEM files named in configuration (e.g. GRPC_TLS_CERT_FILE) into the shape the kit takes. */
export function readTlsFiles(files: { certFile?: string; keyFile?: string; caFile?: string }): {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
} {
  const read = (path: string | undefined, field: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ValidationError({ field, reason: `cannot read ${path}: ${(e as Error).message}` });
    }
  };
  const out: { cert?: Buffer; key?: Buffer; ca?: Buffer } = {};
  const cert = read(files.certFile, 'certFile');
  const key = read(files.keyFile, 'keyFile');
  const ca = read(files.caFile, 'caFile');
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if (ca) out.ca = ca;
  return out;
}
