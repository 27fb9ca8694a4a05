import { ValidationError } from '@berth/errors';

/**
 * A configuration problem at a place in a file. It is a ValidationError (field = key) so a service
 * that parses configuration text answers INVALID_ARGUMENT with the same wording the CLI prints.
 * Message: `cost-functions.conf:12: ticrypt.vm.cost-functions.simple.vcpus.soft: expected a number or bytes`.
 */
export class ConfigFileError extends ValidationError {
  readonly file: string;
  readonly line: number;
  readonly key: string;
  readonly reason: string;
  constructor(where: { file: string; line: number }, key: string, reason: string) {
    super({ field: key, reason: `${where.file}:${where.line}: ${reason}` });
    this.file = where.file;
    this.line = where.line;
    this.key = key;
    this.reason = reason;
    this.message = key === '' ? `${where.file}:${where.line}: ${reason}` : `${where.file}:${where.line}: ${key}: ${reason}`;
  }
}

/** Joins key segments into a HOCON path, quoting segments that would not read back as one. */
export function joinKey(prefix: string, segment: string): string {
  const quoted = /^[A-Za-z0-9_-]+$/.test(segment) ? segment : JSON.stringify(segment);
  return prefix === '' ? quoted : `${prefix}.${quoted}`;
}
