/**
 * The last decisions this replica made, for `Explain`, bounded so a long-running replica does
 * not grow without limit (the durable record is the explanation inventory stores with the VM).
 */
export interface DecisionRecord {
  readonly vmId: string;
  readonly outcome: 'placed' | 'failed';
  readonly hostId?: string;
  /** The decision as JSON: summary plus breakdowns (placed) or per-filter detail (failed). */
  readonly explanation: string;
  readonly attempts: number;
  readonly decidedAt: string;
}

export class DecisionLog {
  private readonly entries = new Map<string, DecisionRecord>();

  constructor(private readonly capacity = 10_000) {}

  record(entry: DecisionRecord): void {
    // Delete first so re-recording moves the VM to the newest end of the insertion order.
    this.entries.delete(entry.vmId);
    this.entries.set(entry.vmId, entry);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  get(vmId: string): DecisionRecord | undefined {
    return this.entries.get(vmId);
  }

  get size(): number {
    return this.entries.size;
  }
}
