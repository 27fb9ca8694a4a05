/**
 * The harness's TLS mode: with BERTH_TEST_TLS=1 every service the harness starts serves mutual TLS
 * with its own identity (spiffe://berth/service/<name>), and this test process calls them as the
 * operator `spiffe://berth/operator/e2e`: its BERTH_TLS_* variables are set on import, and
 * grpc-kit's createClient presents them by default, so existing tests need no change.
 * The PKI is made once (BERTH_TEST_PKI_DIR, default .berth/test-pki) and reused while valid.
 */
import { join } from 'node:path';
import { ensurePki, type ClientTls, type IdentityKind, type LocalPki } from '@berth/grpc-kit';
import { readFileSync } from 'node:fs';

const repoRoot = new URL('../..', import.meta.url).pathname;

let enabled = process.env['BERTH_TEST_TLS'] === '1';

/** Whether the harness runs services with mutual TLS. */
export const testTlsEnabled = (): boolean => enabled;

/** TLS mode for this test file whatever BERTH_TEST_TLS says (the security tests): call before starting services. */
export function enableTestTls(): void {
  enabled = true;
  Object.assign(process.env, testPki().envFor('operator', 'e2e'));
}

let pki: LocalPki | undefined;

/** The run's PKI (made on first use). */
export function testPki(): LocalPki {
  return (pki ??= ensurePki(process.env['BERTH_TEST_PKI_DIR'] ?? join(repoRoot, '.berth', 'test-pki'), 'Berth test CA'));
}

/** BERTH_TLS_* of a service's identity in TLS mode; nothing otherwise. */
export function serviceTlsEnv(service: string): Record<string, string> {
  return enabled ? testPki().envFor('service', service) : {};
}

/** Client TLS settings of any identity of the test PKI (for tests that call as someone else). */
export function identityTls(kind: IdentityKind, name: string, options?: Parameters<LocalPki['issue']>[2]): ClientTls {
  const f = testPki().issue(kind, name, options);
  return { cert: readFileSync(f.cert), key: readFileSync(f.key), ca: readFileSync(f.ca) };
}

if (enabled) enableTestTls();
