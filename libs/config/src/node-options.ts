/**
 * Node options every Berth service process runs with: `npm start`, the end-to-end harness and the
 * container image (infra/docker/service.Dockerfile sets the same) all start services with them.
 *
 * `--max-semi-space-size=64` (MiB; Node 20's default is 16): a service holds many requests in flight
 * and allocates quickly, so small young generations are scavenged often and copy the same live
 * objects each time. Measured under bench:e2e, garbage collection fell by ~40% in inventory and the
 * executor (about 5% and 3% of their CPU) for up to ~150 MiB more memory per process.
 */
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=64';

/** `env` with SERVICE_NODE_OPTIONS after whatever NODE_OPTIONS it already had (a later flag wins). */
export function withServiceNodeOptions(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const before = env['NODE_OPTIONS']?.trim();
  return { ...env, NODE_OPTIONS: before ? `${SERVICE_NODE_OPTIONS} ${before}` : SERVICE_NODE_OPTIONS };
}
