// Certificates for the mTLS tests, made at test time with the openssl binary (never committed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  readonly dir: string;
  readonly ca: Buffer;
  readonly server: { cert: Buffer; key: Buffer };
  /** Identity `spiffe://berth/client/test`. */
  readonly client: { cert: Buffer; key: Buffer };
  /** Signed by the trusted CA but carrying no Berth identity. */
  readonly noIdentity: { cert: Buffer; key: Buffer };
  /** A client certificate signed by a different CA than the server trusts. */
  readonly rogueClient: { cert: Buffer; key: Buffer };
  /** A client certificate carrying the identity `spiffe://berth/client/acme` as URI SAN. */
  readonly acmeClient: { cert: Buffer; key: Buffer };
  /** A client certificate of the operator `spiffe://berth/operator/alice`. */
  readonly aliceOperator: { cert: Buffer; key: Buffer };
  remove(): void;
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'berth-grpc-kit-pki-'));
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

  const makeCa = (name: string): void =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.crt`),
    );
  const makeLeaf = (name: string, ca: string, ext: string): void => {
    writeFileSync(at(`${name}.ext`), ext);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`));
    openssl(
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at(`${ca}.crt`),
      '-CAkey',
      at(`${ca}.key`),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      at(`${name}.ext`),
      '-out',
      at(`${name}.crt`),
    );
  };

  makeCa('berth-test-ca');
  makeCa('rogue-ca');
  makeLeaf('server', 'berth-test-ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeLeaf('client', 'berth-test-ca', 'subjectAltName=URI:spiffe://berth/client/test\nextendedKeyUsage=clientAuth\n');
  makeLeaf('no-identity', 'berth-test-ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf('acme-client', 'berth-test-ca', 'subjectAltName=URI:spiffe://berth/client/acme\nextendedKeyUsage=clientAuth\n');
  makeLeaf('alice-operator', 'berth-test-ca', 'subjectAltName=URI:spiffe://berth/operator/alice\nextendedKeyUsage=clientAuth\n');
  makeLeaf('rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');

  const pair = (name: string): { cert: Buffer; key: Buffer } => ({
    cert: readFileSync(at(`${name}.crt`)),
    key: readFileSync(at(`${name}.key`)),
  });
  return {
    dir,
    ca: readFileSync(at('berth-test-ca.crt')),
    server: pair('server'),
    client: pair('client'),
    noIdentity: pair('no-identity'),
    rogueClient: pair('rogue-client'),
    acmeClient: pair('acme-client'),
    aliceOperator: pair('alice-operator'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
