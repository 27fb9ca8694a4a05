import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '@berth/errors';
import { assertSecureBind, grpcSecurity, InsecureBindError, isLoopbackHost } from './security.ts';
import { makePki, type Pki } from './testing/certs.ts';

describe('gRPC security settings', () => {
  let pki: Pki;
  // openssl makes five RSA keys: seconds on a loaded machine.
  beforeAll(() => {
    pki = makePki();
  }, 120_000);
  afterAll(() => pki.remove());

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'inventory', '128.0.0.1', '']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('without TLS variables: plaintext on loopback', () => {
    expect(grpcSecurity({})).toEqual({ host: '127.0.0.1' });
    expect(() => assertSecureBind('inventory', grpcSecurity({}))).not.toThrow();
  });

  it('refuses a non-loopback address without mutual TLS, naming what to set', () => {
    const err = (() => {
      try {
        assertSecureBind('inventory', grpcSecurity({ GRPC_HOST: '0.0.0.0' }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(InsecureBindError);
    expect((err as Error).message).toMatch(
      /inventory: refusing to serve gRPC on 0\.0\.0\.0 without mutual TLS\. Set BERTH_TLS_CERT, BERTH_TLS_KEY and BERTH_TLS_CA/,
    );
  });

  it('with all three files: mutual TLS for the server and the same identity for its clients', () => {
    const security = grpcSecurity({
      GRPC_HOST: '0.0.0.0',
      BERTH_TLS_CERT: join(pki.dir, 'client.crt'),
      BERTH_TLS_KEY: join(pki.dir, 'client.key'),
      BERTH_TLS_CA: join(pki.dir, 'berth-test-ca.crt'),
    });
    expect(security.server?.requireClientCert).toBe(true);
    expect(security.client?.cert).toEqual(pki.client.cert);
    expect(security.client?.ca).toEqual(pki.ca);
    expect(() => assertSecureBind('inventory', security)).not.toThrow();
  });

  it('names the missing or unreadable variable, never a file content', () => {
    expect(() => grpcSecurity({ BERTH_TLS_CERT: join(pki.dir, 'client.crt') })).toThrow(ValidationError);
    expect(() => grpcSecurity({ BERTH_TLS_CERT: join(pki.dir, 'client.crt') })).toThrow(/BERTH_TLS_KEY: is required with BERTH_TLS_CERT/);
    expect(() =>
      grpcSecurity({
        BERTH_TLS_CERT: join(pki.dir, 'client.crt'),
        BERTH_TLS_KEY: join(pki.dir, 'nope.key'),
        BERTH_TLS_CA: join(pki.dir, 'berth-test-ca.crt'),
      }),
    ).toThrow(/BERTH_TLS_KEY: cannot read .*nope\.key/);
  });
});
