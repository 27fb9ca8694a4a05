/**
 * `@berth/observability/register` in a process of its own, as a service's main.ts uses it: with no
 * exporter (`none`, import-in-the-middle's loader hook left out) and with one (`memory`, the hook
 * registered), a gRPC call from a span carries its trace to the server, whose handler runs under
 * it (the client injects `traceparent`, the server extracts it).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./testing/propagation-child.ts', import.meta.url));

describe('register: trace context crosses gRPC', () => {
  it.each(['none', 'memory'])('with OTEL_TRACES_EXPORTER=%s', async (exporter) => {
    const env = { ...process.env, OTEL_TRACES_EXPORTER: exporter, OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_METRICS_EXPORTER: 'none' };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', child], { env, timeout: 90_000 });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as { sent: string; traceId: string; traceparent: string; patched: object };
    expect(seen.traceId).toBe(seen.sent);
    expect(seen.traceparent).toMatch(new RegExp(`^00-${seen.sent}-[0-9a-f]{16}-0${exporter === 'none' ? 0 : 1}$`));
    expect(seen.patched).toEqual({ serverRegister: true, clientConstructor: true });
  });
});
