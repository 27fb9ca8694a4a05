/** Evacuation RPCs: served by evacuation-handlers.ts once the service has an EvacuationRunner; UNIMPLEMENTED without one. */
import type { migrationV1 as pb } from '@berth/contracts';
import type { EvacuationRunner } from '../../application/evacuations.ts';
import { evacuationHandlers as served } from './evacuation-handlers.ts';
import { unimplementedUnary } from './unimplemented.ts';

export type EvacuationHandlers = Pick<
  pb.MigrationServiceServer,
  'planEvacuation' | 'startEvacuation' | 'cancelEvacuation' | 'getEvacuation'
>;

export function evacuationHandlers(runner?: EvacuationRunner): EvacuationHandlers {
  if (runner) return served(runner);
  return {
    planEvacuation: unimplementedUnary('PlanEvacuation'),
    startEvacuation: unimplementedUnary('StartEvacuation'),
    cancelEvacuation: unimplementedUnary('CancelEvacuation'),
    getEvacuation: unimplementedUnary('GetEvacuation'),
  };
}
