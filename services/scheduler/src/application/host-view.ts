import type { HostSnapshot } from '@berth/fit';

/**
 * The scheduler's only state: the latest snapshot of every host, rebuilt from the KV bucket on
 * start. Updates may arrive out of order (a watch and a direct read racing), so an older
 * generation never replaces a newer one.
 */
export class HostView {
  private readonly hosts = new Map<string, HostSnapshot>();
  private cache: readonly HostSnapshot[] | undefined;

  /** Returns true when the snapshot replaced what the view held. */
  upsert(snapshot: HostSnapshot): boolean {
    const id = snapshot.capacity.hostId;
    const current = this.hosts.get(id);
    if (current !== undefined && current.generation > snapshot.generation) return false;
    this.hosts.set(id, snapshot);
    this.cache = undefined;
    return true;
  }

  remove(hostId: string): void {
    if (this.hosts.delete(hostId)) this.cache = undefined;
  }

  get(hostId: string): HostSnapshot | undefined {
    return this.hosts.get(hostId);
  }

  /** All hosts, ordered by id so decisions do not depend on arrival order. */
  all(): readonly HostSnapshot[] {
    this.cache ??= [...this.hosts.values()].sort((a, b) =>
      a.capacity.hostId < b.capacity.hostId ? -1 : a.capacity.hostId > b.capacity.hostId ? 1 : 0,
    );
    return this.cache;
  }

  get size(): number {
    return this.hosts.size;
  }
}
