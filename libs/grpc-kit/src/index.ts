export { createGrpcServer, serviceNameOf, type GrpcServer, type GrpcServerOptions, type ServiceRegistration } from './server.ts';
export { unary, serverStream } from './handlers.ts';
export { CancelledError, DeadlineExceededError, type CallContext } from './context.ts';
export { FIELD_VIOLATIONS_KEY, fieldViolationsOf, isServiceError, knownStatusOf, toGrpcStatus } from './errors.ts';
export {
  callServerStream,
  callUnary,
  createClient,
  effectiveDeadline,
  envClientTls,
  type ClientOptions,
  type StreamMethodName,
  type UnaryCallOptions,
  type UnaryMethodName,
} from './client.ts';
export { KIT_CHANNEL_DEFAULTS } from './channel-options.ts';
export { DEFAULT_CONNECT_TIMEOUT_MILLIS, RenewingChannel } from './renewing-channel.ts';
export { readTlsFiles, type ClientTls, type ServerTls } from './tls.ts';
export { DescriptorIndex, defaultDescriptorSetPath } from './descriptors.ts';
export type { Logger } from './logger.ts';
export { status as GrpcStatus, Metadata } from '@grpc/grpc-js';
export {
  ANONYMOUS_CALLER,
  LOOPBACK_CALLER,
  TRUST_DOMAIN,
  callerFromSubjectAltName,
  callerOf,
  identityUri,
  parseIdentity,
  type Caller,
  type CallerKind,
  type HasAuthContext,
} from './identity.ts';
export { authorize, authorizationInterceptor, roleAdmits, rpcNameOf, type Decision, type Role, type RpcPolicy } from './policy.ts';
export { BERTH_RPC_POLICY } from './berth-policy.ts';
export {
  DEFAULT_GRPC_HOST,
  GRPC_HOST_ENV,
  InsecureBindError,
  assertSecureBind,
  TLS_ENV,
  grpcSecurity,
  isLoopbackHost,
  type GrpcSecurity,
  type GrpcSecuritySettings,
} from './security.ts';
export { ensurePki, type IdentityFiles, type IdentityKind, type IssueOptions, type LocalPki } from './pki.ts';
export { serviceReadiness, type ServiceDependencies } from './readiness.ts';
