import { PermissionDeniedError } from '@berth/errors';
import type { CallContext } from '@berth/grpc-kit';
import { ALL, type Scope } from '../../application/scope.ts';

/**
 * The VMs a caller sees (`ctx.caller`: the identity in the client certificate, the loopback operator
 * on plaintext): a client those of its bound projects; services and operators all. An anonymous
 * caller never reaches a handler (the kit's interceptor answers UNAUTHENTICATED); if one did, it is
 * refused here.
 */
export function scopeOf(ctx: CallContext): Scope {
  const caller = ctx.caller;
  if (caller.kind === 'anonymous') throw new PermissionDeniedError('the call carries no identity');
  return caller.kind === 'client' ? { kind: 'client', identity: caller.identity } : ALL;
}

/** Projects, quotas and bindings are managed by operators (and services), never by a client. */
export function requireOperator(ctx: CallContext): void {
  if (scopeOf(ctx).kind !== 'all') throw new PermissionDeniedError(`${ctx.caller.identity} may not manage projects`);
}
