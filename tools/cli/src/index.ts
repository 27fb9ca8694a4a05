export { runCli, COMMANDS, usage, type CliDeps, type Io } from './cli.ts';
export { CallError, connectBackends, unary, type Backends, type Endpoints } from './grpc.ts';
export { UsageError } from './errors.ts';
