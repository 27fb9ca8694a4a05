/**
 * The envelope every Berth event travels in, on NATS and in the event logs.
 * Documented for subscribers in other languages in docs/events.md.
 *
 * NATS subject: `berth.<service>.<stream-type>.<EventType>`, with the project before the type for inventory's VM and
 * project streams: e.g. `berth.inventory.vm.acme.VmRequested`, `berth.executor.vm.VmStarted`.
 * Headers: `Nats-Msg-Id` = id (JetStream de-duplication), `traceparent`/`tracestate` (W3C),
 * `Berth-Event-Type`, `Berth-Schema-Version`, `Berth-Stream-Id`, `Berth-Project` (when `project` is set).
 * The body is this object as UTF-8 JSON.
 */
export interface EventEnvelope<TType extends string = string, TData = unknown> {
  /** UUID, unique per event; also the JetStream message id. */
  readonly id: string;
  /** Event type in the past tense, e.g. `VmRequested`. */
  readonly type: TType;
  /** Schema version of `data` for this type; bumped on incompatible change. */
  readonly schemaVersion: number;
  /** Stream (aggregate) the event belongs to, e.g. `vm-7f3c...` or `host-h1`. */
  readonly streamId: string;
  /** 1-based position of the event within its stream. */
  readonly streamPosition: number;
  /** Global position in the producing service's log. */
  readonly globalPosition: string;
  /**
   * Id of the producer's transaction that recorded the event (decimal string). The producer's own
   * projections read its log in (transactionId, globalPosition) order, so this pair is the event's
   * log position: e.g. the scheduler waits until inventory's snapshot projection has passed a
   * VmRequested's position before it calls the VM unplaceable. Absent from events of older producers.
   */
  readonly transactionId?: string;
  /** ISO-8601 time the event was recorded. */
  readonly occurredAt: string;
  /** Id of the command that produced it, for idempotency and correlation. */
  readonly commandId?: string;
  /**
   * The project of the VM the event concerns (inventory's VM and project streams; absent for events
   * that concern no VM, e.g. hosts). Subscribers filter on it, or on the `Berth-Project` header.
   */
  readonly project?: string;
  readonly data: TData;
}
