/**
 * The operator console in a real headless Chromium (Debian's chromium driven by playwright-core,
 * test/harness/browser.ts) against the real stack on the simulator (test/harness/console-stack.ts:
 * inventory, the scheduler and the console as processes; the executor and the migration service in
 * this process; real Postgres and NATS). Under BERTH_TEST_TLS=1 the services speak mutual TLS and the
 * console calls them as an operator.
 *
 * The fleet (registered through gRPC):
 * - numa-gpu (pool gpu): two NUMA nodes, 2 MiB hugepages on each, two GPUs, an SR-IOV NIC with 8 VFs,
 *   two storage pools (the default one partly used outside Berth), CPU overcommit 2.0; holds a pinned
 *   GPU VM with hugepages and a floating VM.
 * - single (pool edge): one NUMA node, no hugepages, no devices; holds a floating VM.
 * - east-1 / west-1 (pools east / west): the maintenance sources, each with a plain VM and a VM whose
 *   migration mode is none (a blocker); east-1 also has a high-performance VM (a warning).
 * - east-2 / west-2: their destinations, registered with no scheduling and enabled once the VMs sit
 *   on the sources.
 *
 * Every wait is on a condition (what the page shows, what inventory answers), never a fixed sleep,
 * and nothing is timed: the 1 s of "appears within a second" is measured by `npm run bench:console`.
 * Screenshots of each page go to test/artifacts/console/; axe-core must find no serious or critical
 * violation on any page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { inventoryV1, modelV1, telemetry } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { connectNats, openKv } from '@berth/messaging';
import { eventually, infraAvailable } from '@berth/testing';
import { launchChromium, screenshot, seriousA11yViolations } from './harness/browser.ts';
import { startConsoleStack, type ConsoleStack } from './harness/console-stack.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const HS = modelV1.HostState;
const MODE_NONE = modelV1.MigrationMode.MIGRATION_MODE_NONE;
/** Long enough for a loaded 2-core machine; every wait ends as soon as its condition holds. */
const WAIT = 90_000;

const numaNode = (id: number, cpus: number, memoryBytes: number, hugepages2M = 0): modelV1.NumaNode => ({
  id,
  cpus: Array.from({ length: cpus }, (_, c) => id * cpus + c),
  memoryBytes,
  hugepages: hugepages2M > 0 ? [{ pageSizeBytes: 2 * MiB, total: hugepages2M }] : [],
});
const localPool = (totalBytes: number, externalUsedBytes = 0): modelV1.StoragePool => ({
  name: 'local',
  type: 'dir',
  path: '/var/lib/berth/images',
  totalBytes,
  externalUsedBytes,
  isDefault: true,
});
const twoNodeHost = (pool: string): Partial<modelV1.HostSpec> => ({
  cpuModel: 'EPYC-Rome',
  cpus: 8,
  memoryBytes: 32 * GiB,
  topology: { sockets: 2, coresPerSocket: 4, threadsPerCore: 1 },
  numaNodes: [numaNode(0, 4, 16 * GiB), numaNode(1, 4, 16 * GiB)],
  storagePools: [localPool(200 * GiB)],
  resourcePool: pool,
});
const oneNodeHost = (pool: string): Partial<modelV1.HostSpec> => ({
  cpuModel: 'Xeon-E',
  cpus: 8,
  memoryBytes: 16 * GiB,
  topology: { sockets: 1, coresPerSocket: 8, threadsPerCore: 1 },
  numaNodes: [numaNode(0, 8, 16 * GiB)],
  storagePools: [localPool(100 * GiB)],
  resourcePool: pool,
});

const HOSTS: [string, Partial<modelV1.HostSpec>, modelV1.HostState?][] = [
  [
    'numa-gpu',
    {
      cpuModel: 'EPYC-Milan',
      cpus: 16,
      memoryBytes: 64 * GiB,
      cpuOvercommit: 2,
      topology: { sockets: 2, coresPerSocket: 8, threadsPerCore: 1 },
      numaNodes: [numaNode(0, 8, 32 * GiB, 1024), numaNode(1, 8, 32 * GiB, 1024)],
      pciDevices: [
        { type: 'gpu', address: '0000:3b:00.0', numaNode: 0 },
        { type: 'gpu', address: '0000:af:00.0', numaNode: 1 },
      ],
      sriovNics: [{ name: 'ens1f0', numaNode: 0, vfsTotal: 8, networks: [] }],
      storagePools: [
        localPool(500 * GiB, 50 * GiB),
        { name: 'bulk', type: 'dir', path: '/srv/bulk', totalBytes: 2048 * GiB, externalUsedBytes: 0, isDefault: false },
      ],
      resourcePool: 'gpu',
      tags: ['gpu'],
    },
  ],
  ['single', oneNodeHost('edge')],
  ['east-1', twoNodeHost('east')],
  ['east-2', twoNodeHost('east'), HS.HOST_STATE_NO_SCHEDULING],
  ['west-1', oneNodeHost('west')],
  ['west-2', oneNodeHost('west'), HS.HOST_STATE_NO_SCHEDULING],
];

/** VMs composed through gRPC before the browser opens, and the host each must land on. */
const VMS: [string, string, Partial<modelV1.VmSpec>][] = [
  [
    'g-pinned',
    'numa-gpu',
    {
      resourcePool: 'gpu',
      vcpus: 4,
      memoryBytes: 1 * GiB,
      cpuPolicy: modelV1.CpuPolicy.CPU_POLICY_DEDICATED,
      hugepageSizeBytes: 2 * MiB,
      devices: [{ type: 'gpu', count: 1 }],
    },
  ],
  ['g-float', 'numa-gpu', { resourcePool: 'gpu', vcpus: 2, memoryBytes: 2 * GiB }],
  ['s-float', 'single', { resourcePool: 'edge', vcpus: 2, memoryBytes: 2 * GiB }],
  ['a-plain', 'east-1', { resourcePool: 'east', priority: 1 }],
  ['a-hp', 'east-1', { resourcePool: 'east', priority: 10, highPerformance: true, passthroughCpu: true }],
  ['a-stuck', 'east-1', { resourcePool: 'east', priority: 5, migrationMode: MODE_NONE }],
  ['b-plain', 'west-1', { resourcePool: 'west', priority: 1 }],
  ['b-stuck', 'west-1', { resourcePool: 'west', migrationMode: MODE_NONE }],
];

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('the operator console in Chromium', () => {
  let s: ConsoleStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  /** The console's own JSON API (what the browser calls), from this process. */
  const api = async <T>(service: string, method: string, body: unknown): Promise<T> => {
    const res = await fetch(`${s.console.url}/api/rpc/${service}/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as T;
    if (!res.ok) throw new Error(`${service}.${method}: ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const listHosts = async () => (await callUnary(s.inventory, 'listHosts', { state: 0, resourcePool: '', tag: '' })).hosts;

  /** Composes through gRPC once the scheduler sees `hostId` as a fit (its fleet view follows inventory's). */
  const composeOn = async (vmId: string, hostId: string, spec: Partial<modelV1.VmSpec>) => {
    const full = { name: vmId, vcpus: 2, memoryBytes: 2 * GiB, ...spec };
    await eventually(
      async () => {
        const r = await api<{ fits: boolean; hosts: { hostId: string }[] }>('scheduler', 'score', { vm: full, limit: 8 });
        return r.fits && r.hosts.some((h) => h.hostId === hostId);
      },
      `the scheduler to see ${hostId} as a fit for ${vmId}`,
      WAIT,
    );
    await s.compose(vmId, full);
    const vm = await s.waitRunning(vmId, WAIT);
    expect(vm.hostId, `${vmId}'s host`).toBe(hostId);
  };

  /** Waits until the page shows `locator`'s text matching `re` (the page updates itself). */
  const shows = async (selector: string, re: RegExp, timeout = WAIT) => {
    const loc = page.locator(selector).filter({ hasText: re }).first();
    await loc.waitFor({ state: 'visible', timeout });
    return loc;
  };
  const go = async (path: string, heading: RegExp) => {
    await page.goto(`${s.console.url}${path}`);
    await shows('h1', heading);
  };
  /** `attr` of every element matching `selector`, in document order (strings: these tests compile without the DOM library). */
  const attrs = (selector: string, attr: string) =>
    page.evaluate<(string | null)[]>(
      `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => e.getAttribute(${JSON.stringify(attr)}))`,
    );
  const shownHosts = () => attrs('[data-host]', 'data-host');
  const expectAccessible = async () => expect(await seriousA11yViolations(page)).toEqual([]);
  const why = async (testId: string) => {
    const button = page.getByTestId(testId);
    expect(await button.isDisabled(), `${testId} disabled`).toBe(true);
    const described = await button.getAttribute('aria-describedby');
    expect(described, `${testId} has an accessible description`).toBeTruthy();
    return (await page.locator(`[id="${described}"]`).textContent()) ?? '';
  };

  beforeAll(async () => {
    s = await startConsoleStack('console_e2e');
    for (const [hostId, spec, state] of HOSTS) await s.register(hostId, spec, state);
    await Promise.all(
      ['numa-gpu', 'single', 'east-1', 'west-1'].map(async (hostId) => {
        // One host's VMs one after another: the plan's order and the warnings depend on which are there.
        for (const [vmId, on, spec] of VMS) if (on === hostId) await composeOn(vmId, on, spec);
      }),
    );
    await s.setState('east-2', HS.HOST_STATE_ENABLED);
    await s.setState('west-2', HS.HOST_STATE_ENABLED);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1600, height: 1400 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it("fleet: every host's meters equal inventory's ListHosts (overcommit, hugepages per size, VFs, devices, pools); heat map; keyboard", async () => {
    await go('/', /^Fleet$/);
    await shows('.live', /^live$/);
    type Shown = Record<string, unknown>;
    const fromPage = () =>
      page.evaluate<Record<string, Shown>>(`(() => {
        const meter = (el) => el ? { total: +el.dataset.total, allocated: +el.dataset.allocated, other: +el.dataset.other } : null;
        const out = {};
        for (const row of document.querySelectorAll('[data-host]')) {
          const id = row.dataset.host;
          const q = (t) => row.querySelector('[data-testid="' + t + '"]');
          const hugepages = {};
          for (const m of row.querySelectorAll('[data-testid^="hugepages-' + id + '-"]')) hugepages[m.dataset.testid.split('-').pop()] = meter(m);
          const pools = {};
          for (const m of row.querySelectorAll('[data-testid^="pool-' + id + '-"]')) pools[m.dataset.testid.slice(('pool-' + id + '-').length)] = meter(m);
          out[id] = {
            state: q('state-' + id).textContent,
            vcpus: meter(q('vcpus-' + id)),
            caption: q('vcpus-' + id).querySelector('.meter-caption').textContent,
            memory: meter(q('memory-' + id)),
            hugepages,
            vfs: { total: +q('vfs-' + id).dataset.total, used: +q('vfs-' + id).dataset.used },
            devices: { total: +q('devices-' + id).dataset.total, used: +q('devices-' + id).dataset.used },
            pools,
            vms: +q('vms-' + id).textContent,
          };
        }
        return out;
      })()`);
    const states: Record<number, string> = {
      [HS.HOST_STATE_ENABLED]: 'enabled',
      [HS.HOST_STATE_NO_SCHEDULING]: 'no scheduling',
      [HS.HOST_STATE_DISABLED]: 'disabled',
      [HS.HOST_STATE_MAINTENANCE_PREPARING]: 'preparing for maintenance',
      [HS.HOST_STATE_MAINTENANCE]: 'maintenance',
    };
    const expected = (hosts: inventoryV1.Host[]) =>
      Object.fromEntries(
        hosts.map((h) => {
          const u = h.usage!;
          const spec = h.spec!;
          const hugepages: Record<string, { total: number; allocated: number; other: number }> = {};
          for (const n of u.numaNodes)
            for (const p of n.hugepages) {
              const e = (hugepages[String(p.pageSizeBytes)] ??= { total: 0, allocated: 0, other: 0 });
              e.total += p.total;
              e.allocated += p.used;
            }
          const pools = Object.fromEntries(
            u.storagePools.map((p) => {
              const external = spec.storagePools.find((x) => x.name === p.name)?.externalUsedBytes ?? 0;
              return [p.name, { total: p.totalBytes, allocated: p.usedBytes - external, other: external }];
            }),
          );
          return [
            h.hostId,
            {
              state: states[h.state],
              vcpus: { total: u.vcpusAllocatable, allocated: u.vcpusUsed, other: 0 },
              caption: `${spec.cpus} cores × ${(spec.cpuOvercommit ?? 1).toFixed(1)} = ${u.vcpusAllocatable} vCPUs`,
              memory: { total: u.memoryAllocatableBytes, allocated: u.memoryUsedBytes, other: 0 },
              hugepages,
              vfs: { total: u.vfs.reduce((a, v) => a + v.total, 0), used: u.vfs.reduce((a, v) => a + v.used, 0) },
              devices: { total: u.devices.length, used: u.devices.filter((d) => d.vmId).length },
              pools,
              vms: u.vmCount,
            },
          ];
        }),
      );
    // The page follows inventory by itself (events, refetches): wait until both agree, then compare.
    let last: [unknown, unknown] = [undefined, undefined];
    await eventually(
      async () => {
        last = [await fromPage(), expected(await listHosts())];
        return JSON.stringify(last[0]) === JSON.stringify(last[1]);
      },
      'the fleet page to show what ListHosts answers',
      WAIT,
    ).catch(() => undefined);
    expect(last[0]).toEqual(last[1]);
    const shown = last[0] as Record<string, Shown>;
    expect(Object.keys(shown).sort()).toEqual(HOSTS.map(([h]) => h).sort());

    // What the numbers mean, on the mixed hosts.
    expect(shown['numa-gpu']!['caption']).toBe('16 cores × 2.0 = 32 vCPUs');
    expect(shown['numa-gpu']!['hugepages']).toEqual({ [String(2 * MiB)]: { total: 2048, allocated: 512, other: 0 } });
    expect(shown['numa-gpu']!['devices']).toEqual({ total: 2, used: 1 });
    expect(shown['numa-gpu']!['vfs']).toEqual({ total: 8, used: 0 });
    expect((shown['numa-gpu']!['pools'] as Record<string, { other: number }>)['local']!.other).toBe(50 * GiB);
    expect(shown['single']!['hugepages']).toEqual({});
    expect(await page.getByTestId('hugepages-single').textContent()).toBe('none');
    expect(await page.getByTestId('pool-numa-gpu-local').textContent()).toContain('local (default)');
    // Counts are links into filtered lists.
    expect(await page.getByTestId('count-enabled').getAttribute('href')).toBe('/?state=enabled');
    expect(await page.getByTestId('vms-numa-gpu').getAttribute('href')).toBe('/vms?host=numa-gpu');
    await shows('[data-testid="last-updated"]', /^Last updated \d\d:\d\d:\d\d$/);

    // Heat map: a band per 10 % for each pool, a link to the hosts in it; allocation only, and said so,
    // until telemetry reports measured usage.
    const heat = page.getByRole('region', { name: 'Heat map by pool' });
    await shows('[data-testid="heat-source"]', /Allocation only: telemetry reports no measured usage\.$/);
    expect(await page.locator('[data-testid$="-mmem"]').count()).toBe(0);
    const gpuCpuBand = heat.getByRole('link', { name: /^1 hosts in gpu at 10–19 % vCPU allocated$/ });
    // 6 of 32 vCPUs: 18.75 %.
    expect(await gpuCpuBand.getAttribute('href')).toBe('/?pool=gpu&cpu=1');
    await gpuCpuBand.click();
    await shows('[data-testid="shown"]', /^1 of 6 shown$/);
    expect(await shownHosts()).toEqual(['numa-gpu']);

    // Telemetry's reading of numa-gpu in its bucket (as the telemetry service writes it): the heat map
    // adds measured bands for that pool and the host's row shows the reading.
    const nc = await connectNats({ url: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', name: 'console-e2e' });
    try {
      const usage = await openKv(nc, telemetry.HOST_USAGE_BUCKET, { prefix: s.prefix });
      const reading: telemetry.HostUsage = {
        hostId: 'numa-gpu',
        at: new Date().toISOString(),
        memoryTotalBytes: 64 * GiB,
        memoryUsedBytes: 29 * GiB,
        memoryPressure: 29 / 64,
        swapUsedBytes: 0,
        cpuPercent: 72.5,
        guests: 2,
        guestBalloonBytes: 3 * GiB,
        guestAllocatedBytes: 3 * GiB,
        guestRssBytes: 2 * GiB,
      };
      await usage.putJson('numa-gpu', reading);
    } finally {
      await nc.close();
    }
    await go('/', /^Fleet$/);
    await shows('[data-testid="heat-source"]', /measured by telemetry on the 1 of 6 hosts it reports\.$/, WAIT);
    await shows('[data-testid="measured-numa-gpu"]', /^measured: 29 GiB of 64 GiB used, CPU 73 % busy$/);
    expect(await page.locator('[data-testid^="measured-"]').count()).toBe(1);
    expect(await page.locator('[data-testid="heat-edge-mmem"]').count()).toBe(0); // no reading in that pool
    const measuredBand = heat.getByRole('link', { name: /^1 hosts in gpu at 40–49 % memory measured$/ });
    expect(await measuredBand.getAttribute('href')).toBe('/?pool=gpu&mmem=4');
    expect(await heat.getByRole('link', { name: /^1 hosts in gpu at 70–79 % CPU measured$/ }).count()).toBe(1);
    await measuredBand.click();
    await shows('[data-testid="shown"]', /^1 of 6 shown$/);
    expect(await shownHosts()).toEqual(['numa-gpu']);
    await go('/?mmem=0', /^Fleet$/);
    await shows('[data-testid="shown"]', /^0 of 6 shown$/);
    // Search filters the table.
    await go('/', /^Fleet$/);
    await page.getByLabel('Search hosts').fill('west');
    await shows('[data-testid="shown"]', /^2 of 6 shown$/);
    await page.getByLabel('Search hosts').fill('');
    await shows('[data-testid="shown"]', /^6 of 6 shown$/);
    await screenshot(page, 'fleet');
    await expectAccessible();

    // Keyboard: the skip link comes first and lands in the main region; the main views are reachable by keyboard.
    await go('/', /^Fleet$/);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    for (const [label, heading] of [
      ['VMs', /^VMs$/],
      ['Compose a VM', /^Compose a VM$/],
      ['Fleet', /^Fleet$/],
    ] as const) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).focus();
      await page.keyboard.press('Enter');
      await shows('h1', heading);
    }
    // From the fleet to a host and on to one of its VMs, by keyboard alone.
    await tabTo(page, 'numa-gpu');
    await page.keyboard.press('Enter');
    await shows('h1', /^Host numa-gpu/);
    await tabTo(page, 'g-pinned');
    await page.keyboard.press('Enter');
    await shows('h1', /^VM g-pinned/);
    expect(pageErrors).toEqual([]);
  });

  it('host: NUMA nodes side by side with pinned CPUs, hugepages, VFs and devices; a one-node host without hugepages; unpinned VMs', async () => {
    await go('/hosts/numa-gpu', /^Host numa-gpu/);
    const g = await s.getVm('g-pinned');
    const pinned = g.claim!.pinnedCpus;
    expect(pinned).toHaveLength(4);
    const node0 = page.getByTestId('numa-0');
    const node1 = page.getByTestId('numa-1');
    await node0.waitFor();
    await node1.waitFor();
    for (const cpu of pinned) await page.getByRole('listitem', { name: `CPU ${cpu} pinned to g-pinned` }).waitFor();
    expect(await page.getByRole('listitem', { name: /pinned to/ }).count()).toBe(4);
    const onNode = g.claim!.numaCells[0]!.hostNode;
    const vmNode = page.getByTestId(`numa-${onNode}`);
    expect(await vmNode.getByRole('link', { name: 'g-pinned' }).count()).toBe(1);
    expect(await vmNode.textContent()).toContain('Hugepages 2 MiB');
    expect(await node0.textContent()).toContain('ens1f0: 0/8 used');
    // The floating VM is shown, under the unpinned VMs.
    expect(await page.getByTestId('unpinned').getByRole('link', { name: 'g-float' }).count()).toBe(1);
    // Devices by address with their holder, storage pools with the default marked.
    const gpuAddress = g.claim!.devices[0]!.address;
    const devices = page.getByRole('table', { name: 'Devices' });
    expect(await devices.getByRole('row', { name: new RegExp(gpuAddress.replaceAll('.', '\\.')) }).textContent()).toContain('g-pinned');
    expect(await page.getByRole('table', { name: 'Storage pools' }).textContent()).toMatch(/local \(default\)/);
    await screenshot(page, 'host-numa');
    await expectAccessible();

    await go('/hosts/single', /^Host single/);
    await page.getByTestId('numa-0').waitFor();
    expect(await page.locator('[data-testid^="numa-"]').count()).toBe(1);
    expect(await page.getByTestId('numa-0').textContent()).toContain('No hugepages on this node.');
    expect(await page.getByTestId('unpinned').getByRole('link', { name: 's-float' }).count()).toBe(1);
    await shows('p', /No PCI devices or SR-IOV NICs\./);
    await screenshot(page, 'host-single');
    await expectAccessible();
    expect(pageErrors).toEqual([]);
  });

  it('live: a VM composed through gRPC shows up on the open VMs page (no reload) and reaches running there', async () => {
    await go('/vms', /^VMs$/);
    await shows('.live', /^live$/);
    await page.locator('[data-vm="g-pinned"]').waitFor();
    await page.evaluate('window.__sameDocument = true');
    const receivedBefore = parseInt((await page.getByTestId('events-received').textContent()) ?? '0', 10);
    await s.compose('live-1', { resourcePool: 'edge', vcpus: 1, memoryBytes: 1 * GiB });
    await page.locator('[data-vm="live-1"]').waitFor({ timeout: WAIT });
    await page.locator('[data-vm="live-1"][data-status="running"]').waitFor({ timeout: WAIT });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    expect(parseInt((await page.getByTestId('events-received').textContent()) ?? '0', 10)).toBeGreaterThan(receivedBefore);
    expect(await page.getByTestId('feed').locator('li[data-stream="vm-live-1"]').count()).toBeGreaterThan(0);
    expect((await s.getVm('live-1')).status).toBe(inventoryV1.VmStatus.VM_STATUS_RUNNING);
    await screenshot(page, 'vms');
    await expectAccessible();
    expect(pageErrors).toEqual([]);
  });

  it('VM story: spec and claim, the lifecycle timeline, the placement explanation; disabled actions say why', async () => {
    await go('/vms/g-pinned', /^VM g-pinned/);
    const claim = page.getByTestId('claim');
    await claim.waitFor();
    const g = await s.getVm('g-pinned');
    expect(await claim.textContent()).toContain(g.claim!.devices[0]!.address);
    await shows('[data-testid="timeline"] li', /→ running on numa-gpu/);
    const story = await page.evaluate<string[]>(
      `[...document.querySelectorAll('[data-testid="timeline"] li')].map((li) => li.dataset.type + ' → ' + (/→ ([^(]+)/.exec(li.textContent) ?? [])[1]?.trim())`,
    );
    // requested → placed → provisioning → running, from the VM's own events.
    expect(story).toEqual([
      'VmRequested → requested',
      'VmPlaced → placed on numa-gpu',
      'VmProvisioningStarted → provisioning on numa-gpu',
      'VmBecameRunning → running on numa-gpu',
    ]);
    await shows('[data-testid="timeline-total"]', /to .*: /);
    await page.getByTestId('explanation').waitFor();
    expect(await page.getByTestId('chosen-host').textContent()).toContain('numa-gpu');
    // Why not: a running VM does not start; a `none` VM does not migrate.
    expect(await why('vm-start')).toBe('only a stopped VM starts: it is running');
    await screenshot(page, 'vm');
    await expectAccessible();

    await go('/vms/b-stuck', /^VM b-stuck/);
    await page.getByTestId('vm-migrate').waitFor();
    expect(await why('vm-migrate')).toBe('not migratable: mode none');
    // On a host page: setting the state it is in says why not.
    await go('/hosts/single', /^Host single/);
    await page.getByLabel('New state').selectOption({ label: 'enabled' });
    expect(await why('set-state')).toBe('the host is in that state already');
    expect(pageErrors).toEqual([]);
  });

  it('compose from the console: the placement preview from Score, then the VM with its timeline and explanation', async () => {
    await go('/compose', /^Compose a VM$/);
    expect(await why('compose-submit')).toBe('give the VM a name');
    await page.getByLabel('Name', { exact: true }).fill('from-console');
    expect(await why('compose-submit')).toBe('preview the placement first');
    await page.getByLabel('vCPUs', { exact: true }).fill('1');
    await page.getByLabel('Memory (GiB)', { exact: true }).fill('1');
    await page.getByLabel('Resource pool', { exact: true }).fill('edge');
    await page.getByRole('button', { name: 'Preview placement' }).click();
    const preview = page.getByTestId('placement-preview');
    await preview.waitFor({ timeout: WAIT });
    expect(await preview.getAttribute('data-fits')).toBe('true');
    expect(await preview.getByTestId('chosen-host').textContent()).toContain('single');
    await screenshot(page, 'compose');
    await expectAccessible();
    expect(await page.getByTestId('compose-submit').isEnabled()).toBe(true);
    await page.getByTestId('compose-submit').click();
    await page.waitForURL(/\/vms\/from-console-[0-9a-f]{8}$/, { timeout: WAIT });
    const vmId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    await shows('[data-testid="vm-status"]', /^running$/);
    await shows('[data-testid="timeline"] li', /→ running on single/);
    await page.getByTestId('explanation').waitFor({ timeout: WAIT });
    expect(await page.getByTestId('chosen-host').textContent()).toContain('single');
    const vm = await s.getVm(vmId);
    expect(vm.hostId).toBe('single');
    expect(vm.spec!.resourcePool).toBe('edge');
    expect(pageErrors).toEqual([]);
  });

  it('maintenance from the console: preview with a warning and a blocker, confirm, watch the drain, stop the blocker, done; cancel a second one', async () => {
    await go('/hosts/east-1', /^Host east-1/);
    // The migration service's fleet view follows inventory's: ask again until it sees the enabled destination.
    const plan = page.getByTestId('evacuation-plan');
    await eventually(
      async () => {
        if (await plan.isVisible()) await page.getByRole('button', { name: 'Close preview' }).click();
        await page.getByTestId('preview-maintenance').click();
        await plan.waitFor({ timeout: WAIT });
        return (
          (await plan.locator('[data-testid^="move-"]').count()) === 2 && (await plan.locator('[data-testid^="blocker-"]').count()) === 1
        );
      },
      'a plan with two moves and one blocker',
      WAIT,
      500,
    );
    expect(await attrs('[data-testid="evacuation-plan"] [data-testid^="move-"]', 'data-testid')).toEqual(['move-a-hp', 'move-a-plain']);
    expect(await plan.getByTestId('move-a-hp').textContent()).toMatch(/Warning: .*performance may decrease/);
    expect(await plan.getByTestId('move-a-hp').textContent()).toContain('east-2');
    expect(await plan.getByTestId('blocker-a-stuck').textContent()).toMatch(/migration mode is none.*change its migration mode/);
    await screenshot(page, 'maintenance-preview');
    await expectAccessible();
    expect((await s.getVm('a-plain')).hostId).toBe('east-1'); // a preview changes nothing

    await page.getByTestId('confirm-maintenance').click();
    // Watch it drain: both movable VMs move, the drain waits on the blocker.
    await page.locator('[data-testid="evac-move-a-hp"][data-status="completed"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="evac-move-a-plain"][data-status="completed"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="evacuation"][data-status="blocked"]').waitFor({ timeout: WAIT });
    await shows('h1', /preparing for maintenance/);
    expect(await why('preview-maintenance')).toBe('an evacuation is in progress');
    await screenshot(page, 'maintenance-blocked');
    await expectAccessible();
    for (const vmId of ['a-hp', 'a-plain']) expect((await s.getVm(vmId)).hostId).toBe('east-2');

    // The operator stops the blocker from its page; the drain moves it cold and the host reaches maintenance.
    await go('/vms/a-stuck', /^VM a-stuck/);
    expect(await why('vm-migrate')).toBe('not migratable: mode none');
    await page.getByTestId('vm-stop').click();
    await shows('[data-testid="vm-status"]', /^stopped$/);
    await go('/hosts/east-1', /^Host east-1/);
    await page.locator('[data-testid="evacuation"][data-status="completed"]').waitFor({ timeout: WAIT });
    await shows('h1', /maintenance$/);
    expect(await attrs('[data-testid="evacuation"] tbody tr', 'data-status')).toEqual(['completed', 'completed', 'completed']);
    expect(await why('cancel-maintenance')).toBe('the evacuation is completed');
    expect((await s.getVm('a-stuck')).hostId).toBe('east-2');

    // A second maintenance, cancelled while it waits on its blocker: the host goes back to enabled.
    await go('/hosts/west-1', /^Host west-1/);
    await eventually(
      async () => {
        if (await plan.isVisible()) await page.getByRole('button', { name: 'Close preview' }).click();
        await page.getByTestId('preview-maintenance').click();
        await plan.waitFor({ timeout: WAIT });
        return (
          (await plan.locator('[data-testid^="move-"]').count()) === 1 && (await plan.locator('[data-testid^="blocker-"]').count()) === 1
        );
      },
      'a plan with one move and one blocker',
      WAIT,
      500,
    );
    await page.getByTestId('confirm-maintenance').click();
    await page.locator('[data-testid="evacuation"][data-status="blocked"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="evac-move-b-plain"][data-status="completed"]').waitFor({ timeout: WAIT });
    await page.getByTestId('cancel-maintenance').click();
    await page.locator('[data-testid="evacuation"][data-status="cancelled"]').waitFor({ timeout: WAIT });
    await shows('h1', /enabled$/);
    expect((await callUnary(s.inventory, 'getHost', { hostId: 'west-1' })).host!.state).toBe(HS.HOST_STATE_ENABLED);
    expect((await s.getVm('b-stuck')).hostId).toBe('west-1');
    expect((await s.getVm('b-plain')).hostId).toBe('west-2');
    await screenshot(page, 'maintenance-cancelled');
    await expectAccessible();
    expect(pageErrors).toEqual([]);
  });
});

/** Presses Tab until the focused element is the link named `name` (at most 200 steps). */
async function tabTo(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate<{ tag: string; text: string }>(
      `({ tag: document.activeElement.tagName, text: (document.activeElement.textContent || '').trim() })`,
    );
    if (focused.tag === 'A' && focused.text === name) return;
  }
  throw new Error(`no link named ${name} within 200 Tab presses`);
}
