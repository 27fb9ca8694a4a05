/**
 * A local certificate authority and one certificate per identity, made with the `openssl` binary
 * (no crypto of our own): what `npm start --tls` writes under `.berth/pki` and what the test harness
 * makes once per run. Layout (docs/security.md):
 *
 *   <dir>/ca.crt, ca.key                      the Berth CA (P-256)
 *   <dir>/<kind>-<name>.crt, <kind>-<name>.key  an identity: URI SAN spiffe://berth/<kind>/<name>,
 *                                              DNS localhost + <name>, IP 127.0.0.1 and ::1,
 *                                              serverAuth + clientAuth (one certificate serves both ways)
 *
 * Existing files are kept: running again adds only the identities that are missing.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityUri, type CallerKind } from './identity.ts';

export type IdentityKind = Exclude<CallerKind, 'anonymous'>;

export interface IdentityFiles {
  readonly uri: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface IssueOptions {
  /** Validity in days (default 30); a negative number issues an already expired certificate (tests). */
  readonly days?: number;
  /** Extra DNS names for the server side (e.g. a docker-compose service name). */
  readonly dnsNames?: readonly string[];
  /** File stem instead of `<kind>-<name>`, e.g. for a second, expired certificate of the same identity. */
  readonly fileStem?: string;
}

export interface LocalPki {
  readonly dir: string;
  readonly caCert: string;
  /** The identity's files, issued now when missing. */
  issue(kind: IdentityKind, name: string, options?: IssueOptions): IdentityFiles;
  /** The environment a Berth process reads its identity from (BERTH_TLS_CERT/KEY/CA). */
  envFor(kind: IdentityKind, name: string): Record<'BERTH_TLS_CERT' | 'BERTH_TLS_KEY' | 'BERTH_TLS_CA', string>;
}

const openssl = (args: readonly string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function validForADay(cert: string): boolean {
  try {
    openssl(['x509', '-checkend', '86400', '-noout', '-in', cert]);
    return true;
  } catch {
    return false;
  }
}

/** Opens (creating when needed) the CA in `dir`. `caName` goes into the CA's subject. */
export function ensurePki(dir: string, caName = 'Berth local CA'): LocalPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  if (!existsSync(caCert) || !existsSync(caKey) || !validForADay(caCert)) {
    openssl(['req', '-x509', ...EC, '-days', '365', '-subj', `/O=Berth/CN=${caName}`, '-keyout', caKey, '-out', caCert]);
    chmodSync(caKey, 0o600);
  }
  let serial = Date.now() * 1000;
  const issue = (kind: IdentityKind, name: string, options: IssueOptions = {}): IdentityFiles => {
    const uri = identityUri(kind, name);
    const stem = options.fileStem ?? `${kind}-${name}`;
    const files = { uri, cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`), ca: caCert };
    if (existsSync(files.cert) && existsSync(files.key) && ((options.days ?? 30) < 0 || validForADay(files.cert))) return files;
    const csr = join(dir, `${stem}.csr`);
    const ext = join(dir, `${stem}.ext`);
    const dns = ['localhost', name, ...(options.dnsNames ?? [])].map((d) => `DNS:${d}`);
    writeFileSync(
      ext,
      `subjectAltName=URI:${uri},${dns.join(',')},IP:127.0.0.1,IP:::1\n` +
        'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n',
    );
    openssl(['req', ...EC, '-subj', `/O=Berth/OU=${kind}/CN=${name}`, '-keyout', files.key, '-out', csr]);
    chmodSync(files.key, 0o600);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-set_serial',
      String(serial++),
      '-days',
      String(options.days ?? 30),
      '-extfile',
      ext,
      '-out',
      files.cert,
    ]);
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
    return files;
  };
  return {
    dir,
    caCert,
    issue,
    envFor: (kind, name) => {
      const f = issue(kind, name);
      return { BERTH_TLS_CERT: f.cert, BERTH_TLS_KEY: f.key, BERTH_TLS_CA: f.ca };
    },
  };
}
