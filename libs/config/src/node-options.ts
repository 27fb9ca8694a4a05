/**
 * Node flags every Berth service process runs with: `npm start`, the end-to-end harness and the
 * container image (infra/docker/service.Dockerfile passes the same) start `tsx <flags> src/main.ts`.
 * They are command-line flags, not NODE_OPTIONS, which does not accept `--single-threaded-gc`.
 *
 * - `--max-semi-space-size=64` (MiB; Node 20's default is 16): a service holds many requests in
 *   flight and allocates quickly, so small young generations are scavenged often and copy the same
 *   live objects each time. Under bench:e2e garbage collection fell by ~40% in inventory and the
 *   executor, for up to ~150 MiB more memory per process.
 * - `--single-threaded-gc`: no GC helper threads. A Berth machine runs several services, Postgres and
 *   NATS on few cores; a parallel scavenge there waits for helpers that wait for a core. Under
 *   bench:e2e (2 cores, 3 services) throughput rose in 5 of 5 interleaved pairs (+30 to +70 VMs/s),
 *   with ~2% less service CPU per VM. On a host with cores to spare for one service, drop it.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--single-threaded-gc'];
