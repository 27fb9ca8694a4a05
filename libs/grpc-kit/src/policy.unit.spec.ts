import { readFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { BERTH_RPC_POLICY } from './berth-policy.ts';
import { defaultDescriptorSetPath } from './descriptors.ts';
import { ANONYMOUS_CALLER, LOOPBACK_CALLER, parseIdentity, type Caller } from './identity.ts';
import { authorize, roleAdmits, type RpcPolicy } from './policy.ts';

/** Every RPC of every served service in the Buf image (the test-only EchoService excluded). */
function servedRpcs(): string[] {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(defaultDescriptorSetPath()));
  return set.file
    .filter((f) => f.package !== 'berth.testing.v1')
    .flatMap((f) => f.service.flatMap((s) => s.method.map((m) => `${f.package}.${s.name}/${m.name}`)));
}

const who = (uri: string): Caller => parseIdentity(uri) ?? ANONYMOUS_CALLER;
const over = (caller: Caller | 'plaintext') => ({
  getAuthContext: () =>
    caller === 'plaintext'
      ? {}
      : { transportSecurityType: 'ssl', sslPeerCertificate: caller.identity ? { subjectaltname: `URI:${caller.identity}` } : undefined },
});

describe('the authorisation table', () => {
  it('names every RPC of every service, and nothing else', () => {
    const rpcs = servedRpcs();
    expect(rpcs.length).toBeGreaterThan(50);
    expect(rpcs.filter((r) => !(r in BERTH_RPC_POLICY))).toEqual([]);
    expect(Object.keys(BERTH_RPC_POLICY).filter((r) => !rpcs.includes(r))).toEqual([]);
    expect(Object.values(BERTH_RPC_POLICY).every((roles) => roles.length > 0)).toBe(true);
  });

  it('claims only from the scheduler and the migration service', () => {
    for (const rpc of ['ClaimResources', 'ClaimResourcesBatch', 'ReleaseClaim']) {
      const path = `/berth.inventory.v1.InventoryService/${rpc}`;
      expect(authorize(BERTH_RPC_POLICY, path, over(who('spiffe://berth/service/scheduler'))).allowed).toBe(true);
      expect(authorize(BERTH_RPC_POLICY, path, over(who('spiffe://berth/service/migration'))).allowed).toBe(true);
      for (const other of ['spiffe://berth/service/placement-executor', 'spiffe://berth/operator/alice', 'spiffe://berth/client/acme']) {
        expect(authorize(BERTH_RPC_POLICY, path, over(who(other)))).toMatchObject({ allowed: false, code: grpc.status.PERMISSION_DENIED });
      }
    }
  });

  it('host registration only from operators; VM operations from clients and operators', () => {
    const register = '/berth.inventory.v1.InventoryService/RegisterHost';
    expect(authorize(BERTH_RPC_POLICY, register, over(who('spiffe://berth/operator/alice'))).allowed).toBe(true);
    expect(authorize(BERTH_RPC_POLICY, register, over(who('spiffe://berth/client/acme'))).allowed).toBe(false);
    expect(authorize(BERTH_RPC_POLICY, register, over(who('spiffe://berth/service/scheduler'))).allowed).toBe(false);
    const compose = '/berth.inventory.v1.InventoryService/ComposeVm';
    expect(authorize(BERTH_RPC_POLICY, compose, over(who('spiffe://berth/client/acme'))).allowed).toBe(true);
    expect(authorize(BERTH_RPC_POLICY, compose, over(who('spiffe://berth/operator/alice'))).allowed).toBe(true);
    expect(authorize(BERTH_RPC_POLICY, compose, over(who('spiffe://berth/service/scheduler'))).allowed).toBe(false);
  });

  it('over TLS no identity is UNAUTHENTICATED, even for health; on plaintext (loopback) everything is allowed', () => {
    const check = '/grpc.health.v1.Health/Check';
    expect(authorize(BERTH_RPC_POLICY, check, over(ANONYMOUS_CALLER))).toMatchObject({ allowed: false, code: grpc.status.UNAUTHENTICATED });
    expect(authorize(BERTH_RPC_POLICY, check, over(who('spiffe://berth/client/acme'))).allowed).toBe(true);
    expect(authorize(BERTH_RPC_POLICY, '/berth.inventory.v1.InventoryService/ClaimResources', over('plaintext'))).toMatchObject({
      allowed: true,
      caller: LOOPBACK_CALLER,
    });
  });

  it('an RPC missing from a table is denied to everyone, naming the table', () => {
    const policy: RpcPolicy = { 'x.Y/Known': ['authenticated'] };
    const decision = authorize(policy, '/x.Y/Unknown', over(who('spiffe://berth/operator/root')));
    expect(decision).toMatchObject({ allowed: false, code: grpc.status.PERMISSION_DENIED });
    expect(!decision.allowed && decision.details).toMatch(/not in the authorisation table/);
  });

  it('roles: service:<name> admits that service only, service any service, never the anonymous caller', () => {
    expect(roleAdmits('service:scheduler', who('spiffe://berth/service/scheduler'))).toBe(true);
    expect(roleAdmits('service:scheduler', who('spiffe://berth/service/migration'))).toBe(false);
    expect(roleAdmits('service:scheduler', who('spiffe://berth/operator/scheduler'))).toBe(false);
    expect(roleAdmits('service', who('spiffe://berth/service/telemetry'))).toBe(true);
    expect(roleAdmits('service', who('spiffe://berth/client/telemetry'))).toBe(false);
    expect(roleAdmits('authenticated', ANONYMOUS_CALLER)).toBe(false);
  });
});

describe('a call whose auth context cannot be read', () => {
  it('is refused UNAUTHENTICATED (never the plaintext loopback caller, never a thrown error that ends the server)', () => {
    const gone = {
      getAuthContext: (): never => {
        throw new TypeError("Cannot read properties of null (reading 'raw')");
      },
    };
    const d = authorize(BERTH_RPC_POLICY, '/berth.executor.v1.ExecutorService/GetVmRuntime', gone);
    expect(d).toMatchObject({ allowed: false, caller: ANONYMOUS_CALLER, code: grpc.status.UNAUTHENTICATED });
  });
});
