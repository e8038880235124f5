// The console's weight and speed (docs/console.md, docs/performance.md):
//
// - first load: every file the browser fetches from opening the console to
//   the overview after logging in, as it travels (compressed by lighttpd),
//   against the budget of 150 KB; the same files uncompressed beside it;
// - the tenants page with 1,000 tenants: from following the link to its
//   first 100 rows on screen, median of 7, next to the API's own answer
//   for the same page measured in the same run (the ratio is what the
//   console adds).
//
//   node bench/console.mjs            (make bench runs it)
import { startStack } from '../tests/harness/stack.mjs';
import { launchBrowser } from '../tests/harness/browser.mjs';

const TENANTS = 1000;
const RUNS = 7;
const BUDGET = 150 * 1024;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const stack = await startStack({ env: { MTM_LOG_LEVEL: 'warn' } });
const b = await launchBrowser();
try {
  await stack.waitReady();
  // Paused tenants straight into the table: the page reads rows, and
  // consumerd then has no pools to start for them.
  await stack.psql(`INSERT INTO tenants (name, concurrency, status)
    SELECT 'bench-' || lpad(g::text, 4, '0'), 1, 'paused' FROM generate_series(1, ${TENANTS}) g`);

  const page = await b.page(stack);
  const sizes = [];
  page.on('requestfinished', async (r) => {
    const s = await r.sizes();
    const res = await r.response();
    const body = res ? (await res.body().catch(() => Buffer.alloc(0))).length : 0;
    sizes.push({ url: r.url().replace(stack.baseUrl, ''), wire: s.responseBodySize + s.responseHeadersSize, body });
  });
  await page.goto('/');
  await page.getByLabel('Username').fill(stack.env.MTM_ADMIN_USER);
  await page.getByLabel('Password').fill(stack.env.MTM_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.locator('#ov-tenants').waitFor();
  await page.waitForTimeout(300);
  const files = sizes.filter((s) => !s.url.startsWith('/api/'));
  const wire = files.reduce((a, s) => a + s.wire, 0);
  const raw = files.reduce((a, s) => a + s.body, 0);

  const token = await page.evaluate(() => sessionStorage.getItem('mtm.token'));
  const apiMs = [];
  const renderMs = [];
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now();
    const res = await fetch(`${stack.baseUrl}/api/tenants?limit=100`, { headers: { authorization: `Bearer ${token}` } });
    await res.json();
    apiMs.push(performance.now() - t0);
    await page.goto('/#/');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    t0 = performance.now();
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page.locator('tbody tr').nth(99).waitFor();
    renderMs.push(performance.now() - t0);
  }
  page.assertClean();
  const report = {
    first_load: {
      files: files.length,
      bytes_on_the_wire: wire,
      bytes_uncompressed: raw,
      budget: BUDGET,
      of_budget: +(wire / BUDGET).toFixed(3),
      largest: files.sort((x, y) => y.wire - x.wire).slice(0, 5).map((s) => `${s.url} ${s.wire} B`),
    },
    tenants_page_1000: {
      runs: RUNS,
      render_first_100_ms_median: +median(renderMs).toFixed(1),
      api_page_ms_median: +median(apiMs).toFixed(1),
      render_over_api: +(median(renderMs) / median(apiMs)).toFixed(2),
      target_ms: 300,
    },
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await b.close();
  await stack.stop({ check: false });
}
