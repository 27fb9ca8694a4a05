import { z } from 'zod';

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
