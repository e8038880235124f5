// What the shared publish rate limit costs (docs/security.md, docs/performance.md).
// The limiter keeps one token bucket per tenant in PostgreSQL so that every
// responder process shares it; this measures the price of that choice: single
// publishes to a tenant without a limit, then to a tenant whose limit is so
// high that it never refuses (so every request pays the bucket's round trip
// and row lock), alternating, 16 connections, closed loop. Prints throughput
// and latency of each and the ratios.
//
//   node bench/ratelimit.mjs            (make bench runs it)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startStack, BIN_DIR } from '../tests/harness/stack.mjs';

const SECONDS = Number(process.env.MTM_BENCH_SECONDS || 8);
const ROUNDS = 2;

function load(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN_DIR, 'mtm-load'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
  });
}

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
  await call('PUT', `/api/tenants/${limited.id}/config/rate_limit`, { rate: 1000000, burst: 10000000 });
  const body = path.join(tmp, 'single.json');
  fs.writeFileSync(body, JSON.stringify({ payload: { order: 42, note: 'x'.repeat(200) } }));
  const run = (id) => load(['--port', String(stack.httpPort), '--method', 'POST',
    '--path', `/api/tenants/${id}/messages`, '--body-file', body, '--header', auth,
    '--header', 'Content-Type: application/json', '--conns', '16', '--seconds', String(SECONDS)]);
  await run(free.id); // warm-up
  const res = { free: [], limited: [] };
  for (let i = 0; i < ROUNDS; i++) {
    res.free.push(await run(free.id));
    res.limited.push(await run(limited.id));
  }
  const avg = (xs, f) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  const fig = (k) => ({
    ok_rps: avg(res[k], (x) => x.ok_rps), p50: avg(res[k], (x) => x.lat_ms.p50), p99: avg(res[k], (x) => x.lat_ms.p99),
    non202: res[k].reduce((a, x) => a + (x.answered - (x.status['202'] || 0)), 0),
  });
  const f = fig('free'), l = fig('limited');
  const report = {
    seconds_per_run: SECONDS, rounds: ROUNDS,
    without_limit: f, with_limit: l,
    throughput_ratio: +(l.ok_rps / f.ok_rps).toFixed(3),
    p50_ratio: +(l.p50 / f.p50).toFixed(3), p99_ratio: +(l.p99 / f.p99).toFixed(3),
  };
  console.log(JSON.stringify(report, null, 1));
  fs.writeFileSync(path.join(process.env.MTM_TEST_BUILD_DIR || 'build/release', 'bench-ratelimit.json'), JSON.stringify(report, null, 1));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  await stack.stop({ check: false });
}
