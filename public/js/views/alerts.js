// alerts: what Alertmanager says is firing (GET /api/alerts, then `alert`
// events), each with its summary and a link to its runbook; and the badge
// in the top bar with their number.
import { html } from '../../vendor/htm-preact.js';
import { time } from '../format.js';
import { useStore } from '../store.js';
import { Badge } from '../ui/badge.js';

/** The number of firing alerts, as a link to the alerts page. */
export function AlertBadge() {
  const n = useStore((s) => Object.keys(s.alerts).length);
  return html`<a href="#/alerts" class="alert-badge">Alerts ${n > 0 && html`<span class="badge count" id="alert-count">${n}</span>`}<span class="visually-hidden">${n > 0 ? ' firing' : ': none firing'}</span></a>`;
}

export function AlertsPage() {
  const alerts = useStore((s) => Object.values(s.alerts).sort((a, b) => b.starts_at.localeCompare(a.starts_at)));
  return html`<div class="page-head"><h1>Alerts</h1></div>
    <p>Firing now, as Prometheus and Alertmanager report them (deploy/prometheus/alerts.yml). Resolved alerts leave this list by themselves.</p>
    ${alerts.length === 0 && html`<div class="empty"><p>Nothing is firing.</p></div>`}
    ${alerts.map((a) => html`<article class=${`card alert-item ${a.severity}`} key=${a.fingerprint} aria-labelledby=${`al-${a.fingerprint}`}>
      <h2 id=${`al-${a.fingerprint}`}><${Badge} value=${a.severity || 'alert'} /> ${a.name}</h2>
      <p><strong>${a.summary}</strong></p>
      ${a.description && html`<p>${a.description}</p>`}
      <dl class="facts">
        <dt>Since</dt><dd>${time(a.starts_at)}</dd>
        ${a.tenant && html`<dt>Tenant</dt><dd><a href=${`#/tenants/${a.tenant}`}><code>${a.tenant}</code></a></dd>`}
        <dt>Runbook</dt><dd>${a.runbook_url ? html`<a href=${a.runbook_url} target="_blank" rel="noopener">${a.runbook_url}</a>` : 'none'}</dd>
      </dl>
    </article>`)}`;
}
