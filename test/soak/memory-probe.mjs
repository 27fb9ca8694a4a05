// Preloaded into each service by the soak (`node --import .../memory-probe.mjs`): every 5 s the
// process writes its own heap and RSS (process.memoryUsage) to BERTH_MEMORY_PROBE_DIR/<pid>.json,
// which the soak reads. Heap is only visible from inside the process; nothing else is changed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env['BERTH_MEMORY_PROBE_DIR'];
if (dir) {
  const write = () => {
    const m = process.memoryUsage();
    writeFileSync(
      join(dir, `${process.pid}.json`),
      JSON.stringify({ at: Date.now(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss }),
    );
  };
  write();
  setInterval(write, 5000).unref();
}
