// The monitoring files that ship with mtm, checked by Prometheus's own tool:
// every PromQL expression of the Grafana dashboard (deploy/grafana) parses,
// loaded as recording rules into `promtool check rules`; and the alert
// rules themselves (their unit tests run in the promtool suite, tests/run.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO } from '../harness/util.mjs';

const dashboard = JSON.parse(fs.readFileSync(path.join(REPO, 'deploy', 'grafana', 'dashboards', 'mtm.json'), 'utf8'));

/** Every `expr` in the dashboard, with the panel it belongs to. */
function expressions() {
  const out = [];
  const walk = (o, title) => {
    if (Array.isArray(o)) { for (const v of o) walk(v, title); return; }
    if (!o || typeof o !== 'object') return;
    const t = typeof o.title === 'string' ? o.title : title;
    for (const [k, v] of Object.entries(o)) {
      if (k === 'expr' && typeof v === 'string') out.push({ title: t, expr: v });
      else walk(v, t);
    }
  };
  walk(dashboard, '');
  return out;
}

// Grafana's variables, as Grafana would substitute them.
const substitute = (expr) => expr
  .replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s').replaceAll('$__range', '1h')
  .replaceAll('${tenant}', '.*').replaceAll('$tenant', '.*');

test('every PromQL expression of the Grafana dashboard parses (promtool check rules)', () => {
  const exprs = expressions();
  assert.ok(exprs.length >= 30, `found ${exprs.length} expressions`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtm-dash-'));
  try {
    const rules = ['groups:', '  - name: dashboard', '    rules:'];
    exprs.forEach((e, i) => {
      rules.push(`      - record: mtm_dashboard_check_${i}`, `        expr: ${JSON.stringify(substitute(e.expr))}`);
    });
    const file = path.join(dir, 'dashboard-rules.yml');
    fs.writeFileSync(file, rules.join('\n') + '\n');
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    const bad = r.status === 0 ? '' : (r.stdout + r.stderr).split('\n').filter((l) => /record: mtm_dashboard_check_(\d+)|error|FAILED/i.test(l)).join('\n');
    const named = (r.stdout + r.stderr).match(/mtm_dashboard_check_(\d+)/g) || [];
    assert.equal(r.status, 0, `promtool refused the dashboard's PromQL:\n${bad}\n${named.map((n) => exprs[Number(n.split('_').pop())]).map((e) => `  ${e.title}: ${e.expr}`).join('\n')}`);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard charts the new metrics: event streams, the 5xx share, tenant names', () => {
  const all = expressions().map((e) => e.expr).join('\n');
  for (const m of ['mtm_events_streams', 'mtm_events_cut_off_total', 'mtm_tenant_info', 'mtm_http_requests_total{code=~"5..']) {
    assert.ok(all.includes(m), `no panel reads ${m}`);
  }
});

test('every alert rule has a runbook_url whose section exists in docs/troubleshooting.md, and a unit test', () => {
  const rules = fs.readFileSync(path.join(REPO, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
  const tests = fs.readFileSync(path.join(REPO, 'deploy', 'prometheus', 'alerts_test.yml'), 'utf8');
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'troubleshooting.md'), 'utf8');
  const names = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  assert.ok(names.length >= 11);
  for (const name of names) {
    assert.ok(rules.includes(`runbook_url: /docs/troubleshooting.md#${name.toLowerCase()}`), `${name}: no runbook_url`);
    assert.ok(new RegExp(`^## ${name}$`, 'm').test(doc), `${name}: no section in docs/troubleshooting.md`);
    assert.ok(tests.includes(`alertname: ${name}`), `${name}: no promtool unit test`);
  }
});
