import type { EventSubscription, HypervisorDriver, LifecycleEvent } from '@berth/hypervisor';
import type { Logger } from '@berth/observability';
import type { Reconciler } from './reconciler.ts';

const REACT_TO = new Set<LifecycleEvent['kind']>(['stopped', 'crashed', 'undefined']);

/**
 * Follows each host's lifecycle events so a VM whose domain stops behind Berth's back is checked at
 * once rather than at the next poll-frequency tick. Reconciliation stays the safety net: a lost
 * event stream only delays the reaction.
 */
export class LifecycleWatch {
  private readonly subs = new Map<string, EventSubscription>();
  constructor(
    private readonly driverFor: (uri: string) => HypervisorDriver,
    private readonly reconciler: Reconciler,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to hosts not followed yet; safe to call on every sweep. */
  async follow(hosts: ReadonlyMap<string, string>): Promise<void> {
    for (const [hostId, uri] of hosts) {
      if (this.subs.has(uri)) continue;
      try {
        const sub = await this.driverFor(uri).events((e) => {
          if (e.vmId === undefined || !REACT_TO.has(e.kind)) return;
          const vmId = e.vmId;
          void this.reconciler
            .reconcileVm(hostId, uri, vmId)
            .catch((err: unknown) =>
              this.logger.warn(
                { hostId, vmId, err: err instanceof Error ? err.message : String(err) },
                'reacting to a lifecycle event failed',
              ),
            );
        });
        this.subs.set(uri, sub);
      } catch (e) {
        this.logger.warn({ hostId, err: e instanceof Error ? e.message : String(e) }, 'cannot follow lifecycle events');
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.subs.values()].map((s) => s.close()));
    this.subs.clear();
  }
}
