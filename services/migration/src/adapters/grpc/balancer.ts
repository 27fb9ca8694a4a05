/** Balancer RPCs: answered UNIMPLEMENTED until the balancer lands (services/migration/src/domain/balancer). */
import type { migrationV1 as pb } from '@berth/contracts';
import { unimplementedUnary } from './unimplemented.ts';

export type BalancerHandlers = Pick<pb.MigrationServiceServer, 'getBalancerPolicy' | 'setBalancerPolicy' | 'balancerDryRun'>;

export function balancerHandlers(): BalancerHandlers {
  return {
    getBalancerPolicy: unimplementedUnary('GetBalancerPolicy'),
    setBalancerPolicy: unimplementedUnary('SetBalancerPolicy'),
    balancerDryRun: unimplementedUnary('BalancerDryRun'),
  };
}
