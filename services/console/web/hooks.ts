import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import type { DeepPartial, MethodName, RequestOf, ResponseOf, ServiceName } from '../src/api.ts';
import { consoleInfo, rpc } from './client.ts';

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
