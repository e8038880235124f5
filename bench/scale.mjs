// Tenant scale benchmark (issue: tenant lifecycle, item 8). Not a test:
// it prints figures. Starts a throwaway stack with the release binaries,
// creates MTM_BENCH_TENANTS tenants (default 1000) at concurrency 1 and
// reports create latency, consumerd's RSS and threads, PostgreSQL and
// RabbitMQ connections, and how long consumerd takes to bring every pool
// back after a restart (SIGKILL, then start).
//
//   node bench/scale.mjs            (make bench runs it)
import fs from 'node:fs';
import path from 'node:path';
import { startStack } from '../tests/harness/stack.mjs';

const N = Number(process.env.MTM_BENCH_TENANTS || 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

function procStatus(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(text)[1]);
  const threads = Number(/Threads:\s+(\d+)/.exec(text)[1]);
  return { rssMiB: kb / 1024, threads };
}

// Workers running according to status rows consumerd wrote after sinceMs.
async function runningWorkers(stack, sinceMs) {
  const out = await stack.psql(`SELECT COALESCE(sum(workers_running), 0) FROM tenant_status WHERE updated_at > to_timestamp(${sinceMs} / 1000.0)`);
  return Number(out);
}

const stack = await startStack({
  env: { MTM_LOG_LEVEL: 'warn', MTM_API_THREADS: '8' },
});
try {
  const token = await stack.adminToken();
  const lat = [];
  const t0 = Date.now();
  // Four producers in parallel, as an operator's script would.
  let next = 0;
  async function creator() {
    while (next < N) {
      const i = next++;
      const s = process.hrtime.bigint();
      const res = await fetch(`${stack.baseUrl}/api/tenants`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: `bench-${i}`, concurrency: 1 }),
      });
      if (res.status !== 201) throw new Error(`create ${i}: ${res.status} ${await res.text()}`);
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }
  await Promise.all([creator(), creator(), creator(), creator()]);
  const createSecs = (Date.now() - t0) / 1000;

  const tConv = Date.now();
  while ((await runningWorkers(stack, tConv)) < N) {
    if (Date.now() - tConv > 120000) throw new Error('pools did not all start within 120 s');
    await sleep(250);
  }
  const firstConvergeSecs = (Date.now() - tConv) / 1000;
  await sleep(3000);

  const pid = stack.procs.consumerd.pid;
  const ps = procStatus(pid);
  const pgConns = Number(await stack.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'mtm'"));
  const rq = await stack.rabbitmqctl('list_connections', '-q', 'name');
  const rabbitConns = rq.stdout.split('\n').filter((l) => l.trim() && !l.startsWith('name')).length;

  await stack.killConsumerd('SIGKILL');
  // The dead consumer's connections must close before the count means anything.
  const tRestart = Date.now();
  await stack.startConsumerd();
  while ((await runningWorkers(stack, tRestart)) < N) {
    if (Date.now() - tRestart > 120000) throw new Error('pools did not come back within 120 s');
    await sleep(250);
  }
  const restartSecs = (Date.now() - tRestart) / 1000;
  const psAfter = procStatus(stack.procs.consumerd.pid);

  const report = {
    tenants: N,
    create_total_s: createSecs.toFixed(1),
    create_p50_ms: pct(lat, 50).toFixed(1),
    create_p99_ms: pct(lat, 99).toFixed(1),
    first_convergence_s: firstConvergeSecs.toFixed(1),
    consumerd_rss_mib: ps.rssMiB.toFixed(0),
    consumerd_threads: ps.threads,
    pg_connections_total: pgConns,
    rabbitmq_connections: rabbitConns,
    restart_convergence_s: restartSecs.toFixed(1),
    consumerd_rss_after_restart_mib: psAfter.rssMiB.toFixed(0),
  };
  console.log(JSON.stringify(report, null, 1));
  const out = path.join(process.env.MTM_TEST_BUILD_DIR || 'build/release', 'bench-scale.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 1));
} finally {
  await stack.stop({ check: false });
}
