// Alerting end to end, with a real Prometheus and Alertmanager (the
// harness's `monitoring` stack: the shipped rules, evaluated every second
// with their `for:` set to 0): consumerd stopped -> MtmConsumerdDown fires in
// Prometheus -> Alertmanager posts it to POST /api/alerts/webhook -> GET
// /api/alerts and the event stream show it -> consumerd back -> resolved.
// Also: the webhook's access and validation, repeats that change nothing,
// and the Prometheus query proxy behind the console's charts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { startFrontend } from '../harness/frontend.mjs';
import { request, describe } from '../harness/http.mjs';
import { makeApi, assertFieldError } from '../harness/api.mjs';
import { openStream } from '../harness/sse.mjs';
import { waitFor } from '../harness/util.mjs';
import { launchBrowser, shoot, assertAccessible } from '../harness/browser.mjs';

let stack;
let api;
let admin;

before(async () => {
  stack = await startStack({ monitoring: true });
  await stack.waitReady();
  admin = await stack.adminToken();
  api = makeApi(stack, { token: admin });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['prometheus', 'alertmanager', 'mtm-api', 'consumerd']);
const hook = (body, token) => request(stack.baseUrl, 'POST', '/api/alerts/webhook', { json: body, token });

function alert(fp, status = 'firing', extra = {}) {
  return {
    status, fingerprint: fp, startsAt: '2026-12-02T10:00:00Z', endsAt: status === 'resolved' ? '2026-12-02T10:05:00Z' : '0001-01-01T00:00:00Z',
    labels: { alertname: 'MtmTestAlert', severity: 'warning', tenant: '0190b7a1-0000-7000-8000-00000000000a' },
    annotations: { summary: 'a test alert', description: 'made by alerts.test.mjs', runbook_url: '/docs/troubleshooting.md#x' },
    ...extra,
  };
}

async function waitAlerts(what, accept, { timeoutMs = 60000, status = 'firing' } = {}) {
  let last;
  let refused = null; // an answer other than 200 fails at once, not at the timeout
  return waitFor(what, async () => {
    const res = await api.get(`/api/alerts?status=${status}`);
    if (res.status !== 200) { refused = res; return false; }
    last = res.json.data;
    return accept(last) && last;
  }, {
    timeoutMs,
    intervalMs: 500,
    check: () => { if (refused) assert.equal(refused.status, 200, describe(refused)); },
    describe: () => `  alerts: ${JSON.stringify(last)}\n${logs()}`,
  });
}

test('the webhook: its token, or an admin; 401 without, 403 for a tenant token; each bad field -> 422 naming it', async () => {
  assert.equal((await hook({ alerts: [] })).status, 401);
  assert.equal((await hook({ alerts: [] }, 'x'.repeat(40))).status, 401);
  const t = await api.createTenant(`al-${Date.now().toString(36)}`, 1);
  const tok = (await api.req('POST', `/api/tenants/${t.id}/tokens`)).json.token;
  assert.equal((await hook({ alerts: [] }, tok)).status, 403);
  assert.equal((await hook({ alerts: [] }, admin)).status, 200);
  const ok = await hook({ version: '4', status: 'firing', alerts: [] }, stack.env.MTM_ALERTS_TOKEN);
  assert.equal(ok.status, 200, describe(ok));
  assert.deepEqual(ok.json, { accepted: 0 });
  const cases = [
    [{}, 'alerts'],
    [{ alerts: 'x' }, 'alerts'],
    [{ alerts: [alert('a1', 'pending')] }, 'alerts[0].status'],
    [{ alerts: [alert('a1'), alert('NOT-HEX')] }, 'alerts[1].fingerprint'],
    [{ alerts: [alert('a1', 'firing', { labels: { n: 1 } })] }, 'alerts[0].labels'],
    [{ alerts: [alert('a1', 'firing', { annotations: 'x' })] }, 'alerts[0].annotations'],
    [{ alerts: [alert('a1', 'firing', { startsAt: 5 })] }, 'alerts[0].startsAt'],
    [{ alerts: [alert('a1', 'firing', { startsAt: 'yesterday-ish' })] }, 'alerts[0]'],
    [{ alerts: [7] }, 'alerts[0]'],
  ];
  for (const [body, field] of cases) assertFieldError(await hook(body, stack.env.MTM_ALERTS_TOKEN), 422, field);
  assert.deepEqual((await api.get('/api/alerts')).json.data.filter((a) => a.name === 'MtmTestAlert'), [], 'nothing bad was stored');
  assertFieldError(await api.get('/api/alerts?status=pending'), 422, 'status');
  assert.equal((await api.get('/api/alerts', { token: tok })).status, 403);
});

test('posted alerts are listed, announced once on the event stream, and move to resolved', async () => {
  const s = await openStream(stack.baseUrl, admin);
  try {
    const fp = 'c0ffee01';
    assert.equal((await hook({ alerts: [alert(fp)] }, stack.env.MTM_ALERTS_TOKEN)).status, 200);
    const ev = await s.next((e) => e.event === 'alert' && e.data.fingerprint === fp);
    assert.equal(ev.data.status, 'firing');
    assert.equal(ev.data.summary, 'a test alert');
    assert.equal(ev.data.runbook_url, '/docs/troubleshooting.md#x');
    const listed = (await api.get('/api/alerts')).json.data.find((a) => a.fingerprint === fp);
    assert.equal(listed.name, 'MtmTestAlert');
    assert.equal(listed.tenant, '0190b7a1-0000-7000-8000-00000000000a');
    assert.equal(listed.starts_at, '2026-12-02T10:00:00.000000Z');
    assert.equal(listed.ends_at, null, 'a firing alert has no end');
    // Alertmanager repeats itself: the same alert again changes nothing.
    assert.equal((await hook({ alerts: [alert(fp)] }, stack.env.MTM_ALERTS_TOKEN)).status, 200);
    assert.equal((await hook({ alerts: [alert(fp, 'resolved')] }, stack.env.MTM_ALERTS_TOKEN)).status, 200);
    await s.next((e) => e.event === 'alert' && e.data.fingerprint === fp && e.data.status === 'resolved');
    assert.equal(s.events.filter((e) => e.event === 'alert' && e.data.fingerprint === fp).length, 2, 'one event per change');
    assert.ok(!(await api.get('/api/alerts')).json.data.some((a) => a.fingerprint === fp));
    const resolved = (await api.get('/api/alerts?status=resolved')).json.data.find((a) => a.fingerprint === fp);
    assert.equal(resolved.ends_at, '2026-12-02T10:05:00.000000Z');
  } finally {
    s.close();
  }
});

test('consumerd stopped: MtmConsumerdDown fires through Prometheus and Alertmanager, reaches /api/alerts, the stream and the console\'s badge; resolves when it is back', async () => {
  const s = await openStream(stack.baseUrl, admin);
  const b = await launchBrowser();
  const page = await b.page(stack);
  try {
    await page.goto('/');
    await page.getByLabel('Username').fill(stack.env.MTM_ADMIN_USER);
    await page.getByLabel('Password').fill(stack.env.MTM_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.locator('.live', { hasText: 'Live' }).waitFor({ timeout: 10000 });
    page.expectHttp(/\/api\/ready$/, 503, { sticky: true }); // consumerd down: the overview reads /api/ready
    await stack.killConsumerd('SIGTERM');
    const firing = await waitAlerts('MtmConsumerdDown firing', (list) => list.some((a) => a.name === 'MtmConsumerdDown'));
    const a = firing.find((x) => x.name === 'MtmConsumerdDown');
    assert.equal(a.severity, 'critical');
    assert.equal(a.summary, 'consumerd is down');
    assert.equal(a.runbook_url, '/docs/troubleshooting.md#mtmconsumerddown');
    await s.next((e) => e.event === 'alert' && e.data.name === 'MtmConsumerdDown' && e.data.status === 'firing', { timeoutMs: 10000 });
    // The console's badge counts it, live; its page shows the summary and the runbook.
    await page.locator('#alert-count').waitFor({ timeout: 10000 });
    await page.getByRole('link', { name: /^Alerts [1-9]\d* firing$/ }).click();
    const card = page.locator('article', { hasText: 'MtmConsumerdDown' });
    await card.getByText('consumerd is down').waitFor();
    assert.equal(await card.getByRole('link', { name: '/docs/troubleshooting.md#mtmconsumerddown' }).getAttribute('href'), '/docs/troubleshooting.md#mtmconsumerddown');
    await assertAccessible(page, 'alerts');
    await shoot(page, 'alerts');
    // The runbook link works on the installation itself.
    const runbook = await request(stack.baseUrl, 'GET', '/docs/troubleshooting.md');
    assert.equal(runbook.status, 200);
    assert.match(runbook.text, /^## MtmConsumerdDown$/m);

    await stack.startConsumerd();
    await waitAlerts('MtmConsumerdDown resolved', (list) => !list.some((x) => x.name === 'MtmConsumerdDown'));
    await s.next((e) => e.event === 'alert' && e.data.name === 'MtmConsumerdDown' && e.data.status === 'resolved', { timeoutMs: 10000 });
    await card.waitFor({ state: 'detached', timeout: 10000 });
    await page.getByText('Nothing is firing.').waitFor();

    // With a Prometheus, the overview's charts draw its history. They read
    // it once (and again every 30 s): wait until Prometheus has the worker
    // of the restarted consumerd, so the read sees it.
    await waitFor('Prometheus sees the worker running again', async () => {
      const now = Math.floor(Date.now() / 1000);
      const res = await api.get(`/api/prometheus/query_range?query=${encodeURIComponent('sum(mtm_workers_running)')}&start=${now}&end=${now}&step=1`);
      const v = res.status === 200 && res.json.data.result[0] ? Number(res.json.data.result[0].values.at(-1)[1]) : 0;
      return v === 1;
    }, { timeoutMs: 20000 });
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.locator('figure.chart canvas').first().waitFor({ timeout: 15000 });
    assert.equal(await page.locator('figure.chart').count(), 4);
    await page.locator('figure.chart figcaption', { hasText: /running 1\b/ }).waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: '1 hour' }).click();
    await page.getByRole('button', { name: '1 hour', pressed: true }).waitFor();
    await shoot(page, 'overview-charts');
    page.clearExpected();
    page.assertClean();
  } finally {
    s.close();
    await b.close();
  }
});

test('GET /api/prometheus/query_range: Prometheus\'s answer for admins; 422 for other parameters, 403 for tenants, 503 "configured": false without Prometheus', async () => {
  const now = Math.floor(Date.now() / 1000);
  const q = `query=${encodeURIComponent('sum(mtm_workers_running)')}&start=${now - 60}&end=${now}&step=5`;
  let res;
  // Prometheus has the series within a few scrapes; the assertions below say what was missing.
  await waitFor('Prometheus to have sum(mtm_workers_running)', async () => {
    res = await api.get(`/api/prometheus/query_range?${q}`);
    return res.status === 200 && res.json.data.result.length;
  }, { timeoutMs: 10000, intervalMs: 500 }).catch(() => {});
  assert.equal(res.status, 200, describe(res));
  assert.equal(res.json.status, 'success');
  assert.equal(res.json.data.resultType, 'matrix');
  assert.ok(res.json.data.result.length >= 1, `Prometheus has the series: ${describe(res)}`);
  assertFieldError(await api.get(`/api/prometheus/query_range?${q}&timeout=1s`), 422, 'query');
  assertFieldError(await api.get('/api/prometheus/query_range?start=1'), 422, 'query');
  const bad = await api.get(`/api/prometheus/query_range?query=${encodeURIComponent('sum(')}&start=${now - 60}&end=${now}&step=5`);
  assert.equal(bad.status, 422, describe(bad));
  assert.equal(bad.json.status, 'error', 'Prometheus\'s own explanation comes through');
  const t = await api.createTenant(`pq-${Date.now().toString(36)}`, 1);
  const tok = (await api.req('POST', `/api/tenants/${t.id}/tokens`)).json.token;
  assert.equal((await api.get(`/api/prometheus/query_range?${q}`, { token: tok })).status, 403);

  const fe = await startFrontend(stack, 'noprom', { env: { MTM_PROMETHEUS_URL: undefined } });
  try {
    const r = await request(fe.baseUrl, 'GET', `/api/prometheus/query_range?${q}`, { token: admin });
    assert.equal(r.status, 503, describe(r));
    assert.equal(r.json.configured, false, describe(r));
  } finally {
    await fe.stop();
  }
});
