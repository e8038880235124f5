// charts: the last 15 minutes, hour or day from Prometheus (through
// GET /api/prometheus/query_range): messages published and stored per
// second, queue depth, busy workers, publish->stored latency p50 and p99;
// overall, or for one tenant. uPlot (npm, vendored) draws them; it is
// loaded when a chart is first shown. Without a Prometheus the panel says
// so instead.
import { html, useEffect, useRef, useState } from '../../vendor/htm-preact.js';
import { ApiError, queryRange } from '../api.js';
import { num } from '../format.js';
import { ProblemView } from '../ui/problem.js';
import { loadAssets } from '../ui/assets.js';

const RANGES = [
  { key: '15m', label: '15 minutes', seconds: 900, step: 15 },
  { key: '1h', label: '1 hour', seconds: 3600, step: 30 },
  { key: '24h', label: '24 hours', seconds: 86400, step: 600 },
];

const loadUplot = () => loadAssets('/vendor/uplot/uPlot.iife.min.js', '/vendor/uplot/uPlot.min.css', 'uPlot');

/**
 * The charts and their PromQL; sel is the label selector ('' or
 * `{tenant="..."}`), rng the rate window.
 * @param {string} sel
 * @param {string} rng
 */
function specs(sel, rng) {
  const tsel = sel ? sel.replace('}', ',') : '{';
  return [
    { id: 'rates', title: 'Messages per second', unit: '/s', series: [
      ['published', `sum(rate(mtm_messages_published_total${sel}[${rng}]))`],
      ['stored', `sum(rate(mtm_messages_stored_total${sel}[${rng}]))`]] },
    { id: 'depth', title: 'Queue depth', unit: '', series: [['queued', `sum(mtm_queue_depth${sel})`]] },
    { id: 'busy', title: 'Busy workers', unit: '', series: [['busy', `sum(mtm_workers_busy${sel})`], ['running', `sum(mtm_workers_running${sel})`]] },
    { id: 'latency', title: 'Publish → stored latency', unit: ' s', series: [
      ['p50', `histogram_quantile(0.5, sum by (le) (rate(mtm_publish_to_stored_seconds_bucket${tsel}le!=""}[${rng}])))`],
      ['p99', `histogram_quantile(0.99, sum by (le) (rate(mtm_publish_to_stored_seconds_bucket${tsel}le!=""}[${rng}])))`]] },
  ];
}

const COLOURS = ['#1f5f99', '#c2410c', '#15803d'];

/** One chart: uPlot on a canvas, with a text summary for screen readers. */
function Chart({ spec, data }) {
  /** @type {{current: HTMLDivElement|null}} */
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !data) return undefined;
    const U = /** @type {any} */ (window).uPlot;
    const plot = new U({
      width: Math.max(240, el.clientWidth),
      height: 160,
      series: [{}, ...spec.series.map(([label], i) => ({ label, stroke: COLOURS[i], width: 2 }))],
      axes: [{}, { size: 60 }],
      legend: { live: false },
    }, data, el);
    const onResize = () => plot.setSize({ width: Math.max(240, el.clientWidth), height: 160 });
    addEventListener('resize', onResize);
    return () => { removeEventListener('resize', onResize); plot.destroy(); };
  }, [data]);
  const last = data ? spec.series.map(([label], i) => {
    const ys = data[i + 1];
    const v = ys.length ? ys[ys.length - 1] : null;
    return `${label} ${v === null || Number.isNaN(v) ? 'no data' : `${num(Math.round(v * 100) / 100)}${spec.unit}`}`;
  }).join(', ') : '';
  return html`<figure class="chart">
    <figcaption>${spec.title} <span class="sub">(now: ${last || '…'})</span></figcaption>
    <div ref=${box} role="img" aria-label=${`${spec.title}; latest: ${last}`}></div>
  </figure>`;
}

/** Series of one query aligned on the range's time steps. */
function align(result, times) {
  const at = new Map((result[0]?.values || []).map(([t, v]) => [t, Number(v)]));
  return times.map((t) => (at.has(t) ? at.get(t) : null));
}

/** @param {{tenant?: string}} props */
export function Charts({ tenant }) {
  const [range, setRange] = useState(RANGES[0]);
  const [data, setData] = useState(/** @type {Record<string, any[]>|null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [missing, setMissing] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), 30000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    let stopped = false;
    const sel = tenant ? `{tenant="${tenant}"}` : '';
    const rng = range.step * 4 >= 60 ? `${range.step * 4}s` : '1m';
    const end = Math.floor(Date.now() / 1000); // not rounded down: the newest samples count
    const start = end - range.seconds;
    const times = [];
    for (let t = start; t <= end; t += range.step) times.push(t);
    // One query first: without a Prometheus it is the only one made.
    const [first, ...rest] = specs(sel, rng).flatMap((c) => c.series.map(([, q]) => q));
    queryRange(first, start, end, range.step)
      .then((r0) => Promise.all([loadUplot(), r0, ...rest.map((q) => queryRange(q, start, end, range.step))]))
      .then(([, ...flat]) => {
        /** @type {any[][]} */
        const results = [];
        for (const c of specs(sel, rng)) results.push(flat.splice(0, c.series.length));
        if (stopped) return;
        /** @type {Record<string, any[]>} */
        const out = {};
        specs(sel, rng).forEach((c, i) => { out[c.id] = [times, ...results[i].map((r) => align(r, times))]; });
        setData(out);
        setError(null);
        setMissing(false);
      }, (e) => {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 503 && e.problem && /** @type {any} */ (e.problem).configured === false) setMissing(true);
        else setError(e);
      });
    return () => { stopped = true; };
  }, [tenant, range, tick]);

  return html`<section class="card" aria-labelledby="charts-h">
    <div class="toolbar">
      <h2 id="charts-h">History</h2>
      <div class="actions" role="group" aria-label="Time range">
        ${RANGES.map((r) => html`<button type="button" class="small" aria-pressed=${r.key === range.key ? 'true' : 'false'}
          onClick=${() => setRange(r)}>${r.label}</button>`)}
      </div>
    </div>
    ${missing && html`<p class="notice" id="charts-missing">Charts need Prometheus: this installation has none configured (set <code>MTM_PROMETHEUS_URL</code>; <code>make run</code> starts one).</p>`}
    <${ProblemView} error=${error} />
    ${!missing && html`<div class="charts">
      ${specs('', '1m').map((c) => html`<${Chart} key=${c.id} spec=${c} data=${data ? data[c.id] : null} />`)}
    </div>`}
  </section>`;
}
