import { createHash, X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import type { ClientRequestArgs } from 'node:http';
import type { ClientOptions } from 'ws';

/** Berth's side of LXD's TLS: the identity it presents, and the server certificate pinned by fingerprint. */

/** The TLS client identity Berth presents to LXD hosts (PEM). */
export interface LxdCredentials {
  readonly certPem: string;
  readonly keyPem: string;
}

/** LXD's certificate fingerprint: the SHA-256 of the DER, lowercase hex. */
export const certificateFingerprint = (pemOrDer: string | Buffer): string => {
  const der = typeof pemOrDer === 'string' ? new X509Certificate(pemOrDer).raw : pemOrDer;
  return createHash('sha256').update(der).digest('hex');
};

export class PinningError extends Error {
  override readonly name = 'PinningError';
}

export function checkPin(socket: TLSSocket, fingerprint: string): Error | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) return new PinningError('the server presented no certificate');
  const got = certificateFingerprint(cert.raw);
  return got === fingerprint ? undefined : new PinningError(`server certificate fingerprint ${got} is not the pinned ${fingerprint}`);
}

/** undici's connector for an https LXD host: Berth's identity, and the server's certificate pinned when a fingerprint is given. */
export function pinnedConnector(credentials: LxdCredentials | undefined, fingerprint: string | undefined): buildConnector.connector {
  const tls = {
    ...(credentials ? { cert: credentials.certPem, key: credentials.keyPem } : {}),
    // A pinned server is checked by fingerprint below; otherwise the system CAs decide.
    rejectUnauthorized: fingerprint === undefined,
    // A resumed TLS session shows no peer certificate to check the pin against.
    maxCachedSessions: 0,
  };
  const base = buildConnector(tls);
  if (fingerprint === undefined) return base;
  return (opts, cb) => {
    base(opts, (...args) => {
      const [err, socket] = args;
      if (err !== null) return cb(err, null);
      const bad = checkPin(socket as TLSSocket, fingerprint);
      if (bad) {
        socket.destroy();
        return cb(bad, null);
      }
      return cb(null, socket);
    });
  };
}

/** The events websocket's TLS options: the same identity and pin as requests. */
export function websocketTls(credentials: LxdCredentials | undefined, fingerprint: string | undefined): ClientOptions | ClientRequestArgs {
  return {
    ...(credentials ? { cert: credentials.certPem, key: credentials.keyPem } : {}),
    rejectUnauthorized: fingerprint === undefined,
    ...(fingerprint === undefined
      ? {}
      : {
          createConnection: (opts: object) => {
            const s = tlsConnect(opts);
            s.once('secureConnect', () => {
              const bad = checkPin(s, fingerprint);
              if (bad) s.destroy(bad);
            });
            return s;
          },
        }),
  };
}
