import * as grpc from '@grpc/grpc-js';
import { callerOf, type Caller } from './identity.ts';
import type { Logger } from './logger.ts';

/**
 * Who may call an RPC: `operator`, `client`, `service` (any Berth service), `service:<name>` (one
 * service), or `authenticated` (anyone with a Berth identity).
 */
export type Role = 'operator' | 'client' | 'service' | `service:${string}` | 'authenticated';

/** Fully-qualified RPC name (`berth.inventory.v1.InventoryService/ClaimResources`) → roles allowed. */
export type RpcPolicy = Readonly<Record<string, readonly Role[]>>;

export type Decision =
  | { readonly allowed: true; readonly caller: Caller }
  | { readonly allowed: false; readonly caller: Caller; readonly code: grpc.status; readonly details: string };

/** `/pkg.Service/Method` → `pkg.Service/Method`. */
export const rpcNameOf = (path: string): string => path.replace(/^\//, '');

export function roleAdmits(role: Role, caller: Caller): boolean {
  if (caller.kind === 'anonymous') return false;
  if (role === 'authenticated') return true;
  if (role === caller.kind) return true;
  return caller.kind === 'service' && role === `service:${caller.name}`;
}

/**
 * The one authorisation decision. A plaintext call is the loopback caller (only loopback may serve
 * plaintext) and authentication is off: allowed. Over TLS: no Berth identity → UNAUTHENTICATED;
 * an RPC missing from the table or a caller none of its roles admit → PERMISSION_DENIED.
 */
export function authorize(policy: RpcPolicy, path: string, call: Parameters<typeof callerOf>[0]): Decision {
  const caller = callerOf(call);
  if (caller.identity === 'loopback') return { allowed: true, caller };
  const rpc = rpcNameOf(path);
  if (caller.kind === 'anonymous') {
    return {
      allowed: false,
      caller,
      code: grpc.status.UNAUTHENTICATED,
      details: `${rpc}: the client certificate carries no Berth identity (a URI SAN spiffe://berth/<service|operator|client>/<name>)`,
    };
  }
  const roles = Object.hasOwn(policy, rpc) ? policy[rpc] : undefined;
  if (roles?.some((r) => roleAdmits(r, caller))) return { allowed: true, caller };
  return {
    allowed: false,
    caller,
    code: grpc.status.PERMISSION_DENIED,
    details: roles
      ? `${caller.identity} may not call ${rpc} (allowed: ${roles.join(', ')})`
      : `${rpc} is not in the authorisation table: denied to everyone`,
  };
}

/**
 * The interceptor that enforces a policy before any handler runs: a refused call is answered from
 * its metadata; neither the metadata nor the request is passed on, so no handler (hence no append) sees it.
 */
export function authorizationInterceptor(policy: RpcPolicy, logger: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    const decision = authorize(policy, method.path, call);
    if (decision.allowed) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: () => {
            logger.warn(
              { rpc: rpcNameOf(method.path), caller: decision.caller.identity, code: grpc.status[decision.code] },
              'gRPC call refused',
            );
            call.sendStatus({ code: decision.code, details: decision.details, metadata: new grpc.Metadata() });
          },
          onReceiveMessage: () => undefined,
          onReceiveHalfClose: () => undefined,
        });
      },
    });
  };
}
