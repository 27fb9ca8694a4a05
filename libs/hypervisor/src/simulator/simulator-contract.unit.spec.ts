import { driverContract } from '../testing/contract.ts';
import { domainName } from '../naming.ts';
import { SimulatorFleet } from './simulator.ts';

// The simulator is a product feature (demo fleet, benchmarks): it must keep the drivers' contract.
driverContract('simulator', async () => {
  const fleet = new SimulatorFleet();
  const driver = fleet.driver(fleet.addHost({ hostId: 'contract', cpus: 8, memoryBytes: 16 * 1024 ** 3, numaNodes: 2 }));
  return { driver, pool: 'default', domainName };
});
