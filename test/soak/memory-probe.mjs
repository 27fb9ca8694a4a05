// Preloaded into each service by the soak (`node --import .../memory-probe.mjs`): every 5 s the
// process writes its own process.memoryUsage() (heap used and total, external, arrayBuffers, RSS) to
// BERTH_MEMORY_PROBE_DIR/<pid>.json, which the soak reads. Heap and the memory V8 counts outside it
// (external: Buffers and other native objects V8 tracks, arrayBuffers among them) are only visible
// from inside the process; nothing else is changed.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';

const dir = process.env['BERTH_MEMORY_PROBE_DIR'];
if (dir) {
  const write = () => {
    const m = process.memoryUsage();
    // Committed size of V8's young generation (new_space, at most twice --max-semi-space-size) and of
    // the old generation: heapTotal is their sum with the smaller spaces.
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
    const file = join(dir, `${process.pid}.json`);
    // Written aside and renamed: the soak never reads half a file.
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({
        at: Date.now(),
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        rss: m.rss,
        newSpace: spaces['new_space'] ?? 0,
        oldSpace: spaces['old_space'] ?? 0,
      }),
    );
    renameSync(`${file}.tmp`, file);
  };
  write();
  setInterval(write, 5000).unref();
}
