// What the shared publish rate limit costs (docs/security.md, docs/performance.md).
// The limiter keeps one token bucket per tenant in PostgreSQL so that every
// responder process shares it; each process takes tokens from it a chunk at a
// time and spends them locally (cgi-bin/allowance.h). This measures the price:
// single publishes, 16 connections, closed loop, alternating between a tenant
// without a limit (the baseline), one whose limit is so high that it never
// refuses (1,000,000/s), and one limited to three times the baseline's
// throughput measured in the warm-up (the limit is near, a chunk is 100 ms of it, so
// the process goes back to the shared bucket every few hundred publishes),
// and a second tenant without a limit, whose ratio to the first shows how
// much the machine's other work alone moves a ratio in this run.
// Prints throughput and latency of each beside the baseline of the same run,
// the ratios, and how many publishes the shared bucket granted.
//
//   node bench/ratelimit.mjs            (make bench runs it)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, BIN_DIR } from '../tests/harness/stack.mjs';
import { runJsonTool } from '../tests/harness/proc.mjs';
import { shareQuiet } from '../tests/harness/util.mjs';

const SECONDS = Number(process.env.MTM_BENCH_SECONDS || 5);
const ROUNDS = Number(process.env.MTM_BENCH_ROUNDS || 4);
const TARGET = 0.95; // issue 12: a limit costs at most 5 % of the throughput

const load = (args) => runJsonTool(path.join(BIN_DIR, 'mtm-load'), args);

const stack = await startStack({ env: { MTM_LOG_LEVEL: 'warn' } });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mtm-bench-rl-'));
try {
  const token = await stack.adminToken();
  const auth = `Authorization: Bearer ${token}`;
  const call = async (method, p, body) => {
    const res = await fetch(stack.baseUrl + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const free = await call('POST', '/api/tenants', { name: 'rl-free', concurrency: 2 });
  const limited = await call('POST', '/api/tenants', { name: 'rl-limited', concurrency: 2 });
  const near = await call('POST', '/api/tenants', { name: 'rl-near', concurrency: 2 });
  // A second tenant without a limit: its ratio to the first is the noise floor of the run.
  const free2 = await call('POST', '/api/tenants', { name: 'rl-free-2', concurrency: 2 });
  await call('PUT', `/api/tenants/${limited.id}/config/rate_limit`, { rate: 1000000, burst: 10000000 });
  const body = path.join(tmp, 'single.json');
  fs.writeFileSync(body, JSON.stringify({ payload: { order: 42, note: 'x'.repeat(200) } }));
  const run = (id) => load(['--port', String(stack.httpPort), '--method', 'POST',
    '--path', `/api/tenants/${id}/messages`, '--body-file', body, '--header', auth,
    '--header', 'Content-Type: application/json', '--conns', '16', '--seconds', String(SECONDS)]);
  const warm = await run(free.id); // warm-up; sizes the near limit
  const nearRate = Math.min(1000000, Math.max(100, Math.round(3 * warm.ok_rps)));
  await call('PUT', `/api/tenants/${near.id}/config/rate_limit`, { rate: nearRate, burst: nearRate });
  const counts = async () => {
    const res = await fetch(stack.baseUrl + '/api/metrics', { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    const v = (by) => Number((text.match(new RegExp(`^mtm_api_publish_limit_checks_total\\{granted_by="${by}"\\} (\\d+)`, 'm')) || [])[1] || 0);
    return { local: v('local'), shared: v('shared') };
  };
  const res = { free: [], free2: [], limited: [], near: [] };
  const grants = { limited: { local: 0, shared: 0 }, near: { local: 0, shared: 0 } };
  // Each run starts with the consumers idle: a backlog left by the run
  // before would be drained during the next one and tax whichever case that is.
  const drained = async () => {
    const t0 = Date.now();
    for (;;) {
      const depths = await Promise.all([free, free2, limited, near].map(async (x) => (await call('GET', `/api/tenants/${x.id}`)).queue_depth || 0));
      if (depths.every((d) => d === 0)) {
        // These GETs name the tenants too: a run starts on a quiet responder.
        await shareQuiet();
        return;
      }
      if (Date.now() - t0 > 120000) throw new Error(`queues not drained after 120 s: ${depths}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  // Rounds alternate the order (free, limited, near, free2; then the
  // reverse) so that a drift in the machine's other work falls on all alike.
  const cases = [['free', free.id], ['limited', limited.id], ['near', near.id], ['free2', free2.id]];
  for (let i = 0; i < ROUNDS; i++) {
    for (const [k, id] of i % 2 ? [...cases].reverse() : cases) {
      await drained();
      const before = await counts();
      res[k].push(await run(id));
      const after = await counts();
      if (grants[k]) {
        grants[k].local += after.local - before.local;
        grants[k].shared += after.shared - before.shared;
      }
    }
  }
  const avg = (xs, f) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  const fig = (k) => ({
    ok_rps: avg(res[k], (x) => x.ok_rps), p50: avg(res[k], (x) => x.lat_ms.p50), p99: avg(res[k], (x) => x.lat_ms.p99),
    non202: res[k].reduce((a, x) => a + (x.answered - (x.status['202'] || 0)), 0),
    statuses: res[k].reduce((a, x) => { for (const [c, m] of Object.entries(x.status)) a[c] = (a[c] || 0) + m; return a; }, {}),
    per_round_ok_rps: res[k].map((x) => +x.ok_rps.toFixed(1)),
  });
  const f = fig('free'), l = fig('limited'), n = fig('near'), f2 = fig('free2');
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const ratio = (x) => ({
    throughput_ratio: +(x.ok_rps / f.ok_rps).toFixed(3),
    per_round_ratios: x.per_round_ok_rps.map((v, i) => +(v / f.per_round_ok_rps[i]).toFixed(3)),
    p50_ratio: +(x.p50 / f.p50).toFixed(3), p99_ratio: +(x.p99 / f.p99).toFixed(3),
  });
  const report = {
    seconds_per_run: SECONDS, rounds: ROUNDS, target_throughput_ratio: TARGET,
    without_limit: f, with_limit: l, ...ratio(l),
    near_limit: { rate: nearRate, burst: nearRate, ...n, ...ratio(n) },
    second_without_limit: { ...f2, ...ratio(f2) },
    granted: grants,
  };
  console.log(JSON.stringify(report, null, 1));
  fs.writeFileSync(path.join(process.env.MTM_TEST_BUILD_DIR || 'build/release', 'bench-ratelimit.json'), JSON.stringify(report, null, 1));
  const num = (x) => Math.round(x).toLocaleString('en-US');
  const line = (label, x, r) => `  ${label.padEnd(40)} ${num(x.ok_rps).padStart(7)} publishes/s  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms` +
    (r ? `  ratio ${r.throughput_ratio.toFixed(2)} (target >= ${TARGET}: ${r.throughput_ratio >= TARGET ? 'met' : 'missed'}; ` +
      `per round ${r.per_round_ratios.map((v) => v.toFixed(2)).join(' ')}, median ${median(r.per_round_ratios).toFixed(2)})` : '');
  console.log(`\npublish limit, single publishes, 16 connections, ${ROUNDS} rounds of ${SECONDS} s each, same stack:`);
  console.log(line('without a limit (baseline)', f));
  console.log(line('limit 1,000,000/s (never binds)', l, ratio(l)));
  console.log(line(`limit ${num(nearRate)}/s (3x the warm-up)`, n, ratio(n)));
  console.log(line('another tenant without a limit (noise)', f2, ratio(f2)));
  for (const k of ['limited', 'near'])
    console.log(`  ${k}: ${num(grants[k].local)} publishes granted locally, ${num(grants[k].shared)} by the shared bucket; answers ${JSON.stringify((k === 'limited' ? l : n).statuses)}`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  await stack.stop({ check: false });
}
