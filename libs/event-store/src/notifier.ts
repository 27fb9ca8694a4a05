import { sql } from 'kysely';
import type { AnyKysely } from './db.ts';
import { outsideCalls } from './call-statements.ts';

const NOTIFY_INTERVAL_MILLIS = 20;

/**
 * Wakes relays and projections (LISTEN) after commits that appended. At most one NOTIFY is in
 * flight; pokes meanwhile fold into one more. A lost notification only delays readers to their poll.
 */
export class CommitNotifier {
  private inFlight = false;
  private again = false;
  constructor(
    private readonly db: AnyKysely,
    private readonly channel: string,
  ) {}

  poke(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    // Shared by every appending call: none of them may cancel it.
    outsideCalls(() => void this.send());
  }

  private async send(): Promise<void> {
    for (;;) {
      this.again = false;
      const started = Date.now();
      try {
        await sql`SELECT pg_notify(${this.channel}, '')`.execute(this.db);
      } catch {
        // Readers poll as a fallback; a failed wake-up is not an append failure.
      }
      if (!this.again) break;
      // Each NOTIFY is a commit of its own: under load, one per interval is plenty.
      const wait = started + NOTIFY_INTERVAL_MILLIS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.inFlight = false;
  }
}
