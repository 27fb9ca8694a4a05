import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  io: { stdout: (text) => console.log(text), stderr: (text) => console.error(text) },
});
