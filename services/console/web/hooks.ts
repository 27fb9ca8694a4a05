import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import type { DeepPartial, MethodName, RequestOf, ResponseOf, ServiceName } from '../src/api.ts';
import { consoleInfo, hostUsage, rpc } from './client.ts';

/** A cached gRPC read: the query key is the method and its request, so any event refreshes it. */
export function useRpc<S extends ServiceName, M extends MethodName<S>>(
  service: S,
  method: M,
  request: DeepPartial<RequestOf<S, M>>,
  options: { enabled?: boolean; refetchInterval?: number } = {},
): UseQueryResult<ResponseOf<S, M>> {
  return useQuery({ queryKey: [service, method, request], queryFn: () => rpc(service, method, request), ...options });
}

export const useInfo = () => useQuery({ queryKey: ['static', 'info'], queryFn: consoleInfo, staleTime: Infinity });

/** Telemetry's measured usage per host; refreshed with the other queries on events, and every sample interval (5 s). */
export const useHostUsage = () => useQuery({ queryKey: ['usage'], queryFn: hostUsage, refetchInterval: 5000 });
