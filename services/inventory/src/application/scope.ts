import type { NewEvent } from '@berth/event-store';

/**
 * Whose VMs a call may see and act on: every VM (operators, services, the loopback caller), or
 * those of the projects a client identity is bound to (read from the log in each command).
 */
export type Scope = { readonly kind: 'all' } | { readonly kind: 'client'; readonly identity: string };

export const ALL: Scope = Object.freeze({ kind: 'all' });

/** The streams of one command, the first given, others added at the index `add` returns. */
export class CommandStreams {
  readonly ids: string[];
  constructor(first: string) {
    this.ids = [first];
  }
  add(streamId: string): number {
    this.ids.push(streamId);
    return this.ids.length - 1;
  }
  /** No event for any stream yet (one slot each). */
  events(): (readonly NewEvent[])[] {
    return this.ids.map(() => []);
  }
}
