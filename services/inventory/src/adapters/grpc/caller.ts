import { PermissionDeniedError } from '@berth/errors';
import type { CallContext } from '@berth/grpc-kit';
import { ALL, type Scope } from '../../application/scope.ts';

/**
 * Who is calling, as the gRPC kit reports it (`ctx.caller`, from the client certificate; the
 * loopback caller on plaintext). Until the kit carries it, every caller is the loopback operator.
 */
export interface Caller {
  readonly identity: string;
  readonly kind: 'service' | 'operator' | 'client' | 'anonymous';
  readonly name: string;
}

const LOOPBACK: Caller = { identity: 'loopback', kind: 'operator', name: 'loopback' };

export function callerOf(ctx: CallContext): Caller {
  return (ctx as CallContext & { readonly caller?: Caller }).caller ?? LOOPBACK;
}

/**
 * The VMs a caller sees: a client those of its bound projects; services and operators all. An
 * anonymous caller never reaches a handler (the kit's interceptor answers UNAUTHENTICATED); if one
 * did, it is refused here.
 */
export function scopeOf(ctx: CallContext): Scope {
  const caller = callerOf(ctx);
  if (caller.kind === 'anonymous') throw new PermissionDeniedError('the call carries no identity');
  return caller.kind === 'client' ? { kind: 'client', identity: caller.identity } : ALL;
}

/** Projects, quotas and bindings are managed by operators (and services), never by a client. */
export function requireOperator(ctx: CallContext): void {
  if (scopeOf(ctx).kind !== 'all') throw new PermissionDeniedError(`${callerOf(ctx).identity} may not manage projects`);
}
