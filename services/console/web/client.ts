/**
 * The browser's one typed client: `rpc('inventory', 'listHosts', {...})` posts the request to the
 * console and answers the generated response type of that gRPC method (types from src/api.ts, which
 * takes them from the generated protos).
 */
import type {
  ApiError,
  ConsoleInfo,
  DeepPartial,
  HostUsageAnswer,
  MethodName,
  RequestOf,
  ResponseOf,
  ServiceName,
  TimelineEntry,
} from '../src/api.ts';

export class RpcError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError,
  ) {
    super(
      body.fieldViolations?.length
        ? `${body.message}: ${body.fieldViolations.map((v) => `${v.field} ${v.description}`).join('; ')}`
        : body.message,
    );
  }
}

export async function rpc<S extends ServiceName, M extends MethodName<S>>(
  service: S,
  method: M,
  request: DeepPartial<RequestOf<S, M>>,
): Promise<ResponseOf<S, M>> {
  const res = await fetch(`/api/rpc/${service}/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = (await res.json()) as unknown;
  if (!res.ok) throw new RpcError(res.status, body as ApiError);
  return body as ResponseOf<S, M>;
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path);
  const body = (await res.json()) as unknown;
  if (!res.ok) throw new RpcError(res.status, body as ApiError);
  return body as T;
}

export const consoleInfo = (): Promise<ConsoleInfo> => get('/api/info');
/** Measured usage per host from telemetry (empty when it reports none). */
export const hostUsage = (): Promise<HostUsageAnswer> => get('/api/usage');
export const vmTimeline = (vmId: string): Promise<TimelineEntry[]> => get(`/api/vms/${encodeURIComponent(vmId)}/timeline`);

/** A command id for one operator action (inventory and migration dedupe on it). */
export const commandMeta = (what: string): { commandId: string } => ({ commandId: `console-${what}-${crypto.randomUUID()}` });
