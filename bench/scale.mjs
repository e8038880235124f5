// Tenant scale benchmark (issue 12, target 6). Not a test: it prints figures.
// Starts a throwaway stack with the release binaries and grows it to each
// size of MTM_BENCH_TENANTS (a list, default "1000"; e.g. "1000,5000,10000"),
// creating tenants at concurrency 1 with four concurrent clients. At each
// size it reports:
//   - create latency of that step (p50/p99), and of a probe of 200 more
//     creates made once the size is reached (the "while N exist" figure);
//   - page reads of one tenant's messages while N exist (p50/p99/max and
//     the answers), 20 for each request thread;
//   - consumerd's RSS and threads, the broker's memory (beam RSS and
//     rabbitmqctl status' total), PostgreSQL and RabbitMQ connections
//     (consumerd's own among them) and channels;
//   - the CPU the whole stack (consumerd, broker, PostgreSQL, lighttpd,
//     mtm-api, mtm-events and their children) used over 30 s of idleness;
//   - how long consumerd takes to have every pool consuming again after a
//     SIGKILL and a start, and its RSS after that;
//   - the cost per tenant: (figure at N - figure with no tenant) / N.
//
//   MTM_TEST_BUILD_DIR=$PWD/build/release MTM_BENCH_TENANTS=1000,5000,10000 node bench/scale.mjs
//
// MTM_BENCH_IDLE_S changes the idle window (30), MTM_BENCH_CHANNELS sets
// MTM_AMQP_CHANNELS_PER_CONNECTION (consumerd's default otherwise);
// MTM_CLASSIC_QUEUE_VERSION passes through to the stack.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack } from '../tests/harness/stack.mjs';

const SIZES = String(process.env.MTM_BENCH_TENANTS || '1000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
const IDLE_S = Number(process.env.MTM_BENCH_IDLE_S || 30);
const PROBE = 200;
const CLK_TCK = 100; // getconf CLK_TCK on Linux
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

function procStatus(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(text)[1]);
  const threads = Number(/Threads:\s+(\d+)/.exec(text)[1]);
  return { rssMiB: kb / 1024, threads };
}

/** pid -> {ppid, ticks (utime+stime), comm} for every process. */
function processTable() {
  const out = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    out.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), comm });
  }
  return out;
}

/** Every descendant of roots (roots included). */
function tree(table, roots) {
  const kids = new Map();
  for (const [pid, p] of table) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(pid);
  }
  const seen = new Set();
  const todo = [...roots];
  while (todo.length) {
    const pid = todo.pop();
    if (seen.has(pid) || !table.has(pid)) continue;
    seen.add(pid);
    todo.push(...(kids.get(pid) || []));
  }
  return seen;
}

const STACK_PROCS = ['consumerd', 'rabbitmq', 'postgres', 'lighttpd', 'mtm-api', 'mtm-events'];

/** CPU seconds used by each part of the stack (and children) over IDLE_S. */
async function idleCpu(stack) {
  const roots = Object.fromEntries(STACK_PROCS.filter((n) => stack.procs[n]?.pid).map((n) => [n, stack.procs[n].pid]));
  const measure = () => {
    const table = processTable();
    const out = {};
    for (const [name, pid] of Object.entries(roots)) {
      let t = 0;
      for (const p of tree(table, [pid])) t += table.get(p).ticks;
      out[name] = t;
    }
    return out;
  };
  const a = measure();
  const t0 = Date.now();
  await sleep(IDLE_S * 1000);
  const b = measure();
  const secs = (Date.now() - t0) / 1000;
  const per = {};
  let total = 0;
  for (const name of Object.keys(a)) {
    const pctCore = ((b[name] - a[name]) / CLK_TCK / secs) * 100;
    per[name] = Number(pctCore.toFixed(2));
    total += pctCore;
  }
  return { total_pct_of_one_core: Number(total.toFixed(2)), ...per };
}

/** The broker: beam's RSS, the node's own total (rabbitmqctl status), connections and channels. */
async function broker(stack) {
  const table = processTable();
  let rssKb = 0;
  for (const pid of tree(table, [stack.procs.rabbitmq.pid])) {
    if (table.get(pid).comm.startsWith('beam')) {
      try { rssKb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { /* gone */ }
    }
  }
  let totalMiB = null;
  const st = await stack.rabbitmqctl('status', '--formatter', 'json');
  try {
    const j = JSON.parse(st.stdout);
    const t = j.memory && j.memory.total;
    const bytes = t && (t.erlang ?? t.rss ?? t.allocated);
    if (bytes) totalMiB = bytes / 1048576;
  } catch { /* older formatter: leave null */ }
  const ports = new Set(stack.tcpSockets('consumerd').filter((s) => s.remotePort === stack.amqpPort).map((s) => s.localPort));
  const conns = (await stack.rabbitmqctl('list_connections', '-q', '--no-table-headers', 'peer_port', 'channels')).stdout
    .split('\n').filter((l) => l.trim()).map((l) => l.split('\t').map(Number));
  const mine = conns.filter(([port]) => ports.has(port));
  return {
    beamRssMiB: rssKb / 1024,
    totalMiB,
    connections: conns.length,
    consumerdConnections: mine.length,
    consumerdChannels: mine.reduce((n, [, ch]) => n + ch, 0),
  };
}

// Workers running according to status rows consumerd wrote after sinceMs
// (a restarted consumerd writes every row once; otherwise a row is written
// only when its figures change, so sinceMs 0 counts every row).
async function runningWorkers(stack, sinceMs) {
  const out = await stack.psql(`SELECT COALESCE(sum(workers_running), 0) FROM tenant_status WHERE updated_at > to_timestamp(${sinceMs} / 1000.0)`);
  return Number(out);
}

async function snapshot(stack) {
  const ps = procStatus(stack.procs.consumerd.pid);
  const pgConns = Number(await stack.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'mtm'"));
  return { ...ps, pgConns, broker: await broker(stack) };
}

const env = { MTM_LOG_LEVEL: 'warn', MTM_API_THREADS: '8' };
if (process.env.MTM_BENCH_CHANNELS) env.MTM_AMQP_CHANNELS_PER_CONNECTION = process.env.MTM_BENCH_CHANNELS;
if (process.env.MTM_CLASSIC_QUEUE_VERSION) env.MTM_CLASSIC_QUEUE_VERSION = process.env.MTM_CLASSIC_QUEUE_VERSION;
const stack = await startStack({ env });
const reports = [];
try {
  await stack.waitReady();
  const token = await stack.adminToken();
  let created = 0;
  let unavailable = 0; // 503 answers to creates, retried
  async function createMany(n) {
    const lat = [];
    const target = created + n;
    async function creator() {
      while (created < target) {
        const i = created++;
        const s = process.hrtime.bigint();
        // A 503 (the broker did not answer mtm-api within its 1 s) is
        // retried as an operator's script would, counted, and its time
        // stays in the latency.
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`${stack.baseUrl}/api/tenants`, {
            method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ name: `bench-${i}`, concurrency: 1 }),
          });
          if (res.status === 201) break;
          const text = await res.text();
          if (res.status !== 503 || attempt === 5) throw new Error(`create ${i}: ${res.status} ${text}`);
          unavailable++;
          await sleep(250);
        }
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }
    await Promise.all([creator(), creator(), creator(), creator()]);
    return lat;
  }
  /**
   * Page reads of one tenant's messages while the others exist: 20 for each
   * request thread, so that every connection of the responder goes past the
   * fifth execution of its prepared read (where PostgreSQL would build a
   * generic plan over every partition, docs/architecture.md).
   */
  async function pageReads() {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const made = await fetch(`${stack.baseUrl}/api/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `bench-reader-${Date.now()}`, concurrency: 1 }) });
    if (made.status !== 201) throw new Error(`create the reader: ${made.status} ${await made.text()}`);
    const { id } = await made.json();
    const pub = await fetch(`${stack.baseUrl}/api/tenants/${id}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ messages: [1, 2, 3].map((n) => ({ payload: n })) }) });
    if (pub.status !== 202) throw new Error(`publish: ${pub.status} ${await pub.text()}`);
    const lat = [];
    const statuses = {};
    for (let i = 0; i < 20 * Number(env.MTM_API_THREADS); i++) {
      const s = process.hrtime.bigint();
      const res = await fetch(`${stack.baseUrl}/api/tenants/${id}/messages?limit=3`, { headers: auth });
      await res.text();
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      statuses[res.status] = (statuses[res.status] || 0) + 1;
    }
    created++; // the reader is one more tenant
    return { p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), statuses };
  }
  async function waitAll(startMs, what, { fresh = false } = {}) {
    while ((await runningWorkers(stack, fresh ? startMs : 0)) < created) {
      if (Date.now() - startMs > 900000) throw new Error(`${what}: pools did not all run within 900 s`);
      await sleep(250);
    }
    return (Date.now() - startMs) / 1000;
  }

  await sleep(3000);
  const base = await snapshot(stack);
  const baseIdle = await idleCpu(stack);
  console.log(JSON.stringify({ tenants: 0, consumerd_rss_mib: base.rssMiB.toFixed(1), consumerd_threads: base.threads,
    broker_rss_mib: base.broker.beamRssMiB.toFixed(0), broker_total_mib: base.broker.totalMiB?.toFixed(0), idle_cpu: baseIdle }));

  for (const N of SIZES) {
    if (N <= created) continue;
    const t0 = Date.now();
    const unavailable0 = unavailable;
    const lat = await createMany(N - created);
    const stepUnavailable = unavailable - unavailable0;
    const createSecs = (Date.now() - t0) / 1000;
    const tConv = Date.now();
    const firstConvergeSecs = await waitAll(tConv, 'first start');
    await sleep(5000);
    const s = await snapshot(stack);
    const idle = await idleCpu(stack);
    const probe = await createMany(PROBE); // while N exist
    await waitAll(Date.now(), 'probe');
    const reads = await pageReads();
    await waitAll(Date.now(), 'reader');
    const loadavg = os.loadavg().map((x) => x.toFixed(2)).join(' ');

    await stack.killConsumerd('SIGKILL');
    const tRestart = Date.now();
    await stack.startConsumerd();
    const restartSecs = await waitAll(tRestart, 'restart', { fresh: true });
    await sleep(3000);
    const after = procStatus(stack.procs.consumerd.pid);

    const per = (x, b) => ((x - b) / N);
    const report = {
      tenants: N,
      date: new Date().toISOString(),
      loadavg_1_5_15: loadavg,
      create_step_s: createSecs.toFixed(1),
      create_step_p50_ms: pct(lat, 50).toFixed(1),
      create_step_p99_ms: pct(lat, 99).toFixed(1),
      create_step_503_retried: stepUnavailable,
      create_probe_p50_ms: pct(probe, 50).toFixed(1),
      create_probe_p99_ms: pct(probe, 99).toFixed(1),
      first_convergence_s: firstConvergeSecs.toFixed(1),
      page_read_p50_ms: reads.p50.toFixed(1),
      page_read_p99_ms: reads.p99.toFixed(1),
      page_read_max_ms: reads.max.toFixed(1),
      page_read_statuses: reads.statuses,
      consumerd_rss_mib: s.rssMiB.toFixed(0),
      consumerd_threads: s.threads,
      consumerd_amqp_connections: s.broker.consumerdConnections,
      consumerd_amqp_channels: s.broker.consumerdChannels,
      rabbitmq_connections_total: s.broker.connections,
      pg_connections_total: s.pgConns,
      broker_beam_rss_mib: s.broker.beamRssMiB.toFixed(0),
      broker_status_total_mib: s.broker.totalMiB == null ? null : s.broker.totalMiB.toFixed(0),
      idle_cpu_pct_of_one_core: idle,
      restart_convergence_s: restartSecs.toFixed(1),
      consumerd_rss_after_restart_mib: after.rssMiB.toFixed(0),
      per_tenant: {
        consumerd_kib: (per(s.rssMiB, base.rssMiB) * 1024).toFixed(1),
        consumerd_kib_after_restart: (per(after.rssMiB, base.rssMiB) * 1024).toFixed(1),
        broker_beam_kib: (per(s.broker.beamRssMiB, base.broker.beamRssMiB) * 1024).toFixed(1),
        broker_status_kib: s.broker.totalMiB == null || base.broker.totalMiB == null ? null
          : (per(s.broker.totalMiB, base.broker.totalMiB) * 1024).toFixed(1),
        consumerd_threads: per(s.threads, base.threads).toFixed(3),
      },
    };
    reports.push(report);
    console.log(JSON.stringify(report, null, 1));
  }
  const out = path.join(process.env.MTM_TEST_BUILD_DIR || 'build/release', 'bench-scale.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(reports, null, 1));
} finally {
  await stack.stop({ check: false });
}
