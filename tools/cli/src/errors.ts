/** Bad command-line input: printed with the usage of the command, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    /** The option or argument at fault, e.g. `--memory`, or '' for the command line as a whole. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(field === '' ? reason : `${field}: ${reason}`);
  }
}
