/**
 * The default stdout destination is asynchronous: a child process logs and then leaves by
 * process.exit, an uncaught exception or an unhandled rejection; no line may be lost.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const LOGGER = new URL('./logger.ts', import.meta.url).href;
const LINES = 5000;

interface Run {
  readonly code: number | null;
  readonly lines: Record<string, unknown>[];
}

const { LOG_LEVEL: _ignored, ...inherited } = process.env;

function runChild(ending: string, env: Record<string, string> = {}): Promise<Run> {
  const script = `
    import { createLogger } from ${JSON.stringify(LOGGER)};
    const log = createLogger('child');
    for (let i = 0; i < ${LINES}; i++) log.info({ i, pad: 'x'.repeat(200) }, 'line');
    log.warn('last');
    ${ending}
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) =>
    child.once('close', (code) =>
      resolve({
        code,
        lines: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    ),
  );
}

const numbered = (lines: Record<string, unknown>[]): unknown[] => lines.filter((l) => l['msg'] === 'line').map((l) => l['i']);

describe('createLogger to stdout', () => {
  it.each([
    ['process.exit', 'process.exit(3);', 3],
    ['an uncaught exception', "setImmediate(() => { throw new Error('boom'); });", 1],
    ['an unhandled rejection', "void Promise.reject(new Error('boom'));", 1],
  ])('flushes every line, in order, when the process ends by %s', async (_, ending, code) => {
    const run = await runChild(ending);
    expect(run.code).toBe(code);
    expect(numbered(run.lines)).toEqual(Array.from({ length: LINES }, (_, i) => i));
    expect(run.lines.at(-1)).toMatchObject({ level: 'warn', name: 'child', msg: 'last' });
  });

  it('honours LOG_LEVEL', async () => {
    const run = await runChild('', { LOG_LEVEL: 'warn' });
    expect(run.code).toBe(0);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatchObject({ level: 'warn', msg: 'last' });
  });
});
