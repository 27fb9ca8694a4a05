/** Plain-text rendering for humans: aligned tables, key/value blocks, sizes. */

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '(none)';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function keyValue(pairs: readonly (readonly [string, string])[]): string {
  const shown = pairs.filter(([, v]) => v !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n');
}

export function section(title: string, body: string): string {
  return `\n${title}\n${body}`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 34359738368 -> `32 GiB`, 1610612736 -> `1.5 GiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let value = Math.abs(n);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 || Number.isInteger(value) ? 0 : value >= 10 ? 1 : 2;
  const text = value.toFixed(digits).replace(/\.?0+$/, '') || '0';
  return `${n < 0 ? '-' : ''}${text} ${UNITS[unit]}`;
}

export function ratio(used: number, total: number, format: (n: number) => string = String): string {
  return `${format(used)} / ${format(total)}`;
}

/** `HOST_STATE_NO_SCHEDULING` with prefix `HOST_STATE_` -> `no-scheduling`. */
export function enumLabel(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase().replace(/_/g, '-') : name.toLowerCase();
}
