/**
 * Berth's one error taxonomy (STYLE.md §7). Domain and application code throw these; the gRPC kit
 * maps them once: ValidationError -> INVALID_ARGUMENT, NotFoundError -> NOT_FOUND,
 * IllegalStateError -> FAILED_PRECONDITION, ConcurrencyError -> ABORTED, anything else -> INTERNAL.
 * Expected business outcomes (a VM that fits nowhere) are events, not errors.
 */

export interface FieldViolation {
  /** Path of the offending field, e.g. `spec.disks[0].sizeBytes`. */
  readonly field: string;
  readonly reason: string;
}

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly violations: readonly FieldViolation[];
  constructor(violations: FieldViolation | readonly FieldViolation[]) {
    const list = Array.isArray(violations) ? (violations as readonly FieldViolation[]) : [violations as FieldViolation];
    super(list.map((v) => `${v.field}: ${v.reason}`).join('; '));
    this.violations = list;
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`);
  }
}

export class IllegalStateError extends Error {
  override readonly name = 'IllegalStateError';
}

export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';
  constructor(
    readonly streamId: string,
    readonly expected: string | number,
    readonly actual: number,
  ) {
    super(`stream ${streamId}: expected version ${expected}, found ${actual}`);
  }
}

/** Collects field violations and throws them all at once. */
export class Violations {
  private readonly list: FieldViolation[] = [];
  add(field: string, reason: string): this {
    this.list.push({ field, reason });
    return this;
  }
  check(ok: boolean, field: string, reason: string): this {
    if (!ok) this.add(field, reason);
    return this;
  }
  get isEmpty(): boolean {
    return this.list.length === 0;
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new ValidationError(this.list);
  }
}

/** One limit a request would pass (google.rpc.QuotaFailure.Violation: `subject` and `description`). */
export interface QuotaViolation {
  /** What the quota belongs to, e.g. `project:acme`. */
  readonly subject: string;
  /** The limit's name, e.g. `vcpus`, `memoryBytes`, `vms`, `devices.gpu`. */
  readonly quota: string;
  readonly limit: number;
  readonly used: number;
  readonly requested: number;
}

/** A request refused because it would pass a quota (RESOURCE_EXHAUSTED); it changed nothing. */
export class QuotaExceededError extends Error {
  override readonly name = 'QuotaExceededError';
  readonly violations: readonly QuotaViolation[];
  constructor(violations: readonly QuotaViolation[]) {
    super(violations.map(describeQuotaViolation).join('; '));
    this.violations = violations;
  }
}

export const describeQuotaViolation = (v: QuotaViolation): string =>
  `${v.subject} quota ${v.quota} exceeded: ${v.used} in use + ${v.requested} requested > limit ${v.limit}`;

/**
 * The caller is known but may not do this (PERMISSION_DENIED). Not used where an answer would reveal
 * that something exists: a client asking for another project's VM gets NotFoundError.
 */
export class PermissionDeniedError extends Error {
  override readonly name = 'PermissionDeniedError';
}

export { CancelledError, DeadlineExceededError, callEnded, millisLeft, type CallDeadline } from './call.ts';
