// make soak: a long mixed load against a throwaway stack, then the books
// and the trends (issue 11).
//
//   MTM_SOAK_MINUTES=30 node tests/soak/soak.mjs   (default 30)
//
// 1. 100 tenants are created (concurrency 1, two at a time), and what runs
//    throughout starts: three tracked streams (HTTP batches of 10, tags
//    soak-0..2) on tenants 0..2, whose every id answered 202 is checked
//    one by one; a reader walking the pages of tenants 0..2 with cursors;
//    the sampler (3.).
// 2. Throughput: mtm-load (bench/load.c) sends single publishes to the 100
//    tenants at full speed, closed loop over 16 connections, for
//    MTM_SOAK_MEASURE_SECONDS (15); the throughput is the messages answered
//    202 over the time from the first request until the last is stored.
//    Then for MTM_SOAK_MINUTES, at once:
//    - mtm-load publishes single messages at half of that throughput, open
//      loop (requests due at fixed times whatever the server does), request
//      i to tenant i mod 100;
//    - a resizer sets one of tenants 0..9 to concurrency 1..4 every 10 s
//      (tenants 10..99 stay at 1, so the workers, and what follows them,
//      stay within a band: 100..130);
//    - a churner creates a tenant every 20 s, publishes to it, waits until
//      it is stored exactly once, and deletes it;
//    - the first consumerd is restarted (SIGTERM, start) every
//      MTM_SOAK_RESTART_SECONDS (180); the second runs throughout;
//    - every MTM_SOAK_POISON_SECONDS (120, the first after half of it) one
//      poison message (a body that is not JSON, put on the tenant's queue
//      over AMQP: the worker cannot store it) goes to each of tenants 3, 4.
// 3. Every MTM_SOAK_SAMPLE_SECONDS (10), for every process of the stack
//    (mtm-api, mtm-events, lighttpd, consumerd, consumerd-2, postgres: the
//    postmaster and all its children, rabbitmq: rabbitmq-server and all its
//    children, the beam among them): RSS, private and shared memory, open
//    file descriptors, threads, processes, and its TCP connections to
//    PostgreSQL and RabbitMQ (its own sockets, from /proc/net/tcp);
//    PostgreSQL's view (pg_stat_activity: client backends by
//    application_name/usename and by the stack process whose port they
//    serve); RabbitMQ's view (connections, channels, each by stack process,
//    and the broker's memory, erlang:memory(total), via one rabbitmqctl
//    eval); the workers running, in all and held by each consumerd (the
//    workers of the tenants it leases), and the tenants. Of a component:
//    private = the sum of its processes' RssAnon; shared = the largest
//    RssFile + RssShmem among them (PostgreSQL's shared_buffers as its
//    processes have touched them, mapped libraries); RSS = private +
//    shared (for one process: its VmRSS).
// 4. At the end: the books, then per series the first, last, max and the
//    slope (least squares, per minute) over the samples after the warm-up
//    (3 minutes after the soak's load started; a third of the run if
//    shorter), and the trend rule. A series grows without bound when:
//      memory (RSS of a single process, private memory of every component,
//      the broker's memory): its slope is over 0.5 MiB/min AND the mean of
//      the last third of the samples after warm-up exceeds the first
//      third's by more than 10 % + 8 MiB;
//      a count (fds, threads, processes, connections, channels): its slope
//      is over 0 AND the last third's mean exceeds the first's by more than
//      max(2, 10 % of it) + 3 x the rise of the workers that explain it
//      (the mean of the last third - the first's, if positive, of the
//      consumerd's own workers for a consumerd's series, of all workers
//      otherwise);
//      RabbitMQ's open files (its queues' files): its slope is over 0 AND
//      the last third's mean exceeds the first's by more than 25 % + 8,
//      judged once the samples after warm-up span 9 minutes.
//    Reported, not judged: the shared memory and RSS of postgres and
//    rabbitmq (shared_buffers fills as data is written, up to its size),
//    and PostgreSQL's open files (each backend keeps up to
//    max_files_per_process files of the partitions it touched; in the runs
//    their sum fell by half or more about once a minute and refilled);
//    PostgreSQL's connections are judged.
//    The books: every id of the tracked streams answered 202 stored exactly
//    once; every tenant's rows from mtm-load are as many as the requests
//    it was sent (each answered 202; any other answer fails); no tenant has
//    an id twice; every poison message is in its tenant's dead letters
//    (GET /api/tenants/{id}/dlq) and none is stored. Exit status 1 if any of
//    that, or any trend, fails.
// The samples (samples.jsonl as they come, samples.csv, samples.json) and
// the report (report.json) are written to a folder mtm-soak-* under
// MTM_TEST_TMPDIR (or the system's temporary folder), printed at the start
// and the end; MTM_SOAK_ANALYSE=<a run's samples.json> prints its trend
// table again without a stack.
//
// Uses the release build (MTM_TEST_BUILD_DIR, default build/release): the
// sanitizers' own allocator would hide or fake a trend.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, sleep } from '../harness/util.mjs';

process.env.MTM_TEST_BUILD_DIR ||= path.join(REPO, 'build', 'release');
const { startStack, BIN_DIR } = await import('../harness/stack.mjs');
const { makeApi, queueNames } = await import('../harness/api.mjs');
const { startStream, summarize, sqlStr } = await import('../harness/faults.mjs');
const { amqpPublish } = await import('../harness/amqp.mjs');
const { runJsonTool } = await import('../harness/proc.mjs');

const env = process.env;
const MINUTES = Number(env.MTM_SOAK_MINUTES || 30);
const RESTART_S = Number(env.MTM_SOAK_RESTART_SECONDS || 180);
const POISON_S = Number(env.MTM_SOAK_POISON_SECONDS || 120);
const SAMPLE_S = Number(env.MTM_SOAK_SAMPLE_SECONDS || 10);
const MEASURE_S = Number(env.MTM_SOAK_MEASURE_SECONDS || 15);
const TENANTS = Number(env.MTM_SOAK_TENANTS || 100);
const WARM_MIN = Math.min(3, MINUTES / 3);
const RULE = { memSlope: 0.5, memShare: 0.10, memMiB: 8, countSlack: 2, countShare: 0.10, perWorker: 3, filesShare: 0.25, filesSlack: 8 };
const log = (msg) => process.stdout.write(`soak ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const MiB = (kib) => kib / 1024;


/** Runs mtm-load; resolves its JSON output. */
const runLoad = (args) => runJsonTool(path.join(BIN_DIR, 'mtm-load'), args);

// ------------------------------------------------------------ sampling

function readProc(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (k) => { const m = new RegExp(`${k}:\\s+(\\d+)`).exec(status); return m ? Number(m[1]) : 0; };
  const inodes = [];
  let fds = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.push(m[1]);
    } catch { /* closed meanwhile */ }
  }
  return { anon: num('RssAnon'), shared: num('RssFile') + num('RssShmem'), threads: num('Threads'), fds, inodes };
}

/** pid -> ppid of every process on the machine. */
function parents() {
  const m = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      m.set(Number(e), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  return m;
}

/** inode -> {local, remote, state} of every TCP socket in our network namespace. */
function tcpTable() {
  const out = new Map();
  for (const t of ['tcp', 'tcp6']) {
    let text;
    try { text = fs.readFileSync(`/proc/self/net/${t}`, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[9] === '0') continue;
      out.set(f[9], { local: parseInt(f[1].split(':').pop(), 16), remote: parseInt(f[2].split(':').pop(), 16), state: f[3] });
    }
  }
  return out;
}

/** Per stack process (component): rss, fds, threads, procs, pg/amqp client sockets; plus local port -> component. */
function processFigures(stack) {
  const pp = parents();
  const kids = new Map();
  for (const [pid, ppid] of pp) { if (!kids.has(ppid)) kids.set(ppid, []); kids.get(ppid).push(pid); }
  const tcp = tcpTable();
  const comps = {};
  const portOwner = new Map();
  for (const [name, p] of Object.entries(stack.procs)) {
    if (!p || !p.running || !p.pid) { comps[name] = null; continue; }
    const pids = [];
    for (let q = [p.pid]; q.length;) { const x = q.shift(); pids.push(x); q.push(...(kids.get(x) || [])); }
    const c = { procs: 0, rss_kib: 0, private_kib: 0, shared_kib: 0, fds: 0, threads: 0, pg_conns: 0, amqp_conns: 0 };
    let shared = 0;
    for (const pid of pids) {
      let r;
      try { r = readProc(pid); } catch { continue; }
      c.procs++; c.rss_kib += r.anon; shared = Math.max(shared, r.shared); c.fds += r.fds; c.threads += r.threads;
      for (const ino of r.inodes) {
        const s = tcp.get(ino);
        if (!s || s.state !== '01') continue; // ESTABLISHED only
        if (s.remote === stack.pgPort) { c.pg_conns++; portOwner.set(s.local, name); }
        if (s.remote === stack.amqpPort) { c.amqp_conns++; portOwner.set(s.local, name); }
      }
    }
    c.private_kib = c.rss_kib;
    c.shared_kib = shared;
    c.rss_kib += shared;
    comps[name] = c;
  }
  return { comps, portOwner };
}

async function pgFigures(stack, portOwner) {
  const out = { 'pg.client_backends': 0, 'pg.all_backends': 0 };
  const text = await stack.psql(`SELECT coalesce(client_port, -1), coalesce(application_name, ''), coalesce(usename, ''), coalesce(backend_type, '')
    FROM pg_stat_activity WHERE pid <> pg_backend_pid()`, { timeoutMs: 8000 });
  for (const line of text.split('\n').filter(Boolean)) {
    const [port, app, user, type] = line.split('|');
    out['pg.all_backends']++;
    if (type !== 'client backend') continue;
    out['pg.client_backends']++;
    const k1 = `pg.by_app.${app || '-'}/${user || '-'}`;
    out[k1] = (out[k1] || 0) + 1;
    const k2 = `pg.by_proc.${portOwner.get(Number(port)) || 'other'}`;
    out[k2] = (out[k2] || 0) + 1;
  }
  return out;
}

// One rabbitmqctl call (an Erlang VM start costs CPU): memory and every
// connection's peer port and channels.
const RABBIT_EVAL = '{erlang:memory(total), [{proplists:get_value(peer_port, I), proplists:get_value(channels, I)} || I <- rabbit_networking:connection_info_all([peer_port, channels])]}.';
async function rabbitFigures(stack) {
  const r = await stack.rabbitmqctl('eval', RABBIT_EVAL);
  if (r.code !== 0) throw new Error(`rabbitmqctl eval: ${r.code} ${r.stderr.trim().slice(0, 200)}`);
  const text = r.stdout.replace(/\s+/g, '');
  const m = /^\{(\d+),\[(.*)\]\}$/.exec(text);
  if (!m) throw new Error(`rabbitmqctl eval: unexpected ${text.slice(0, 200)}`);
  return { mem: Number(m[1]), conns: [...m[2].matchAll(/\{(\d+),(\d+)\}/g)].map(([, port, ch]) => [Number(port), Number(ch)]) };
}

/** The broker's figures, its connections told apart by the stack process that holds their port. */
function rabbitSeries(raw, portOwner) {
  const out = { 'rabbit.mem_mib': raw.mem / 1048576, 'rabbit.conns': 0, 'rabbit.channels': 0 };
  for (const [port, ch] of raw.conns) {
    const who = portOwner.get(Number(port)) || 'other';
    out['rabbit.conns']++;
    out['rabbit.channels'] += Number(ch);
    out[`rabbit.conns.${who}`] = (out[`rabbit.conns.${who}`] || 0) + 1;
    out[`rabbit.channels.${who}`] = (out[`rabbit.channels.${who}`] || 0) + Number(ch);
  }
  return out;
}

// ------------------------------------------------------------ trends

/** Least-squares slope of ys over xs. */
function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
  return sxx ? sxy / sxx : 0;
}
const mean = (a) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
// RabbitMQ keeps its queues' segment and index files open as a cache
// (bounded by its file handle limit): what it holds depends on which
// tenants were busy lately, not only on how many exist. (PostgreSQL's
// backends do the same with the partitions' files: reported, not judged.)
const SERVER_FILES = /^rabbitmq\.fds$/;
const isMemory = (k) => /(rss_mib|private_mib|mem_mib)$/.test(k);

/**
 * Per series (a missing value, a process down, is skipped): first, last,
 * max over the whole run; over the samples after warm-up the slope per
 * minute and the means of the first and last thirds; and the verdict by
 * the rule at the top of this file.
 */
function analyse(samples) {
  const warm = samples.filter((s) => s.min >= WARM_MIN);
  const keys = new Set();
  for (const s of samples) for (const k of Object.keys(s.v)) keys.add(k);
  const third = (arr, i) => arr.slice(Math.floor((arr.length * i) / 3), Math.floor((arr.length * (i + 1)) / 3));
  const span = warm.length ? warm[warm.length - 1].min - warm[0].min : 0;
  const riseOf = (key) => {
    const w = warm.map((s) => s.v[key]).filter((x) => x !== undefined);
    return Math.max(0, Number((mean(third(w, 2)) - mean(third(w, 0))).toFixed(1)) || 0);
  };
  const workersRise = riseOf('workers');
  // The stack process a series belongs to: its own workers explain its counts.
  const compOf = (k) => (/^(rabbit\.conns|rabbit\.channels|pg\.by_proc)\./.test(k) ? k.split('.').slice(2).join('.') : k.split('.')[0]);
  const rows = [];
  for (const k of [...keys].sort()) {
    const all = samples.filter((s) => s.v[k] !== undefined && s.v[k] !== null);
    const pts = warm.filter((s) => s.v[k] !== undefined && s.v[k] !== null);
    if (!all.length) continue;
    const ys = pts.map((s) => s.v[k]);
    const row = {
      series: k, n: pts.length, first: all[0].v[k], last: all[all.length - 1].v[k], max: Math.max(...all.map((s) => s.v[k])),
      slope_per_min: slope(pts.map((s) => s.min), ys),
      first_third_mean: mean(third(ys, 0)), last_third_mean: mean(third(ys, 2)),
    };
    const grew = row.last_third_mean - row.first_third_mean;
    const sign = grew >= 0 ? '+' : '';
    const multi = samples.some((x) => (x.v[`${k.split('.')[0]}.procs`] || 0) > 1);
    if (/^(workers|tenants|published)|\.other$|\.shared_mib$|\.workers$/.test(k) || (multi && /\.rss_mib$/.test(k)) || pts.length < 6) row.verdict = 'info';
    else if (k === 'postgres.fds') {
      row.verdict = 'info';
      row.why = 'PostgreSQL\'s own file cache (each backend keeps up to max_files_per_process files of the partitions it touched); its connections are judged';
    }
    else if (isMemory(k)) {
      const allowed = row.first_third_mean * RULE.memShare + RULE.memMiB;
      row.verdict = row.slope_per_min > RULE.memSlope && grew > allowed ? 'GROWS' : 'ok';
      row.why = `slope ${row.slope_per_min.toFixed(3)} MiB/min (limit ${RULE.memSlope}), last third's mean ${sign}${grew.toFixed(1)} MiB over the first's (limit ${allowed.toFixed(1)})`;
    } else if (SERVER_FILES.test(k)) {
      if (span < 9) { row.verdict = 'info'; row.why = 'too short a run to judge a cache that empties about once a minute'; rows.push(row); continue; }
      const allowed = row.first_third_mean * RULE.filesShare + RULE.filesSlack;
      row.verdict = row.slope_per_min > 0 && grew > allowed ? 'GROWS' : 'ok';
      row.why = `slope ${row.slope_per_min.toFixed(3)}/min, last third's mean ${sign}${grew.toFixed(1)} over the first's (limit ${allowed.toFixed(1)}: a cache of the tenants' files)`;
    } else {
      const own = samples.some((x) => x.v[`${compOf(k)}.workers`] !== undefined) ? `${compOf(k)}.workers` : 'workers';
      const rise = riseOf(own);
      const allowed = Number((Math.max(RULE.countSlack, RULE.countShare * row.first_third_mean) + RULE.perWorker * rise).toFixed(1));
      row.verdict = row.slope_per_min > 0 && grew > allowed ? 'GROWS' : 'ok';
      row.why = `slope ${row.slope_per_min.toFixed(3)}/min, last third's mean ${sign}${grew.toFixed(1)} over the first's (limit ${allowed}: ${own}' mean rose ${rise})`;
    }
    rows.push(row);
  }
  return { rows, workersRise };
}

/** Prints the trend table of `rows`; fails a series that grows. */
function printTrends(rows, fail) {
  log(`${'series'.padEnd(34)} ${'first'.padStart(9)} ${'last'.padStart(9)} ${'max'.padStart(9)} ${'slope/min'.padStart(10)}  verdict`);
  for (const r of rows) {
    const f = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2)).padStart(9);
    log(`${r.series.padEnd(34)} ${f(r.first)} ${f(r.last)} ${f(r.max)} ${r.slope_per_min.toFixed(3).padStart(10)}  ${r.verdict}${r.verdict === 'GROWS' ? `: ${r.why}` : ''}`);
    if (r.verdict === 'GROWS') fail(`${r.series} grows without bound: ${r.why}`);
  }
}

// MTM_SOAK_ANALYSE=<a run's samples.json>: the trends of that run again, no stack.
if (env.MTM_SOAK_ANALYSE) {
  let bad = false;
  const { rows, workersRise } = analyse(JSON.parse(fs.readFileSync(env.MTM_SOAK_ANALYSE, 'utf8')));
  log(`trends (warm-up ${WARM_MIN.toFixed(1)} min; workers' mean rose ${workersRise}):`);
  printTrends(rows, (m) => { bad = true; log(`FAIL: ${m}`); });
  process.exit(bad ? 1 : 0);
}

// ------------------------------------------------------------ the run

const outDir = fs.mkdtempSync(path.join(env.MTM_TEST_TMPDIR || os.tmpdir(), 'mtm-soak-'));
log(`samples and report go to ${outDir}`);

const stack = await startStack({ env: { MTM_LOG_LEVEL: 'warn' } });
let samplingDone = false;
let failed = false;
const fail = (msg) => { failed = true; log(`FAIL: ${msg}`); };
const samples = [];
const samplesFile = path.join(outDir, 'samples.jsonl');
try {
  await stack.waitReady();
  const steady = await stack.addConsumerd(); // never restarted
  const token = await stack.adminToken();
  const api = makeApi(stack, { token });
  const auth = ['--header', `Authorization: Bearer ${token}`];
  const tenants = new Array(TENANTS);
  let nextT = 0;
  const creator = async () => {
    while (nextT < TENANTS) {
      const i = nextT++;
      tenants[i] = (await api.createTenant(`soak-${i}`, 1)).id;
    }
  };
  await Promise.all([creator(), creator()]);
  const list = tenants.map(sqlStr).join(',');
  for (const t0 = Date.now(); ;) {
    const ready = Number(await stack.psql(`SELECT count(*) FROM tenant_status WHERE tenant_id IN (${list}) AND workers_running >= 1`));
    if (ready === TENANTS) break;
    if (Date.now() - t0 > 120000) throw new Error(`only ${ready} of ${TENANTS} pools running after 120 s`);
    await sleep(500);
  }
  log(`${TENANTS} tenants created and consuming`);
  const pathsFile = path.join(outDir, 'paths');
  fs.writeFileSync(pathsFile, tenants.map((id) => `/api/tenants/${id}/messages`).join('\n') + '\n');
  const body = (tag) => {
    const f = path.join(outDir, `${tag}.json`);
    fs.writeFileSync(f, JSON.stringify({ payload: { tag, pad: 'x'.repeat(200) } }));
    return f;
  };
  const countTag = async (tag) => {
    const out = await stack.psql(`SELECT tenant_id, count(*) FROM messages WHERE tenant_id IN (${list}) AND payload->>'tag' = ${sqlStr(tag)} GROUP BY 1`, { timeoutMs: 120000 });
    return new Map(out.split('\n').filter(Boolean).map((l) => { const [t, n] = l.split('|'); return [t, Number(n)]; }));
  };
  const totalOf = (m) => [...m.values()].reduce((a, b) => a + b, 0);

  // ---- 2. the background: tracked streams, the reader, the samples (also during the throughput run)
  let deadline = Infinity;
  const until = () => Date.now() < deadline;
  const counts = { resizes: 0, churned: 0, restarts: 0, pages: 0, poison: 0 };
  const tracked = tenants.slice(0, 3);
  const streams = tracked.map((id, i) => startStream(api, id, { tag: `soak-${i}`, batch: 10, gapMs: 200, timeoutMs: 20000 }));

  const pager = (async () => {
    while (until()) {
      for (const id of tracked) {
        let cursor = null;
        do {
          const res = await api.get(`/api/tenants/${id}/messages?order=asc&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { timeoutMs: 20000 });
          if (res.status !== 200) { fail(`page: ${res.status} ${res.text.slice(0, 200)}`); break; }
          counts.pages++;
          cursor = res.json.next_cursor;
        } while (cursor && until());
      }
      await sleep(200);
    }
  })();

  // ---- 3. samples, every SAMPLE_S from now on
  let startedAt = Infinity; // set when the soak's load starts
  let rabbitBusy = false, rabbitLast = {}, prevOwners = new Map();
  const sample = async () => {
    const at = Date.now();
    const v = {};
    const { comps, portOwner } = processFigures(stack);
    for (const [name, c] of Object.entries(comps)) {
      if (!c) continue;
      v[`${name}.rss_mib`] = Number(MiB(c.rss_kib).toFixed(2));
      v[`${name}.private_mib`] = Number(MiB(c.private_kib).toFixed(2));
      v[`${name}.shared_mib`] = Number(MiB(c.shared_kib).toFixed(2));
      for (const k of ['fds', 'threads', 'procs', 'pg_conns', 'amqp_conns']) v[`${name}.${k}`] = c[k];
    }
    try { Object.assign(v, await pgFigures(stack, portOwner)); } catch (e) { log(`sample: pg_stat_activity: ${e.message.split('\n')[0]}`); }
    try {
      const [w, t] = (await stack.psql(`SELECT coalesce(sum(s.workers_running), 0), count(*) FROM tenants t LEFT JOIN tenant_status s ON s.tenant_id = t.id`, { timeoutMs: 8000 })).split('|').map(Number);
      v.workers = w; v.tenants = t;
      // The workers each consumerd holds (its leased tenants' workers): its threads, channels and connections follow them.
      const held = await stack.psql(`SELECT c.pid, coalesce(sum(s.workers_running), 0) FROM tenant_leases l JOIN consumers c ON c.id = l.consumer_id
        LEFT JOIN tenant_status s ON s.tenant_id = l.tenant_id GROUP BY c.pid`, { timeoutMs: 8000 });
      const byPid = new Map(held.split('\n').filter(Boolean).map((l) => l.split('|').map(Number)));
      for (const [name, p] of Object.entries(stack.procs)) if (/^consumerd/.test(name) && p.running) v[`${name}.workers`] = byPid.get(p.pid) || 0;
    } catch (e) { log(`sample: workers: ${e.message.split('\n')[0]}`); }
    // rabbitmqctl takes a second or two: its figures come from the last call that finished, never older than a sample.
    if (!rabbitBusy) {
      rabbitBusy = true;
      rabbitFigures(stack).then((r) => { rabbitLast = { raw: r, at: Date.now() }; }, (e) => log(`sample: rabbitmqctl: ${e.message.split('\n')[0]}`))
        .finally(() => { rabbitBusy = false; });
    }
    if (rabbitLast.at && at - rabbitLast.at < 2 * SAMPLE_S * 1000 + 2000) {
      const owners = new Map([...prevOwners, ...portOwner]);
      for (const [k, x] of Object.entries(rabbitSeries(rabbitLast.raw, owners))) v[k] = Number(x.toFixed(2));
    }
    prevOwners = portOwner;
    v.published_tracked = streams.reduce((n, s) => n + s.ids.length, 0);
    const s = { t: new Date(at).toISOString(), at, v };
    samples.push(s);
    fs.appendFileSync(samplesFile, JSON.stringify(s) + '\n');
    if (samples.length % 6 === 1) {
      const held = Object.keys(v).filter((k) => /^consumerd.*\.workers$/.test(k)).map((k) => `${k.split('.')[0]} ${v[k]}`).join(', ');
      const f = (n) => (v[`${n}.rss_mib`] === undefined ? '-' : `${v[`${n}.rss_mib`].toFixed(1)}M/${v[`${n}.fds`]}fd/${v[`${n}.threads`]}t`);
      log(`t+${((at - Math.min(at, startedAt)) / 60000).toFixed(1)} min: ${['mtm-api', 'mtm-events', 'lighttpd', 'consumerd', steady, 'postgres', 'rabbitmq'].map((n) => `${n} ${f(n)}`).join(', ')}; `
        + `pg ${v['pg.client_backends']} clients, rabbit ${v['rabbit.conns']} conns/${v['rabbit.channels']} ch/${v['rabbit.mem_mib']} MiB; workers ${v.workers} (${held}); ${JSON.stringify(counts)}`);
    }
  };
  const sampler = (async () => {
    const t0 = Date.now();
    for (let k = 1; !samplingDone; k++) {
      await sample();
      while (!samplingDone && Date.now() < t0 + k * SAMPLE_S * 1000) await sleep(Math.min(1000, t0 + k * SAMPLE_S * 1000 - Date.now()));
    }
  })();

  // ---- 1. throughput, with the background running
  const t0 = Date.now();
  const measure = await runLoad(['--port', String(stack.httpPort), '--paths', pathsFile, '--body-file', body('measure'), ...auth,
    '--conns', '16', '--seconds', String(MEASURE_S)]);
  const accepted = measure.status['202'] || 0;
  let stored = 0;
  for (;;) {
    stored = totalOf(await countTag('measure'));
    if (stored >= accepted || Date.now() - t0 > 300000) break;
    await sleep(250);
  }
  const storedS = (Date.now() - t0) / 1000;
  const throughput = accepted / storedS;
  const rate = Math.max(1, Math.round(throughput / 2));
  log(`throughput: ${accepted} single publishes answered 202 in ${measure.seconds.toFixed(1)} s (${Math.round(accepted / measure.seconds)}/s, statuses ${JSON.stringify(measure.status)}), `
    + `all stored ${storedS.toFixed(1)} s after the start: ${Math.round(throughput)} msg/s; soak rate ${rate} msg/s over ${TENANTS} tenants`);
  if (accepted !== measure.answered || measure.errors) fail(`throughput run: not every request answered 202: ${JSON.stringify(measure.status)}, ${measure.errors} errors`);


  // ---- 4. the soak
  startedAt = Date.now();
  deadline = startedAt + MINUTES * 60000;
  const loadRun = runLoad(['--port', String(stack.httpPort), '--paths', pathsFile, '--body-file', body('load'), ...auth,
    '--conns', '32', '--seconds', String(MINUTES * 60), '--rate', String(rate)]);
  loadRun.catch(() => {});
  const resizer = (async () => {
    while (until()) {
      await sleep(10000);
      const id = tenants[Math.floor(Math.random() * Math.min(10, TENANTS))];
      const res = await api.setConcurrency(id, 1 + Math.floor(Math.random() * 4));
      if (res.status !== 200) fail(`resize: ${res.status} ${res.text.slice(0, 200)}`); else counts.resizes++;
    }
  })();
  const churner = (async () => {
    const { assertStreamsStored } = await import('../harness/faults.mjs');
    while (until()) {
      await sleep(20000);
      try {
        const t = await api.createTenant(`churn-${Date.now().toString(36)}`, 1);
        const s = startStream(api, t.id, { tag: 'churn', batch: 20, gapMs: 20 });
        await sleep(2000);
        const r = await s.stop();
        await assertStreamsStored(stack, t.id, [r], { info: `churn tenant ${t.id}` });
        const del = await api.deleteTenant(t.id);
        if (del.status !== 202) fail(`delete: ${del.status}`);
        await api.waitGone(t.id, { timeoutMs: 30000 });
        counts.churned++;
      } catch (e) { fail(`churn: ${e.message.split('\n').slice(0, 3).join(' | ')}`); }
    }
  })();
  const restarter = (async () => {
    while (until()) {
      const next = Date.now() + RESTART_S * 1000;
      while (until() && Date.now() < next) await sleep(1000);
      if (!until()) break;
      const r = await stack.killConsumerd('SIGTERM');
      if (r.code !== 0) fail(`consumerd exited ${r.code}/${r.signal} on SIGTERM`);
      await stack.startConsumerd();
      counts.restarts++;
    }
  })();
  const poisoned = new Map(); // tenant -> [message ids]
  const poisonTenants = tenants.slice(3, 5);
  const poisoner = (async () => {
    let k = 0;
    while (until()) {
      const next = Date.now() + POISON_S * 1000 / 2;
      while (until() && Date.now() < next) await sleep(1000);
      if (!until()) break;
      for (const id of poisonTenants) {
        const mid = `soak-poison-${++k}`;
        try {
          await amqpPublish(stack.amqpUrl, queueNames(id)[0], [{ body: `not json ${k}`, properties: { messageId: mid, contentType: 'application/json' } }]);
          if (!poisoned.has(id)) poisoned.set(id, []);
          poisoned.get(id).push(mid);
          counts.poison++;
        } catch (e) { fail(`poison: ${e.message}`); }
      }
      const rest = Date.now() + POISON_S * 1000 / 2;
      while (until() && Date.now() < rest) await sleep(1000);
    }
  })();

  log(`running ${MINUTES} min at ${rate} msg/s (consumerd restarted every ${RESTART_S} s, poison every ${POISON_S} s, samples every ${SAMPLE_S} s; build ${process.env.MTM_TEST_BUILD_DIR})`);
  while (until()) await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
  samplingDone = true;
  await sampler;
  for (const s of samples) s.min = Number(((s.at - startedAt) / 60000).toFixed(3));
  await Promise.all([pager, resizer, churner, restarter, poisoner]);
  const results = await Promise.all(streams.map((s) => s.stop()));
  const load = await loadRun;
  log(`load stopped: mtm-load ${load.answered} answered of ${load.answered + load.errors}, statuses ${JSON.stringify(load.status)}, ${load.errors} errors, `
    + `p50/p99 ${load.lat_ms.p50}/${load.lat_ms.p99} ms; tracked ${results.map((r) => `${r.tag} ${summarize(r.attempts)}`).join(', ')}`);

  // ---- 5. the books
  const issued = load.answered + load.errors;
  if ((load.status['202'] || 0) !== issued) fail(`mtm-load: ${issued - (load.status['202'] || 0)} of ${issued} requests not answered 202: ${JSON.stringify(load.status)}, ${load.errors} errors`);
  // Every queue of the soak tenants empty: whatever is published is stored or dead-lettered.
  const t1 = Date.now();
  for (;;) {
    const q = await stack.listQueues();
    const depth = tenants.flatMap((id) => queueNames(id).map((n) => q.get(n) || 0)).reduce((a, b) => a + b, 0);
    if (depth === 0) break;
    if (Date.now() - t1 > 300000) { fail(`queues still hold ${depth} messages 300 s after the load stopped`); break; }
    await sleep(1000);
  }
  log(`queues empty ${((Date.now() - t1) / 1000).toFixed(1)} s after the load stopped`);
  const perTenant = (n, k) => (n > k ? Math.floor((n - k - 1) / TENANTS) + 1 : 0); // requests i < n with i mod TENANTS = k
  for (const [tag, n, ok] of [['measure', measure.answered + measure.errors, accepted], ['load', issued, load.status['202'] || 0]]) {
    const got = await countTag(tag);
    const wrong = tenants.map((id, k) => [k, perTenant(n, k), got.get(id) || 0]).filter(([, want, have]) => want !== have);
    if (ok === n && wrong.length) fail(`${tag}: ${wrong.length} tenants do not hold the rows they were sent, e.g. ${JSON.stringify(wrong.slice(0, 5))} (tenant, sent, stored)`);
    else if (ok !== n && (totalOf(got) < ok || totalOf(got) > n)) fail(`${tag}: ${totalOf(got)} rows stored, ${ok} answered 202 of ${n} sent`);
    else log(`${tag}: ${totalOf(got)} messages stored over ${got.size} tenants, as many as answered 202 (${ok}), each tenant as many as it was sent`);
  }
  const dups = await stack.psql(`SELECT tenant_id || ' ' || id || ' x' || count(*) FROM messages WHERE tenant_id IN (${list}) GROUP BY tenant_id, id HAVING count(*) > 1 LIMIT 5`, { timeoutMs: 300000 });
  if (dups) fail(`ids stored twice: ${dups.split('\n').join(', ')}`);
  for (const [i, id] of tracked.entries()) {
    const r = results[i];
    const have = (await stack.psql(`SELECT id FROM messages WHERE tenant_id = ${sqlStr(id)} AND payload->>'tag' = ${sqlStr(r.tag)}`, { timeoutMs: 120000 })).split('\n').filter(Boolean);
    const haveSet = new Set(have);
    const sent = new Set(r.ids);
    const missing = r.ids.filter((x) => !haveSet.has(x));
    const refused = new Set(r.attempts.filter((a) => a.status !== 202).map((a) => a.n));
    const extra = have.filter((x) => !sent.has(x));
    if (sent.size !== r.ids.length) fail(`${r.tag}: 202 answers named ${r.ids.length} ids, ${sent.size} distinct`);
    if (missing.length) fail(`${r.tag}: ${missing.length} of ${r.ids.length} ids answered 202 not stored, e.g. ${missing.slice(0, 3)}`);
    if (extra.length && !refused.size) fail(`${r.tag}: ${extra.length} stored ids never answered 202`);
    const bad = r.attempts.filter((a) => a.status !== 202);
    if (bad.length) fail(`${r.tag}: ${bad.length} publishes not answered 202, e.g. ${bad[0].status} ${bad[0].err}`);
    if (!missing.length) log(`${r.tag}: ${r.ids.length} ids answered 202, each stored exactly once`);
  }
  let deadLettered = 0;
  for (const [id, mids] of poisoned) {
    let got = [];
    for (const tEnd = Date.now() + 60000; ;) {
      const res = await api.get(`/api/tenants/${id}/dlq?limit=100`);
      got = res.status === 200 ? res.json.data.map((d) => d.id) : [];
      if (mids.every((m) => got.includes(m)) || Date.now() > tEnd) break;
      await sleep(1000);
    }
    const missing = mids.filter((m) => !got.includes(m));
    if (missing.length) fail(`tenant ${id}: poison messages not dead-lettered: ${missing.join(', ')} (dlq holds ${JSON.stringify(got)})`);
    const leaked = await stack.psql(`SELECT count(*) FROM messages WHERE tenant_id = ${sqlStr(id)} AND id IN (${mids.map(sqlStr).join(',')})`).catch(() => '0');
    if (Number(leaked)) fail(`tenant ${id}: ${leaked} poison messages stored`);
    deadLettered += mids.length - missing.length;
  }
  log(`poison: ${counts.poison} sent to ${poisoned.size} tenants, ${deadLettered} found in their dead letters, none stored`);
  if (MINUTES >= 1 && counts.poison === 0) fail('no poison message was sent');

  // ---- 6. the trends
  const { rows, workersRise } = analyse(samples);
  const csvKeys = [...new Set(samples.flatMap((s) => Object.keys(s.v)))].sort();
  fs.writeFileSync(path.join(outDir, 'samples.csv'), ['t,min,' + csvKeys.join(',')]
    .concat(samples.map((s) => [s.t, s.min, ...csvKeys.map((k) => (s.v[k] === undefined ? '' : s.v[k]))].join(','))).join('\n') + '\n');
  log(`trends over ${samples.length} samples (slopes after ${WARM_MIN.toFixed(1)} min of warm-up; workers' mean rose ${workersRise} from the first third to the last):`);
  printTrends(rows, fail);
  fs.writeFileSync(path.join(outDir, 'samples.json'), JSON.stringify(samples));
  const report = { minutes: MINUTES, tenants: TENANTS, throughput_msg_s: throughput, rate_msg_s: rate, load, measure: { status: measure.status, seconds: measure.seconds },
    tracked: results.map((r) => ({ tag: r.tag, ids: r.ids.length, attempts: JSON.parse(summarize(r.attempts)) })), counts, dead_lettered: deadLettered,
    warm_up_min: WARM_MIN, rule: RULE, workers_rise: workersRise, series: rows };
  fs.writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(report, null, 1));
  log(`counts: ${JSON.stringify(counts)}; messages answered 202: ${accepted + (load.status['202'] || 0) + results.reduce((n, r) => n + r.ids.length, 0)} (throughput run ${accepted}, soak ${load.status['202'] || 0}, tracked ${results.reduce((n, r) => n + r.ids.length, 0)})`);
} catch (e) {
  fail(e.stack || e.message);
} finally {
  samplingDone = true;
  try { await stack.stop(); } catch (e) { fail(e.message); }
}
log(`samples: ${path.join(outDir, 'samples.json')} (MTM_SOAK_ANALYSE), ${path.join(outDir, 'samples.csv')}, report: ${path.join(outDir, 'report.json')}`);
log(failed ? 'FAILED' : 'passed');
process.exit(failed ? 1 : 0);
