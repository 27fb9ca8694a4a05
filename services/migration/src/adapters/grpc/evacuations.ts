/** Evacuation RPCs: answered UNIMPLEMENTED until the evacuation planner lands (services/migration/src/domain/evacuation). */
import type { migrationV1 as pb } from '@berth/contracts';
import { unimplementedUnary } from './unimplemented.ts';

export type EvacuationHandlers = Pick<pb.MigrationServiceServer, 'planEvacuation' | 'startEvacuation' | 'cancelEvacuation' | 'getEvacuation'>;

export function evacuationHandlers(): EvacuationHandlers {
  return {
    planEvacuation: unimplementedUnary('PlanEvacuation'),
    startEvacuation: unimplementedUnary('StartEvacuation'),
    cancelEvacuation: unimplementedUnary('CancelEvacuation'),
    getEvacuation: unimplementedUnary('GetEvacuation'),
  };
}
