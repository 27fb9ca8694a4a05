/**
 * MigrationService: one handler group per file (migrations, evacuations, balancer), joined here.
 * A new group adds its file and one line below.
 */
import { migrationV1 as pb } from '@berth/contracts';
import type { ServiceRegistration } from '@berth/grpc-kit';
import type { BalancerService } from '../../application/balancer.ts';
import type { EvacuationRunner } from '../../application/evacuations.ts';
import { balancerHandlers } from './balancer.ts';
import { evacuationHandlers } from './evacuations.ts';
import { migrationHandlers, type MigrationHandlerDeps } from './migrations.ts';

export type MigrationServiceDeps = MigrationHandlerDeps & { readonly evacuations?: EvacuationRunner; readonly balancer?: BalancerService };

export function migrationService(deps: MigrationServiceDeps): ServiceRegistration {
  const implementation: pb.MigrationServiceServer = {
    ...migrationHandlers(deps),
    ...evacuationHandlers(deps.evacuations),
    ...balancerHandlers(deps.balancer),
  };
  return { definition: pb.MigrationServiceService, implementation: implementation };
}
