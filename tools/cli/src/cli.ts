import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigFileError } from '@berth/hardware-config';
import { readTlsFiles, type ClientTls } from '@berth/grpc-kit';
import { duration } from './values.ts';
import { configCommands } from './commands/config.ts';
import { hostCommands } from './commands/hosts.ts';
import { balanceCommands } from './commands/balance.ts';
import { hostDrainCommands } from './commands/host-drain.ts';
import { migrationCommands } from './commands/migrations.ts';
import { policyCommands } from './commands/policy.ts';
import { projectCommands } from './commands/projects.ts';
import { policyServiceCommands } from './commands/policy-service.ts';
import { schedulerCommands } from './commands/scheduler.ts';
import { Input, type CommandSpec, type Context, type OptionSpec } from './commands/types.ts';
import { vmCommands } from './commands/vms.ts';
import { vmLifecycleCommands } from './commands/vm-lifecycle.ts';
import { UsageError } from './errors.ts';
import { CallError, connectBackends, type Backends, type Endpoints } from './grpc.ts';

export const COMMANDS: readonly CommandSpec[] = [
  ...hostCommands,
  ...configCommands,
  ...vmCommands,
  ...vmLifecycleCommands,
  ...schedulerCommands,
  ...policyCommands,
  ...policyServiceCommands,
  ...migrationCommands,
  ...projectCommands,
  ...hostDrainCommands,
  ...balanceCommands,
];

const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec & { short?: string }>> = {
  json: { type: 'boolean', help: 'print JSON instead of tables' },
  inventory: { type: 'string', value: 'ADDR', help: 'inventory gRPC address (env BERTH_INVENTORY_ADDR, default 127.0.0.1:50051)' },
  scheduler: { type: 'string', value: 'ADDR', help: 'scheduler gRPC address (env BERTH_SCHEDULER_ADDR, default 127.0.0.1:50052)' },
  telemetry: { type: 'string', value: 'ADDR', help: 'telemetry gRPC address (env BERTH_TELEMETRY_ADDR, default 127.0.0.1:50055)' },
  migration: { type: 'string', value: 'ADDR', help: 'migration gRPC address (env BERTH_MIGRATION_ADDR, default 127.0.0.1:50054)' },
  timeout: { type: 'string', value: 'DURATION', help: 'deadline of each call (default 10s)' },
  'tls-cert': { type: 'string', value: 'FILE', help: 'your certificate for mutual TLS (env BERTH_TLS_CERT; with --tls-key and --tls-ca)' },
  'tls-key': { type: 'string', value: 'FILE', help: 'its private key (env BERTH_TLS_KEY)' },
  'tls-ca': { type: 'string', value: 'FILE', help: 'the Berth CA (env BERTH_TLS_CA)' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface CliDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: Io;
  readonly connect?: (endpoints: Endpoints) => Backends;
  readonly readFile?: (path: string) => Promise<string>;
  readonly readStdin?: () => Promise<string>;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function optionHelp(options: Readonly<Record<string, OptionSpec>>): string {
  return Object.entries(options)
    .map(([name, o]) => `  --${name}${o.value ? ` ${o.value}` : ''}`.padEnd(34) + ` ${o.help}`)
    .join('\n');
}

export function usage(command?: CommandSpec): string {
  if (command) {
    return (
      `usage: berth ${command.words.join(' ')}${command.args.map((a) => ` ${a}`).join('')} [options]\n\n${command.summary}\n\n` +
      `options:\n${optionHelp(command.options) || '  (none)'}\n\nglobal options:\n${optionHelp(GLOBAL_OPTIONS)}`
    );
  }
  const lines = COMMANDS.map((c) => `  ${`${c.words.join(' ')}${c.args.map((a) => ` ${a}`).join('')}`.padEnd(26)} ${c.summary}`);
  return `usage: berth <command> [options]   (berth <command> --help for its options)\n\ncommands:\n${lines.join('\n')}\n\nglobal options:\n${optionHelp(GLOBAL_OPTIONS)}`;
}

/** Finds the command named by the leading words, skipping global options wherever they sit. */
export function findCommand(argv: readonly string[]): { command?: CommandSpec; words: string[] } {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      const name = a.replace(/^-+/, '').split('=')[0]!;
      if (GLOBAL_OPTIONS[name]?.type === 'string' && !a.includes('=')) i++;
      continue;
    }
    words.push(a);
  }
  const command = COMMANDS.find((c) => c.words.every((w, i) => words[i] === w));
  return { words, ...(command && { command }) };
}

export function parseCommandLine(command: CommandSpec, argv: readonly string[]) {
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError('', (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const positionals = [...parsed.positionals];
  for (const w of command.words) positionals.splice(positionals.indexOf(w), 1);
  if (parsed.values.help !== true) {
    const missing = command.args.slice(positionals.length);
    if (missing.length > 0) throw new UsageError(missing[0]!, 'is required');
    if (positionals.length > command.args.length && command.variadic !== true)
      throw new UsageError('', `unexpected argument "${positionals[command.args.length]}"`);
  }
  const args = Object.fromEntries(command.args.map((name, i) => [name, positionals[i] ?? '']));
  return { input: new Input(args, parsed.values, positionals.slice(command.args.length)), values: parsed.values };
}

/** Runs one command line and returns the exit code: 0 ok, 1 the call failed, 2 bad usage. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const { io, env } = deps;
  const { command, words } = findCommand(argv);
  if (!command) {
    const wantsHelp = words.length === 0 || words[0] === 'help' || argv.includes('--help') || argv.includes('-h');
    if (wantsHelp) {
      io.stdout(usage());
      return words.length === 0 && !argv.includes('--help') && !argv.includes('-h') ? 2 : 0;
    }
    io.stderr(`berth: unknown command "${words.join(' ')}"\n\n${usage()}`);
    return 2;
  }
  let backends: Backends | undefined;
  try {
    const { input, values } = parseCommandLine(command, argv);
    if (values.help === true) {
      io.stdout(usage(command));
      return 0;
    }
    const timeout = duration(typeof values.timeout === 'string' ? values.timeout : '10s', '--timeout');
    const json = values.json === true;
    backends = (deps.connect ?? connectBackends)({
      inventory: (typeof values.inventory === 'string' ? values.inventory : undefined) ?? env.BERTH_INVENTORY_ADDR ?? '127.0.0.1:50051',
      scheduler: (typeof values.scheduler === 'string' ? values.scheduler : undefined) ?? env.BERTH_SCHEDULER_ADDR ?? '127.0.0.1:50052',
      telemetry: (typeof values.telemetry === 'string' ? values.telemetry : undefined) ?? env['BERTH_TELEMETRY_ADDR'] ?? '127.0.0.1:50055',
      migration: (typeof values.migration === 'string' ? values.migration : undefined) ?? env.BERTH_MIGRATION_ADDR ?? '127.0.0.1:50054',
      timeoutMillis: timeout,
      ...cliTls(values, env),
    });
    const ctx: Context = {
      backends,
      timeoutMillis: timeout,
      json,
      readFile: deps.readFile ?? ((path) => readFile(path, 'utf8')),
      readStdin: deps.readStdin ?? readAllStdin,
      newId: randomUUID,
      progress: (line) => json || io.stderr(line),
    };
    const result = await command.run(input, ctx);
    io.stdout(json ? (result.jsonText ?? JSON.stringify(result.json, null, 2)) : result.text);
    return result.exitCode ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`berth ${command.words.join(' ')}: ${e.message}\n(berth ${command.words.join(' ')} --help for usage)`);
      return 2;
    }
    if (e instanceof ConfigFileError) {
      io.stderr(`berth ${command.words.join(' ')}: ${e.message}`);
      return 2;
    }
    if (e instanceof CallError) {
      io.stderr(`berth ${command.words.join(' ')}: ${e.describe()}`);
      return 1;
    }
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') {
      io.stderr(`berth ${command.words.join(' ')}: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    backends?.close();
  }
}

/** Mutual TLS from --tls-cert/--tls-key/--tls-ca or BERTH_TLS_CERT/KEY/CA: all three or none. */
function cliTls(values: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>): { tls?: ClientTls } {
  const pick = (flag: string, variable: string): string | undefined => {
    const v = values[flag];
    return (typeof v === 'string' ? v : undefined) ?? env[variable];
  };
  const files = {
    certFile: pick('tls-cert', 'BERTH_TLS_CERT'),
    keyFile: pick('tls-key', 'BERTH_TLS_KEY'),
    caFile: pick('tls-ca', 'BERTH_TLS_CA'),
  };
  const given = Object.values(files).filter((f) => f !== undefined).length;
  if (given === 0) return {};
  if (given < 3)
    throw new UsageError(
      '--tls-cert',
      'mutual TLS needs all of --tls-cert, --tls-key and --tls-ca (or BERTH_TLS_CERT, BERTH_TLS_KEY, BERTH_TLS_CA)',
    );
  try {
    return { tls: readTlsFiles(files) };
  } catch (e) {
    throw new UsageError('', e instanceof Error ? e.message : String(e));
  }
}
