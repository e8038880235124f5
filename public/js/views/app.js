// app: the frame around every page (top bar, navigation, toasts) and the
// choice of page from the route. Without a session every route shows the
// login form.
import { html, useEffect } from '../../vendor/htm-preact.js';
import { followEvents, forgetToken, listAlerts } from '../api.js';
import { actions, useStore } from '../store.js';
import { navigate, useRoute } from '../router.js';
import { Toasts } from '../ui/toasts.js';
import { Login } from './login.js';
import { Overview } from './overview.js';
import { Tenants } from './tenants.js';
import { TenantPage } from './tenant.js';
import { AuditPage } from './audit.js';
import { ApiReference } from './apiref.js';
import { AlertBadge, AlertsPage } from './alerts.js';

/** @param {{href: string, current: boolean, children?: unknown}} props */
function NavLink({ href, current, children }) {
  return html`<li><a href=${href} aria-current=${current ? 'page' : undefined}>${children}</a></li>`;
}

function logout() {
  forgetToken();
  actions.sessionEnded('');
  navigate('/login');
}

/** The event stream's state, announced when it changes. */
function LiveIndicator() {
  const state = useStore((s) => s.stream);
  const resync = useStore((s) => s.resync);
  const text = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', off: 'Not live' }[state];
  return html`<span class=${`live live-${state}`} role="status" aria-live="polite" data-resync=${resync}
    title="Updates pushed by the server (GET /api/events)">${text}</span>`;
}

export function App() {
  const route = useRoute();
  const session = useStore((s) => s.session);

  // One event stream per session: its events go through the store's actions.
  useEffect(() => {
    if (!session) return undefined;
    return followEvents((e) => actions.eventArrived(e), (st) => actions.streamState(st));
  }, [session?.token]);

  // Firing alerts (admins): read at the start and after a reconnect; the
  // stream's alert events keep them current in between.
  const resync = useStore((s) => s.resync);
  useEffect(() => {
    if (session?.role !== 'admin') return;
    listAlerts().then((list) => actions.alertsSeen(list), () => {});
  }, [session?.token, resync]);

  useEffect(() => {
    // A tenant token has one tenant: its pages are the console.
    if (session?.role === 'tenant' && ['overview', 'tenants', 'audit', 'alerts'].includes(route.name)) {
      navigate(`/tenants/${session.tenantId}`);
    }
    if (session && route.name === 'login') navigate(session.role === 'tenant' ? `/tenants/${session.tenantId}` : '/');
  }, [session, route.name]);

  useEffect(() => {
    const names = { overview: 'Overview', tenants: 'Tenants', tenant: 'Tenant', audit: 'Audit log', alerts: 'Alerts', apiref: 'API reference', login: 'Log in' };
    document.title = `${names[/** @type {keyof typeof names} */ (route.name)] || 'Not found'} · mtm console`;
  }, [route.name]);

  if (!session) return html`<${Login} /><${Toasts} />`;

  const admin = session.role === 'admin';
  const adminOnly = ['overview', 'tenants', 'audit', 'alerts'].includes(route.name);
  let page;
  switch (!admin && adminOnly ? 'redirecting' : route.name) {
    case 'redirecting': page = null; break; // the effect above moves a tenant to its page
    case 'overview': page = html`<${Overview} />`; break;
    case 'tenants': page = html`<${Tenants} />`; break;
    case 'tenant': page = html`<${TenantPage} id=${route.params.id} tab=${route.params.tab || 'messages'} admin=${admin} />`; break;
    case 'audit': page = html`<${AuditPage} />`; break;
    case 'alerts': page = html`<${AlertsPage} />`; break;
    case 'apiref': page = html`<${ApiReference} />`; break;
    case 'login': page = null; break;
    default: page = html`<h1>Not found</h1><p>No page at <code>${route.params.path}</code>. <a href="#/">Go to the overview</a>.</p>`;
  }
  return html`<div class="shell">
    <a class="skip-link" href="#main" onClick=${(/** @type {Event} */ e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="topbar">
      <a class="brand" href="#/">mtm console</a>
      <${LiveIndicator} />
      ${session.role === 'admin' && html`<${AlertBadge} />`}
      <span class="who">${admin ? `${session.sub} (admin)` : `tenant ${session.tenantId}`}</span>
      <button type="button" class="small" onClick=${logout}>Log out</button>
    </header>
    <div class="body">
      <nav class="nav" aria-label="Main">
        <ul>
          ${admin && html`<${NavLink} href="#/" current=${route.name === 'overview'}>Overview<//>`}
          ${admin && html`<${NavLink} href="#/tenants" current=${route.name === 'tenants' || route.name === 'tenant'}>Tenants<//>`}
          ${!admin && html`<${NavLink} href=${`#/tenants/${session.tenantId}`} current=${route.name === 'tenant'}>My tenant<//>`}
          ${admin && html`<${NavLink} href="#/alerts" current=${route.name === 'alerts'}>Alerts<//>`}
          ${admin && html`<${NavLink} href="#/audit" current=${route.name === 'audit'}>Audit log<//>`}
          <${NavLink} href="#/api" current=${route.name === 'apiref'}>API reference<//>
        </ul>
      </nav>
      <main id="main" tabindex="-1">${page}</main>
    </div>
    <${Toasts} />
  </div>`;
}
