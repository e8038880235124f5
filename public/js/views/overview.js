// overview: is everything up (PostgreSQL, RabbitMQ, consumerd), and the
// installation in numbers. Refreshed every 5 seconds while shown.
import { html, useEffect, useState } from '../../vendor/htm-preact.js';
import { overview, ready } from '../api.js';
import { num } from '../format.js';
import { Badge } from '../ui/badge.js';
import { ProblemView } from '../ui/problem.js';
import { useStore } from '../store.js';
import { Charts } from './charts.js';

const REFRESH_MS = 5000;

/** @param {{label: string, value: unknown, id?: string}} props */
function Stat({ label, value, id }) {
  return html`<div class="stat" id=${id}><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

export function Overview() {
  const [health, setHealth] = useState(/** @type {Awaited<ReturnType<typeof ready>>|null} */ (null));
  const [fetched, setStats] = useState(/** @type {import('../types.js').Overview|null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const live = useStore((st) => st.overview);

  useEffect(() => {
    let stopped = false;
    const tick = async () => {
      try {
        const [h, s] = await Promise.all([ready(), overview()]);
        if (stopped) return;
        setHealth(h);
        setStats(s);
        setError(null);
      } catch (e) {
        if (!stopped) setError(e);
      }
    };
    tick();
    const timer = setInterval(tick, REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }, []);

  const checks = health?.checks;
  const stats = live || fetched;
  return html`<div class="page-head"><h1>Overview</h1></div>
    <${ProblemView} error=${error} />
    <section aria-labelledby="health-h">
      <h2 id="health-h">Services</h2>
      ${!health && !error && html`<p class="busy">Checking</p>`}
      ${checks && html`<div class="checks">
        ${/** @type {const} */ (['postgres', 'rabbitmq', 'consumerd']).map((k) => html`<div class="stat" key=${k}>
          <div class="label">${{ postgres: 'PostgreSQL', rabbitmq: 'RabbitMQ', consumerd: 'consumerd' }[k]}</div>
          <div class="value"><${Badge} value=${checks[k]} /></div>
          ${health?.reasons[k] && html`<div class="hint">${health.reasons[k]}</div>`}
        </div>`)}
      </div>`}
    </section>
    ${stats && html`<section aria-labelledby="numbers-h">
      <h2 id="numbers-h">Tenants and queues</h2>
      <div class="cards">
        <${Stat} id="ov-tenants" label="Tenants" value=${num(stats.tenants.total)} />
        <${Stat} label="Active" value=${num(stats.tenants.active)} />
        <${Stat} label="Paused" value=${num(stats.tenants.paused)} />
        <${Stat} label="Being deleted" value=${num(stats.tenants.deleting)} />
        <${Stat} id="ov-depth" label="Messages queued" value=${num(stats.queue_depth)} />
        <${Stat} id="ov-dlq" label="Dead letters" value=${num(stats.dlq_depth)} />
        <${Stat} id="ov-workers" label="Workers running / configured" value=${`${num(stats.workers.running)} / ${num(stats.workers.configured)}`} />
        <${Stat} label="Workers busy" value=${num(stats.workers.busy)} />
        ${live?.rates && html`<${Stat} id="ov-stored-rate" label="Stored per second" value=${num(live.rates.stored_per_s)} />
          <${Stat} label="Published per second" value=${num(live.rates.published_per_s)} />`}
      </div>
      ${stats.tenants.total === 0 && html`<p class="notice">No tenants yet. <a href="#/tenants">Create the first one</a>.</p>`}
    </section>`}
    <${Charts} />`;
}
