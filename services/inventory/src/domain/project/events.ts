import type { DomainEvent } from '../shared/event.ts';

export type ProjectEvent = DomainEvent<'ProjectCreated' | 'ProjectQuotaSet' | 'ProjectVmAdmitted' | 'ProjectVmReleased'>;
export type IdentityEvent = DomainEvent<'IdentityBound' | 'IdentityUnbound'>;
