// format: numbers, times and JSON for display. Pure functions.

/** @param {number|null|undefined} n */
export function num(n) {
  return n === null || n === undefined ? '–' : n.toLocaleString('en');
}

/** An RFC 3339 time as "2026-12-02 10:31:05" (UTC, as the API gives it). @param {string|null|undefined} iso */
export function time(iso) {
  if (!iso) return '–';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

/** Pretty JSON text (never HTML). @param {unknown} v */
export function pretty(v) {
  return JSON.stringify(v, null, 2);
}

/** One line of JSON, cut. @param {unknown} v @param {number} [max] */
export function oneLine(v, max = 120) {
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** @param {number} bytes */
export function bytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** @param {{rate: number|null, burst: number|null}} l */
export function rateLimit(l) {
  if (l.rate === null) return 'default';
  if (l.rate === 0) return 'unlimited';
  return `${num(l.rate)}/s${l.burst ? ` (burst ${num(l.burst)})` : ''}`;
}
