// The browser console (public/) end to end, in Debian's Chromium against a
// real stack: log in, the overview, tenants (create with field errors,
// filter, pause, resume, delete), a tenant's page (publish from the form,
// the message list and drawer, a resize, dead letters replayed and purged,
// tokens issued and revoked, audit entries), the audit log, the API
// reference; a payload that looks like HTML stays text; a tenant token sees
// only its tenant; expired and refused tokens return to the login form; the
// API down is said and recovers. Any console error or failed request the
// test did not provoke fails it; axe-core must find nothing serious or
// critical on any page; every page is photographed at desktop width and
// at 375 px into build/ui/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack } from '../harness/stack.mjs';
import { amqpPublish } from '../harness/amqp.mjs';
import { makeApi, describe, queueNames } from '../harness/api.mjs';
import { launchBrowser, shoot, assertAccessible } from '../harness/browser.mjs';
import { sleep, waitFor } from '../harness/util.mjs';

let stack;
let api;
let b;
let page;

before(async () => {
  stack = await startStack({ env: { MTM_MAX_ATTEMPTS: '2', MTM_RETRY_BASE_MS: '50' } });
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
  b = await launchBrowser();
  // This stack has no Prometheus: the charts' probe is answered 503 (and
  // the charts say so, tested below).
  page = await b.page(stack, { allow: [{ url: /\/api\/prometheus\/query_range/, status: 503 }] });
});

after(async () => {
  if (b) await b.close();
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['mtm-api', 'lighttpd-error', 'consumerd']);

async function login(p = page) {
  await p.goto('/');
  await p.getByLabel('Username').fill(stack.env.MTM_ADMIN_USER);
  await p.getByLabel('Password').fill(stack.env.MTM_ADMIN_PASSWORD);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

/** A JWT signed with `secret` (HS256), for tokens the API must refuse. */
function jwt(claims, secret) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'HS256', typ: 'JWT' });
  const body = enc(claims);
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

let tenantId;

test('log in: a wrong password is said on the form; the right one opens the overview with every service ok', async () => {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await assertAccessible(page, 'login');
  await shoot(page, 'login');
  page.expectHttp(/\/api\/auth\/login$/, 401);
  await page.getByLabel('Username').fill(stack.env.MTM_ADMIN_USER);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong username or password' }).waitFor();
  await page.getByLabel('Password').fill(stack.env.MTM_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  for (const name of ['PostgreSQL', 'RabbitMQ', 'consumerd']) {
    await page.locator('.stat', { hasText: name }).getByText('ok', { exact: true }).waitFor();
  }
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing is kept in localStorage');
  assert.ok(await page.evaluate(() => sessionStorage.getItem('mtm.token')), 'the token is kept in sessionStorage');
  // This stack has no Prometheus: the charts say what they need.
  await page.locator('#charts-missing').filter({ hasText: 'MTM_PROMETHEUS_URL' }).waitFor();
  await assertAccessible(page, 'overview');
  page.assertClean();
});

test('tenants: create shows field errors beside their fields, then creates; filter by name and status; the overview counts it', async () => {
  await page.getByRole('link', { name: 'Tenants' }).click();
  await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
  await page.getByText('No tenants yet').waitFor();
  await page.getByRole('button', { name: 'Create the first tenant' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create a tenant' });
  await dialog.waitFor();
  // Client-side: a concurrency that is not a number never leaves the browser.
  await dialog.getByLabel('Name', { exact: true }).fill('acme/bad');
  await dialog.getByLabel('Concurrency').fill('two');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.locator('#new-concurrency-error').filter({ hasText: 'whole number' }).waitFor();
  // Server-side: the name rule, shown beside the name.
  page.expectHttp(/\/api\/tenants$/, 422);
  await dialog.getByLabel('Concurrency').fill('1');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.locator('#new-name-error').waitFor();
  assert.equal(await dialog.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  await assertAccessible(page, 'tenants-create');
  await dialog.getByLabel('Name', { exact: true }).fill('acme');
  await dialog.getByLabel('Rate limit (msg/s)').fill('500');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'acme', exact: true }) });
  await row.waitFor();
  await row.getByText('500/s').waitFor();
  tenantId = await row.getAttribute('data-tenant');
  assert.match(tenantId, /^[0-9a-f-]{36}$/);
  const t = await api.tenant(tenantId);
  assert.equal(t.publish_limit.rate, 500, `the rate limit was set: ${JSON.stringify(t)}`);

  await api.createTenant('other-co', 1);
  await page.getByRole('button', { name: 'Create a tenant' }).waitFor();
  await page.reload();
  await page.getByRole('link', { name: 'other-co' }).waitFor();
  await page.getByLabel('Name contains').fill('ACM');
  await page.getByRole('link', { name: 'other-co' }).waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'acme', exact: true }).waitFor();
  await page.getByLabel('Name contains').fill('');
  await page.getByLabel('Status').selectOption('paused');
  await page.getByText('No tenant matches this filter.').waitFor();
  await page.getByLabel('Status').selectOption('');
  await page.getByRole('link', { name: 'other-co' }).waitFor();
  await assertAccessible(page, 'tenants');
  await shoot(page, 'tenants');

  await page.getByRole('link', { name: 'Overview' }).click();
  await page.locator('#ov-tenants').getByText('2', { exact: true }).waitFor();
  await shoot(page, 'overview');
  page.assertClean();
});

test('tenant page: publish from the form (JSON checked first), see it listed, open it; an HTML-looking payload stays text', async () => {
  await page.goto(`/#/tenants/${tenantId}/publish`);
  await page.getByRole('heading', { name: 'Publish a test message' }).waitFor();
  await page.getByLabel('Payload (any JSON)').fill('{"broken": ');
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.locator('#pub-payload-error').filter({ hasText: 'not valid JSON' }).waitFor();
  const xss = '<img src=x onerror=alert(1)>';
  await page.getByLabel('Payload (any JSON)').fill(JSON.stringify({ html: xss }));
  await page.getByLabel('Headers (optional JSON object of strings)').fill('{"x-source": "<b>console</b>"}');
  await page.getByRole('button', { name: 'Publish' }).click();
  const result = page.locator('#publish-result');
  await result.waitFor();
  const id = (await result.locator('code').textContent()).trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  await assertAccessible(page, 'tenant-publish');
  await shoot(page, 'tenant-publish');

  // A batch of three.
  await page.getByLabel('a batch').check();
  await page.getByLabel('Payloads (JSON array)').fill('[{"n":1},{"n":2},{"n":3}]');
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.locator('#publish-result').getByText('3 messages').waitFor();

  await page.getByRole('link', { name: 'Messages', exact: true }).click();
  const open = page.getByRole('button', { name: `Open message ${id}` });
  await waitFor(`the message ${id} listed (refreshing the page)`, async () => {
    if (await open.count()) return true;
    await page.getByRole('button', { name: 'Refresh' }).click();
    return false;
  }, { timeoutMs: 10000, intervalMs: 200, describe: logs });
  await open.waitFor();
  await page.locator('tbody tr').nth(3).waitFor();
  await assertAccessible(page, 'tenant-messages');
  await shoot(page, 'tenant-messages');
  await open.click();
  const drawer = page.getByRole('dialog', { name: 'Message' });
  await drawer.waitFor();
  await drawer.getByText(id).first().waitFor();
  const payloadText = await drawer.getByLabel('Payload').textContent();
  assert.deepEqual(JSON.parse(payloadText), { html: xss }, 'the payload is shown as pretty JSON text');
  assert.equal(await page.locator('img').count(), 0, 'no element was made from the payload');
  assert.equal(await drawer.locator('b').count(), 0, 'no element was made from the headers');
  assert.ok((await drawer.getByLabel('Headers').textContent()).includes('<b>console</b>'));
  await drawer.getByRole('button', { name: 'Copy payload' }).click();
  assert.deepEqual(JSON.parse(await page.evaluate(() => navigator.clipboard.readText())), { html: xss });
  await assertAccessible(page, 'tenant-message-drawer');
  await shoot(page, 'tenant-message-drawer');
  await page.keyboard.press('Escape');
  await drawer.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Open message ${id}`, 'focus returns to the row that opened the drawer');
  // Order toggle: oldest first starts with the first message published.
  await page.getByLabel('Order').selectOption('asc');
  await page.locator('tbody tr').first().getByRole('button', { name: `Open message ${id}` }).waitFor();
  page.assertClean();
});

test('tenant page: a resize shows the target against the running workers until they agree; pause and resume', async () => {
  await page.goto(`/#/tenants/${tenantId}`);
  await page.getByLabel('Workers').fill('3');
  await page.getByRole('button', { name: 'Set concurrency' }).click();
  await page.locator('#workers-state').filter({ hasText: /^3 of 3 workers running$/ }).waitFor({ timeout: 10000 });
  assert.equal((await api.tenant(tenantId)).concurrency, 3);
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.locator('h1 .badge', { hasText: 'paused' }).waitFor();
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.locator('h1 .badge', { hasText: 'active' }).waitFor();
  await assertAccessible(page, 'tenant');
  await shoot(page, 'tenant');
  page.assertClean();
});

test('dead letters: poison messages arrive with their reason; replay one, the selected and all (they come back), then purge after a confirmation', async () => {
  await amqpPublish(stack.amqpUrl, queueNames(tenantId)[0], [
    { body: 'not json at all', properties: { messageId: 'poison-1' } },
    { body: 'not json either', properties: { messageId: 'poison-2' } },
  ]);
  await page.goto(`/#/tenants/${tenantId}/dlq`);
  /** Waits until both are dead letters again in the database (not on their
   * way through a retry), then shows the list as it is. */
  const bothBack = async () => {
    await waitFor('the poison messages both dead letters again', async () => {
      const res = await api.get(`/api/tenants/${tenantId}/dlq`);
      const ids = (res.json?.data || []).map((d) => d.id);
      return ids.includes('poison-1') && ids.includes('poison-2');
    }, { timeoutMs: 20000, intervalMs: 200, describe: logs });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('tr', { hasText: 'poison-1' }).waitFor();
    await page.locator('tr', { hasText: 'poison-2' }).waitFor();
  };
  await bothBack();
  const row = page.locator('tr', { hasText: 'poison-1' });
  await row.getByText('body_not_json').waitFor();
  await assertAccessible(page, 'tenant-dlq');
  await shoot(page, 'tenant-dlq');
  await row.getByRole('button', { name: 'Replay poison-1' }).click();
  await page.getByText('Replayed 1 dead letter.').waitFor();
  await bothBack(); // still not JSON: it fails twice more and is back
  await page.getByRole('checkbox', { name: 'Select poison-2' }).check();
  await page.getByRole('button', { name: 'Replay selected (1)' }).click();
  await page.getByText('Replayed 1 dead letter.').last().waitFor();
  await bothBack();
  await page.getByRole('button', { name: 'Replay all' }).click();
  await page.getByText('Replayed 2 dead letters.').waitFor();
  await bothBack();
  await page.getByRole('button', { name: 'Purge…' }).click();
  const confirm = page.getByRole('dialog', { name: 'Purge dead letters' });
  await confirm.waitFor();
  await confirm.getByRole('button', { name: 'Purge them' }).click();
  await page.getByText('Purged 2 dead letters.').waitFor();
  await page.getByText('No dead letters').waitFor();
  page.assertClean();
});

test('tokens: issued once with a copy button, listed, used to log in as the tenant (which sees only its tenant), revoked', async () => {
  await page.goto(`/#/tenants/${tenantId}/tokens`);
  await page.getByRole('button', { name: 'Issue a token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Token issued' });
  await dialog.waitFor();
  const token = (await dialog.locator('#issued-token').textContent()).trim();
  await dialog.getByRole('button', { name: 'Copy the token' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  await dialog.getByRole('button', { name: 'Done' }).click();
  const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).jti;
  await page.getByText(jti).waitFor();
  await assertAccessible(page, 'tenant-tokens');
  await shoot(page, 'tenant-tokens');

  // The tenant's own console, in a second browser context.
  const tp = await b.page(stack);
  await tp.goto('/');
  await tp.getByText('Use a tenant token instead').click();
  await tp.getByLabel('Tenant token').fill(token);
  await tp.getByRole('button', { name: 'Use this token' }).click();
  await tp.getByRole('heading', { name: /acme/ }).waitFor();
  assert.equal(await tp.getByRole('link', { name: 'Tenants' }).count(), 0, 'a tenant token has no tenants list');
  assert.equal(await tp.getByRole('link', { name: 'Tokens' }).count(), 0, 'nor tokens');
  await tp.goto('/#/tenants');
  await tp.waitForURL(new RegExp(`#/tenants/${tenantId}$`));
  const other = (await api.get('/api/tenants?name=other-co')).json.data[0].id;
  tp.expectHttp(new RegExp(`/api/tenants/${other}$`), 403, { sticky: true });
  await tp.goto(`/#/tenants/${other}`);
  await tp.getByRole('alert').filter({ hasText: 'another tenant' }).waitFor();
  await assertAccessible(tp, 'tenant-as-tenant');

  // Revoked: the tenant's next request ends its session.
  await page.getByRole('button', { name: `Revoke token ${jti}` }).click();
  await page.getByText(`Token ${jti} revoked.`).waitFor();
  tp.clearExpected();
  tp.expectHttp(/\/api\/tenants\//, 401, { sticky: true });
  await tp.goto(`/#/tenants/${tenantId}`);
  await tp.getByRole('heading', { name: 'Log in' }).waitFor({ timeout: 10000 });
  await tp.getByText(/Your session has ended: .*revoked/).waitFor();
  assert.equal(await tp.evaluate(() => sessionStorage.getItem('mtm.token')), null, 'the refused token is forgotten');
  tp.assertClean();
  page.assertClean();
});

test('expired and foreign tokens return to the login form with a message', async () => {
  const tp = await b.page(stack);
  await tp.goto('/');
  const now = Math.floor(Date.now() / 1000);
  const expired = jwt({ sub: 'admin', role: 'admin', iat: now - 7200, nbf: now - 7200, exp: now - 3600, jti: crypto.randomUUID() }, stack.env.MTM_JWT_SECRET);
  await tp.evaluate((t) => sessionStorage.setItem('mtm.token', t), expired);
  await tp.reload();
  await tp.getByText('Your session expired. Log in again.').waitFor();
  const foreign = jwt({ sub: 'admin', role: 'admin', iat: now, nbf: now, exp: now + 3600, jti: crypto.randomUUID() }, 'x'.repeat(48));
  tp.expectHttp(/\/api\//, 401, { sticky: true });
  await tp.evaluate((t) => sessionStorage.setItem('mtm.token', t), foreign);
  await tp.goto('/#/tenants');
  await tp.reload();
  await tp.getByText(/Your session has ended/).waitFor({ timeout: 10000 });
  await tp.getByRole('heading', { name: 'Log in' }).waitFor();
  tp.assertClean();
});

test('the API down: the overview says so, and recovers by itself when it is back', async () => {
  await page.goto('/#/');
  await page.locator('.stat', { hasText: 'PostgreSQL' }).getByText('ok').waitFor();
  page.expectHttp(/\/api\//, 'any', { sticky: true });
  page.expectHttp(/\/api\//, 0, { sticky: true });
  await stack.stopServer('mtm-api');
  try {
    await page.getByRole('alert').filter({ hasText: /\((502|503|504)\)|unreachable/ }).waitFor({ timeout: 15000 });
    await shoot(page, 'overview-api-down');
  } finally {
    await stack.startServer('mtm-api');
  }
  await page.getByRole('alert').waitFor({ state: 'detached', timeout: 15000 });
  await page.locator('.stat', { hasText: 'consumerd' }).getByText('ok').waitFor();
  page.clearExpected();
  page.assertClean();
});

test('audit log and API reference pages', async () => {
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByRole('cell', { name: 'tenant.create' }).first().waitFor();
  await assertAccessible(page, 'audit');
  await shoot(page, 'audit');
  await page.goto(`/#/tenants/${tenantId}/audit`);
  await page.getByRole('cell', { name: 'tenant.concurrency' }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'login.success' }).count(), 0, 'a tenant\'s audit shows only entries about it');
  await page.getByRole('link', { name: 'API reference' }).click();
  await page.locator('.swagger-ui .title', { hasText: 'mtm' }).waitFor({ timeout: 15000 });
  await page.getByText('/api/tenants/{id}/messages').first().waitFor();
  await shoot(page, 'apiref');
  page.assertClean();
});

test('keyboard alone: open the create dialog, fill it, submit; focus goes into the dialog and back', async () => {
  await page.goto('/#/tenants');
  await page.getByRole('button', { name: 'Create a tenant' }).waitFor();
  let focused = '';
  for (let i = 0; i < 30 && focused !== 'Create a tenant'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.textContent?.trim() || '');
  }
  assert.equal(focused, 'Create a tenant', 'the create button is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'Create a tenant' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'new-name', 'focus moves into the dialog');
  await page.keyboard.type('keyboard-co');
  await page.keyboard.press('Enter');
  await page.getByRole('link', { name: 'keyboard-co' }).waitFor();
  // The row can come from the event stream before the dialog has closed:
  // wait for the focus to come back rather than read it at once.
  const focusBack = await page.waitForFunction(() => document.activeElement?.textContent?.trim() === 'Create a tenant', null, { timeout: 5000 }).then(() => true, () => false);
  assert.ok(focusBack, `focus returns to the button (it is on ${await page.evaluate(() => document.activeElement?.tagName)})`);
  page.assertClean();
});

test('live: the indicator says Live; a resize, new messages and a dead letter appear without a reload or a poll; a lost stream reconnects and catches up', async () => {
  // The page reads the tenant once when it mounts. The stream stays live
  // across this same-document navigation, so wait for that read itself:
  // the indicator alone can be ready before the view has mounted.
  const tenantUrl = new RegExp(`/api/tenants/${tenantId}$`);
  const mounted = page.waitForResponse((r) => tenantUrl.test(r.url()) && r.request().method() === 'GET');
  await page.goto(`/#/tenants/${tenantId}`);
  await mounted;
  await page.locator('.live', { hasText: 'Live' }).waitFor({ timeout: 10000 });
  // While live the page does not poll: count its reads of the tenant (a
  // reconnect of the stream, seen as data-resync moving, reads once).
  const resync0 = await page.locator('.live').getAttribute('data-resync');
  let reads = 0;
  const count = (r) => { if (tenantUrl.test(r.url()) && r.method() === 'GET') reads++; };
  page.on('request', count);
  assert.equal((await api.setConcurrency(tenantId, 2)).status, 200);
  await page.locator('#workers-state').filter({ hasText: /^2 of 2 workers running$/ }).waitFor({ timeout: 10000 });
  // A deliberate window in which no poll may happen, not a wait for a
  // condition: longer than the 5 s poll the page would otherwise make.
  await sleep(6000);
  page.off('request', count);
  const resynced = (await page.locator('.live').getAttribute('data-resync')) !== resync0;
  assert.ok(reads <= (resynced ? 1 : 0), `the resize came through the event stream, not a poll (${reads} reads, stream ${resynced ? 'reconnected' : 'steady'})`);

  // New messages go on top of the list, without a reload.
  await page.getByRole('link', { name: 'Messages', exact: true }).click();
  await page.getByRole('heading', { name: 'Messages' }).waitFor();
  const fresh = (await api.publish(tenantId, { payload: { live: 1 } })).json.id;
  await page.locator('tbody tr').first().getByRole('button', { name: `Open message ${fresh}` }).waitFor({ timeout: 10000 });
  // Reading further down: the next ones wait behind a button.
  await page.setViewportSize({ width: 1280, height: 300 });
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  const later = (await api.publish(tenantId, { payload: { live: 2 } })).json.id;
  const show = page.getByRole('button', { name: /^Show 1 new message$/ });
  await show.waitFor({ timeout: 10000 });
  assert.equal(await page.getByRole('button', { name: `Open message ${later}` }).count(), 0, 'not inserted under the reader');
  await show.click();
  await page.locator('tbody tr').first().getByRole('button', { name: `Open message ${later}` }).waitFor();
  await page.setViewportSize({ width: 1280, height: 900 });

  // A dead letter shows up in its tab by itself.
  await page.getByRole('link', { name: /^Dead letters/ }).click();
  await page.getByText('No dead letters').waitFor();
  await amqpPublish(stack.amqpUrl, queueNames(tenantId)[0], [{ body: '{', properties: { messageId: 'live-poison' } }]);
  await page.locator('tr', { hasText: 'live-poison' }).waitFor({ timeout: 10000 });
  await page.getByRole('link', { name: 'Dead letters (1)' }).waitFor();

  // The stream drops: the indicator says so; a change made meanwhile shows once it is back.
  page.expectHttp(/\/api\/events$/, 'any', { sticky: true });
  page.expectHttp(/\/api\/events$/, 0, { sticky: true });
  await stack.stopServer('mtm-events');
  await page.locator('.live', { hasText: 'Reconnecting' }).waitFor({ timeout: 10000 });
  assert.equal((await api.setConcurrency(tenantId, 1)).status, 200);
  await stack.startServer('mtm-events');
  await page.locator('.live', { hasText: 'Live' }).waitFor({ timeout: 20000 });
  await page.getByRole('link', { name: 'Messages', exact: true }).click();
  await page.locator('#workers-state').filter({ hasText: /^1 of 1 workers running$/ }).waitFor({ timeout: 10000 });
  page.clearExpected();
  page.assertClean();
});

test('alerts: one posted by Alertmanager shows in the badge and on the alerts page at once, and goes when resolved', async () => {
  await page.goto('/#/');
  await page.locator('.live', { hasText: 'Live' }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#alert-count').count(), 0, 'nothing firing at first');
  const one = (status) => ({ alerts: [{ status, fingerprint: 'bead01', startsAt: '2026-12-02T10:00:00Z', endsAt: '2026-12-02T10:09:00Z',
    labels: { alertname: 'MtmQueueBacklog', severity: 'warning', tenant: tenantId },
    annotations: { summary: 'Tenant has a queue backlog', description: 'More than 10000 messages.', runbook_url: '/docs/troubleshooting.md#mtmqueuebacklog' } }] });
  assert.equal((await api.req('POST', '/api/alerts/webhook', { json: one('firing') })).status, 200);
  await page.locator('#alert-count').filter({ hasText: '1' }).waitFor({ timeout: 10000 });
  await page.getByRole('link', { name: 'Alerts 1 firing' }).click();
  const card = page.locator('article', { hasText: 'MtmQueueBacklog' });
  await card.getByText('Tenant has a queue backlog').waitFor();
  await card.getByRole('link', { name: tenantId }).waitFor();
  await assertAccessible(page, 'alerts');
  assert.equal((await api.req('POST', '/api/alerts/webhook', { json: one('resolved') })).status, 200);
  await card.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await page.locator('#alert-count').count(), 0);
  page.assertClean();
});

test('delete asks for the tenant\'s name, then the tenant goes', async () => {
  await page.goto(`/#/tenants/${tenantId}`);
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete a tenant' });
  const go = dialog.getByRole('button', { name: 'Delete acme' });
  assert.equal(await go.isDisabled(), true, 'disabled until the name is typed');
  await dialog.getByLabel(/Type the tenant's name/).fill('acm');
  assert.equal(await go.isDisabled(), true);
  await dialog.getByLabel(/Type the tenant's name/).fill('acme');
  await go.click();
  await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
  await api.waitGone(tenantId, { describeExtra: logs });
  const res = await api.getTenant(tenantId);
  assert.equal(res.status, 404, describe(res));
  page.assertClean();
});
