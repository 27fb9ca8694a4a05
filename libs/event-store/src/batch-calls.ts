import { callEnded, type CallDeadline } from '@berth/errors';
import type { BatchCommand, BatchCommandResult, Pending } from './batch-decide.ts';
import { onCallEnd } from './call-statements.ts';

/**
 * A command as it waits in a batcher's queue. With a `call`, it is answered with the call's
 * DeadlineExceededError/CancelledError as soon as the call ends while it is not being written
 * (taken out of the queue with `unqueue`), and is then never written.
 */
export function pendingCommand(
  base: Pick<Pending, 'command' | 'trace' | 'resolve' | 'reject'>,
  call: CallDeadline | undefined,
  unqueue: (p: Pending) => void,
): Pending {
  return new QueuedCommand(base.command, base.trace, base.resolve, base.reject, call, unqueue);
}

/** One object per command, its answer methods on the prototype: no closures made per command but the call's watcher. */
class QueuedCommand implements Pending {
  attempts = 0;
  refresh = false;
  writing = false;
  left = false;
  readonly #resolve: (r: BatchCommandResult) => void;
  readonly #reject: (e: unknown) => void;
  readonly #stopWatching: (() => void) | undefined;

  constructor(
    readonly command: BatchCommand,
    readonly trace: Readonly<Record<string, string>>,
    resolve: (r: BatchCommandResult) => void,
    reject: (e: unknown) => void,
    readonly call: CallDeadline | undefined,
    unqueue: (p: Pending) => void,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    if (call === undefined) return;
    this.#stopWatching = onCallEnd(call, () => {
      if (this.writing || this.left) return;
      this.left = true;
      unqueue(this);
      reject(callEnded(call, 'command'));
    });
  }

  resolve(r: BatchCommandResult): void {
    this.#stopWatching?.();
    this.#resolve(r);
  }

  reject(e: unknown): void {
    this.#stopWatching?.();
    this.#reject(e);
  }
}

/** The commands of a batch still wanted: one whose call ended is answered with why, and dropped. */
export function stillWanted(batch: readonly Pending[]): Pending[] {
  return batch.filter((p) => {
    if (p.left) return false;
    const ended = callEnded(p.call, 'command');
    if (ended === undefined) return true;
    p.left = true;
    p.reject(ended);
    return false;
  });
}

/**
 * The call a batch statement is sent for: it ends (and the statement is cancelled) only when every
 * command in it belongs to a call that ended, so no caller still waiting loses its write to another's
 * deadline; its deadline, which bounds the statement in Postgres too, is the latest of theirs (none
 * when one has none). None when a command has no call.
 */
export function statementCall(owners: readonly Pending[]): { readonly call: CallDeadline; dispose(): void } | undefined {
  const calls = new Set<CallDeadline>();
  for (const p of owners) {
    if (p.call === undefined) return undefined;
    calls.add(p.call);
  }
  // One call (a ClaimResourcesBatch's commands all share theirs): the statement's call is that call itself,
  // with nothing to combine or to stop listening to.
  if (calls.size === 1) for (const call of calls) return { call, dispose: noop };
  const controller = new AbortController();
  const running = new Set(calls);
  const unlisten = [...calls].map((c) => {
    const onEnd = (): void => {
      running.delete(c);
      if (running.size === 0) controller.abort(callEnded(c, 'append batch'));
    };
    return onCallEnd(c, onEnd);
  });
  let latest: number | undefined = 0;
  for (const c of calls) latest = c.deadline === undefined || latest === undefined ? undefined : Math.max(latest, c.deadline.getTime());
  return {
    call: { deadline: latest === undefined ? undefined : new Date(latest), signal: controller.signal },
    dispose: () => unlisten.forEach((f) => f()),
  };
}

const noop = (): void => {};
