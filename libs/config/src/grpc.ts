import { z } from 'zod';
import { zDuration } from './zod.ts';

/**
 * The gRPC security variables every service reads (docs/security.md): the bind address (loopback by
 * default; anywhere else requires mutual TLS) and the PEM files of the service's own identity.
 * Spread into a service's schema: `z.object({ ...grpcSecurityShape, ... })`; `grpcSecurity()` from
 * @berth/grpc-kit turns them into server and client TLS settings.
 */
export const grpcSecurityShape = {
  /** Address the gRPC server binds; 127.0.0.1 when unset. */
  GRPC_HOST: z.string().trim().min(1, 'must not be empty').optional(),
  /** This service's certificate (URI SAN spiffe://berth/service/<name>), used as server and client certificate. */
  BERTH_TLS_CERT: z.string().min(1).optional(),
  BERTH_TLS_KEY: z.string().min(1).optional(),
  /** The CA that signs every Berth identity. */
  BERTH_TLS_CA: z.string().min(1).optional(),
};

/**
 * The variable of every service that calls another over gRPC: how long a client channel may stay
 * connecting (never READY) before it is closed and a fresh one serves later calls (grpc-kit's
 * `connectTimeoutMillis`; grpc-js alone never ends a connection attempt a black hole swallowed).
 * Default 20 s; `0` turns the bound off.
 */
export const grpcClientShape = {
  GRPC_CONNECT_TIMEOUT: zDuration().prefault('20s'),
};
