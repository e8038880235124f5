// A real browser for the console's tests: Debian's Chromium driven by
// playwright-core (npm; `npx playwright install` cannot work here).
//
//   const b = await launchBrowser();
//   const page = await b.page(stack);          // watches the console and the network
//   ...
//   page.expectHttp(/\/api\/auth\/login$/, 401); // an answer the test provokes on purpose
//   page.assertClean();                         // fails on any other console error or failed request
//   await shoot(page, 'tenants');               // build/ui/tenants-desktop.png and -375.png
//   await assertAccessible(page, 'tenants');    // axe-core: no serious or critical violation
//   await b.close();
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { REPO } from './util.mjs';

export const SHOTS_DIR = path.join(REPO, 'build', 'ui');
const AXE = path.join(REPO, 'node_modules', 'axe-core', 'axe.min.js');

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.MTM_TEST_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const contexts = [];
  return {
    browser,
    /**
     * A page in a fresh context (its own sessionStorage) that records every
     * console error, page error, failed request and HTTP answer >= 400,
     * except those `allow` names ({url, status}) for the whole page's life.
     */
    async page(stack, { width = 1280, height = 900, allow = [] } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, baseURL: stack.baseUrl });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.baseUrl });
      contexts.push(context);
      const page = await context.newPage();
      const problems = [];
      const expected = [];
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        // Chromium logs every non-2xx fetch as a console error too: those are
        // judged by their responses below.
        if (/Failed to load resource: the server responded with a status of \d+/.test(m.text())) return;
        problems.push(`console error: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('dialog', (d) => { problems.push(`unexpected ${d.type()}(): ${d.message()}`); d.dismiss().catch(() => {}); });
      page.on('requestfailed', (r) => {
        const why = r.failure()?.errorText || '';
        if (/ERR_ABORTED/.test(why)) return; // navigations and cancelled loads
        if (expected.some((e) => e.status === 0 && e.url.test(r.url()))) return;
        problems.push(`request failed: ${r.method()} ${r.url()} ${why}`);
      });
      page.on('response', (r) => {
        if (r.status() < 400) return;
        if (allow.some((a) => a.url.test(r.url()) && a.status === r.status())) return;
        const i = expected.findIndex((e) => e.url.test(r.url()) && (e.status === r.status() || e.status === 'any'));
        if (i >= 0) {
          if (!expected[i].sticky) expected.splice(i, 1);
          return;
        }
        problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
      });
      /** An answer (or, with status 0, a failed request) the test provokes on purpose. */
      page.expectHttp = (url, status, { sticky = false } = {}) => expected.push({ url, status, sticky });
      page.clearExpected = () => expected.splice(0, expected.length);
      page.assertClean = () => {
        const found = problems.splice(0, problems.length);
        assert.deepEqual(found, [], `the page reported problems:\n${found.join('\n')}`);
      };
      return page;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
    },
  };
}

/** Screenshots of the page as it is, at its own width and at 375 px. */
export async function shoot(page, name) {
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  const size = page.viewportSize();
  await page.screenshot({ path: path.join(SHOTS_DIR, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(150);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.screenshot({ path: path.join(SHOTS_DIR, `${name}-375.png`), fullPage: true });
  await page.setViewportSize(size);
  assert.ok(overflow <= 1, `${name}: at 375 px the page scrolls sideways by ${overflow} px`);
}

/** Runs axe-core on the page; fails on any serious or critical violation. */
export async function assertAccessible(page, name) {
  const source = fs.readFileSync(AXE, 'utf8');
  // Evaluated through the DevTools protocol, so the page's CSP does not apply.
  await page.evaluate(source);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${name}: axe-core found ${bad.length} serious or critical violation(s): ${JSON.stringify(bad, null, 2)}`);
  return result;
}
