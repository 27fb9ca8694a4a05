import type { Backends } from '../grpc.ts';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** Placeholder shown in help, e.g. `SIZE`. */
  readonly value?: string;
  readonly help: string;
}

export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** Parsed positionals and options of one command. */
export class Input {
  constructor(
    readonly args: Readonly<Record<string, string>>,
    private readonly values: OptionValues,
    /** Positionals after the required ones, for commands that take a list (`variadic`). */
    readonly rest: readonly string[] = [],
  ) {}
  arg(name: string): string {
    return this.args[name] ?? '';
  }
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }
  list(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  }
  flag(name: string): boolean {
    return this.values[name] === true;
  }
}

/** What a command produced: the machine form for --json and the human form. */
export interface Result {
  readonly json: unknown;
  readonly text: string;
  /** Printed as is under --json instead of JSON.stringify(json) (when the JSON must keep 5.0 apart from 5). */
  readonly jsonText?: string;
  /** Exit code when the command ran but its answer is a failure (default 0). */
  readonly exitCode?: number;
}

export interface Context {
  readonly backends: Backends;
  readonly timeoutMillis: number;
  readonly json: boolean;
  readFile(path: string): Promise<string>;
  /** Everything on standard input. */
  readStdin(): Promise<string>;
  /** A fresh command id (UUID) for CommandMeta. */
  newId(): string;
  /** Progress lines while a command waits (`vms create --wait`); silent under --json. */
  progress(line: string): void;
}

export interface CommandSpec {
  readonly words: readonly string[];
  /** Required positionals, e.g. ['HOST', 'STATE']. */
  readonly args: readonly string[];
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Accepts more positionals after `args` (Input.rest). */
  readonly variadic?: boolean;
  run(input: Input, ctx: Context): Promise<Result>;
}

/** Every mutating call carries a command id; `--command-id` lets an operator retry idempotently. */
export const COMMAND_ID_OPTION: Readonly<Record<string, OptionSpec>> = {
  'command-id': { type: 'string', value: 'ID', help: 'idempotency key (default: a fresh UUID); reuse it to retry safely' },
};

export function commandMeta(input: Input, ctx: Context): { commandId: string } {
  return { commandId: input.string('command-id') ?? ctx.newId() };
}
