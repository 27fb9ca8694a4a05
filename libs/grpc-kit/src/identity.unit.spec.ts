import { describe, expect, it } from 'vitest';
import {
  ANONYMOUS_CALLER,
  LOOPBACK_CALLER,
  callerFromSubjectAltName,
  callerOf,
  identityUri,
  parseIdentity,
  type HasAuthContext,
} from './identity.ts';
import { createCallContext } from './context.ts';
import type * as grpc from '@grpc/grpc-js';

const tlsCall = (subjectaltname: string | undefined): HasAuthContext => ({
  getAuthContext: () => ({
    transportSecurityType: 'ssl',
    sslPeerCertificate: subjectaltname === undefined ? undefined : { subjectaltname },
  }),
});

describe('identities', () => {
  it('builds and parses spiffe://berth/<kind>/<name>', () => {
    expect(identityUri('service', 'scheduler')).toBe('spiffe://berth/service/scheduler');
    expect(parseIdentity('spiffe://berth/operator/alice')).toEqual({
      identity: 'spiffe://berth/operator/alice',
      kind: 'operator',
      name: 'alice',
    });
    expect(parseIdentity('spiffe://berth/client/acme-portal')?.kind).toBe('client');
  });

  it('rejects other trust domains, unknown kinds, bad names and extra path segments', () => {
    expect(parseIdentity('spiffe://evil/service/scheduler')).toBeUndefined();
    expect(parseIdentity('spiffe://berth/admin/root')).toBeUndefined();
    expect(parseIdentity('spiffe://berth/anonymous/x')).toBeUndefined();
    expect(parseIdentity('spiffe://berth/service/Scheduler')).toBeUndefined();
    expect(parseIdentity('spiffe://berth/service/scheduler/extra')).toBeUndefined();
    expect(parseIdentity('https://berth/service/scheduler')).toBeUndefined();
    expect(() => identityUri('operator', 'Bad Name')).toThrow(/must match/);
  });

  it('reads exactly one Berth identity from a certificate subjectAltName', () => {
    expect(callerFromSubjectAltName('DNS:localhost, URI:spiffe://berth/service/inventory, IP Address:127.0.0.1')).toMatchObject({
      kind: 'service',
      name: 'inventory',
    });
    expect(callerFromSubjectAltName('DNS:localhost')).toBe(ANONYMOUS_CALLER);
    expect(callerFromSubjectAltName(undefined)).toBe(ANONYMOUS_CALLER);
    // Two identities in one certificate are ambiguous: neither is trusted.
    expect(callerFromSubjectAltName('URI:spiffe://berth/client/a, URI:spiffe://berth/operator/b')).toBe(ANONYMOUS_CALLER);
  });

  it('callerOf: plaintext is the loopback caller (an operator), TLS is the certificate identity or anonymous', () => {
    expect(callerOf({ getAuthContext: () => ({}) })).toBe(LOOPBACK_CALLER);
    expect(callerOf({ getAuthContext: () => null })).toBe(LOOPBACK_CALLER);
    expect(LOOPBACK_CALLER.kind).toBe('operator');
    expect(callerOf(tlsCall('URI:spiffe://berth/client/acme'))).toMatchObject({ kind: 'client', name: 'acme' });
    expect(callerOf(tlsCall(undefined))).toBe(ANONYMOUS_CALLER);
    expect(callerOf(tlsCall('URI:spiffe://other/client/acme'))).toBe(ANONYMOUS_CALLER);
  });

  it('callerOf: a call whose auth context cannot be read (its TLS socket already destroyed) is anonymous, not a thrown error', () => {
    // What grpc-js 1.14 does then: getPeerCertificate() is null and it reads `.raw` of it.
    const gone: HasAuthContext = {
      getAuthContext: () => {
        const peer = null as unknown as { raw: unknown };
        return { transportSecurityType: 'ssl', sslPeerCertificate: peer.raw ? {} : undefined };
      },
    };
    expect(() => gone.getAuthContext()).toThrow(TypeError);
    expect(callerOf(gone)).toBe(ANONYMOUS_CALLER);
  });

  it('a handler context exposes the same caller, and callerOf accepts the context', () => {
    const call = {
      ...tlsCall('URI:spiffe://berth/operator/alice'),
      getPath: () => '/x.Y/Z',
      getDeadline: () => Infinity,
      metadata: {},
      getPeer: () => 'ipv4:127.0.0.1:1',
    };
    const ctx = createCallContext(call as unknown as grpc.ServerUnaryCall<unknown, unknown>);
    expect(ctx.caller).toMatchObject({ kind: 'operator', name: 'alice', identity: 'spiffe://berth/operator/alice' });
    expect(callerOf(ctx)).toBe(ctx.caller);
  });
});
