/** One offending environment variable and why it was rejected. */
export interface ConfigProblem {
  readonly variable: string;
  readonly reason: string;
}

/**
 * Thrown by `loadConfig` when any variable is missing or invalid. It names every offending
 * variable at once, so an operator fixes the environment in one pass instead of one per restart.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.variable}: ${p.reason}`).join('\n'),
    );
    this.problems = problems;
  }
}
