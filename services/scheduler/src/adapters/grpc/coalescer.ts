export interface CoalescerOptions {
  /** Requests per batch (default 256). */
  readonly maxBatch?: number;
  /** Batches on the wire at once (default 2). */
  readonly maxInFlight?: number;
}

interface Waiting<Req, Res> {
  readonly req: Req;
  readonly resolve: (r: Res) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Sends what callers submit one at a time in batches. A submission to an idle coalescer leaves in
 * the next turn of the event loop with whatever else arrived in that turn (no timer, no added
 * wait); while `maxInFlight` batches are on the wire, submissions queue and leave together as the
 * next batch. `send` answers a batch in request order; if it throws, every request of the batch
 * is rejected with that error.
 */
export class Coalescer<Req, Res> {
  private readonly queue: Waiting<Req, Res>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly send: (batch: readonly Req[]) => Promise<readonly Res[]>,
    opts: CoalescerOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxInFlight = opts.maxInFlight ?? 2;
  }

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.sendBatch(batch).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  private async sendBatch(batch: readonly Waiting<Req, Res>[]): Promise<void> {
    try {
      const results = await this.send(batch.map((w) => w.req));
      if (results.length !== batch.length) throw new Error(`batch of ${batch.length} answered with ${results.length} results`);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }
}
