// The fault catalogue (issue 11; docs/operations.md, "Faults"): each entry
// names a fault, injects it into a real stack while producers publish over
// HTTP, heals it the way the process supervisor would (or not at all, when
// mtm must cope by itself), and asserts what survives:
//   - every answer during the fault is a 202 or a 503 problem+json with
//     Retry-After (lighttpd's own refusal while it is down excepted), and
//     none takes longer than the entry's bound;
//   - publishing recovers without operator action within the entry's bound
//     (measured from the heal, or from the fault when nothing heals it);
//   - every id answered 202 is stored exactly once, nothing is
//     dead-lettered (an outage must not burn attempts).
//
// tests/chaos/chaos.test.mjs runs every entry (make chaos);
// tests/integration/chaos_short.test.mjs the quick ones marked `short`
// (make test).
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe, queueNames, partitionState } from '../harness/api.mjs';
import { sleep, waitFor } from '../harness/util.mjs';
import { startStream, startReader, summarize, assertFaultAnswers, assertStreamsStored, recoveredAt } from '../harness/faults.mjs';

/** A stack with two consumerd sharing the tenants by lease. */
export async function startChaosStack() {
  const stack = await startStack();
  await stack.waitReady();
  await stack.addConsumerd();
  const api = makeApi(stack, { token: await stack.adminToken() });
  return { stack, api };
}

/** GET /api/tenants/{id}'s consumer id, or null. */
async function holder(api, id) {
  const res = await api.getTenant(id);
  return res.status === 200 && res.json.consumer ? res.json.consumer.id : null;
}

/** The consumerd process (by harness name) whose id holds tenant `id`. */
async function holderProcess(stack, api, id) {
  let who = null;
  await waitFor(`tenant ${id} held by a consumerd`, async () => { who = await holder(api, id); return who; }, { timeoutMs: 15000 });
  const ready = await api.get('/api/ready');
  const c = (ready.json.consumers || []).find((x) => x.id === who);
  assert.ok(c, `the holder ${who} is listed by /api/ready: ${describe(ready)}`);
  const name = Object.keys(stack.procs).find((n) => /^consumerd(-\d+)?$/.test(n) && stack.proc(n).pid === c.pid);
  assert.ok(name, `a consumerd of this stack has pid ${c.pid}`);
  return { name, id: who };
}

/** `root` and every process descended from it (by /proc/<pid>/stat's ppid). */
function treePids(root) {
  const children = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(e));
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    out.push(pid);
    todo.push(...(children.get(pid) || []));
  }
  return out;
}

/** Sends `signal` to the RabbitMQ node's processes (its start script, the beam, their children); resolves their command names. */
function signalRabbit(stack, signal) {
  const p = stack.procs.rabbitmq;
  if (!p || !p.running) throw new Error('harness: rabbitmq is not running');
  const pids = treePids(p.pid);
  const names = [];
  for (const pid of pids) {
    try { names.push(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()); process.kill(pid, signal); } catch { /* gone */ }
  }
  return names;
}

/** VmRSS of a running process in KiB. */
function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The consumerd processes of a stack (harness names). */
const consumerdNames = (stack) => Object.keys(stack.procs).filter((n) => /^consumerd(-\d+)?$/.test(n) && stack.proc(n).running);

/**
 * A loop that asks GET `path` every `gapMs` and records each answer like
 * the reader of faults.mjs; stop() resolves the attempts.
 */
function startProbe(api, path, { gapMs = 250, timeoutMs = 20000 } = {}) {
  let stopping = false;
  const attempts = [];
  const loop = (async () => {
    while (!stopping) {
      const a = { start: Date.now() };
      try {
        const res = await api.get(path, { timeoutMs });
        a.status = res.status;
        a.retryAfter = res.headers.get('retry-after');
        a.problem = /^application\/problem\+json\b/i.test(res.headers.get('content-type') || '');
        a.err = res.status === 200 ? undefined : describe(res);
      } catch (e) {
        a.status = 'no answer';
        a.err = e.message;
      }
      a.end = Date.now();
      attempts.push(a);
      await sleep(gapMs);
    }
  })();
  return { attempts, async stop() { stopping = true; await loop; return attempts; } };
}

/**
 * The entries. Fields: name; short (part of make test); inject(ctx) and
 * heal(ctx) (ctx: {stack, api, tenant, state}); holdMs (how long the fault
 * lasts before heal); recoverMs (publishing all 202 again, at most this
 * long after the heal); slowMs (the longest any answer may take during the
 * fault); refusedWhileDown (connections refused are fine while the fault
 * lasts: lighttpd itself is down); prepare(ctx) (before the fault, once the
 * load is under way); check(ctx, t) (entry-specific assertions after
 * recovery).
 */
export const ENTRIES = [
  {
    name: 'RabbitMQ killed (SIGKILL) and restarted',
    inject: ({ stack }) => stack.killRabbit('SIGKILL'),
    holdMs: 2000,
    heal: ({ stack }) => stack.startRabbit(),
    recoverMs: 20000,
    slowMs: 12000,
  },
  {
    name: 'PostgreSQL killed (SIGKILL) and restarted',
    inject: ({ stack }) => stack.procs.postgres.stop({ signal: 'SIGKILL', timeoutMs: 10000 }),
    holdMs: 2000,
    heal: ({ stack }) => stack.startPostgres(),
    recoverMs: 15000,
    slowMs: 5000,
  },
  {
    name: 'PostgreSQL unreachable for 10 s (SIGSTOP of every postgres process, then SIGCONT)',
    inject: ({ stack }) => { assert.ok(stack.signalPostgres('SIGSTOP').length > 3, 'the postmaster and its children stopped'); },
    holdMs: 10000,
    heal: ({ stack }) => { stack.signalPostgres('SIGCONT'); },
    recoverMs: 15000,
    // The spec wants a dependency that is down answered fast (SPEC 3): a
    // request that needs the database must not wait out the cut. lib/pg.c
    // bounds a connection attempt (2 s), an unacknowledged write
    // (tcp_user_timeout, 5 s) and a statement's answer (MTM_PG_ANSWER_MS,
    // 5 s), so 6 s.
    slowMs: 6000,
  },
  {
    name: 'consumerd killed (SIGKILL) mid-batch: its tenants move to the other consumerd',
    short: true,
    async inject(ctx) {
      ctx.state.victim = await holderProcess(ctx.stack, ctx.api, ctx.tenant);
      await ctx.stack.killConsumerd('SIGKILL', { name: ctx.state.victim.name });
    },
    holdMs: 0,
    heal: null, // nothing: the other consumerd takes the tenant
    recoverMs: 2000,
    slowMs: 5000,
    async check({ stack, api, tenant, state, faultAt }, t) {
      let now = null;
      await waitFor('another consumerd holds the tenant', async () => { now = await holder(api, tenant); return now && now !== state.victim.id; },
        { timeoutMs: 15000, intervalMs: 250 });
      const moved = Date.now() - faultAt;
      t.diagnostic(`tenant held by another consumerd within ${moved} ms of the SIGKILL`);
      assert.ok(moved <= 12000, `lease moved after ${moved} ms (target 10 s)`);
      await stack.startConsumerd({ name: state.victim.name }); // as supervisord would
    },
  },
  {
    name: 'consumerd hung (SIGSTOP): its lease passes to the other consumerd within 10 s; SIGCONT later',
    async inject(ctx) {
      ctx.state.victim = await holderProcess(ctx.stack, ctx.api, ctx.tenant);
      assert.ok(ctx.stack.proc(ctx.state.victim.name).signalGroup('SIGSTOP'));
    },
    holdMs: 0,
    heal: null,
    recoverMs: 2000,
    slowMs: 5000,
    async check({ stack, api, tenant, state, faultAt }, t) {
      let now = null;
      try {
        await waitFor('another consumerd holds the tenant', async () => { now = await holder(api, tenant); return now && now !== state.victim.id; },
          { timeoutMs: 20000, intervalMs: 250 });
        const moved = Date.now() - faultAt;
        t.diagnostic(`tenant held by another consumerd within ${moved} ms of the SIGSTOP`);
        assert.ok(moved <= 10000 + 1000, `lease moved after ${moved} ms (target 10 s)`);
      } finally {
        stack.proc(state.victim.name).signalGroup('SIGCONT');
      }
      // The woken one finds its row gone, stops the pools it no longer
      // holds and takes a fair share again: the tenant's queue ends with
      // one pool's consumers, not two.
      await waitFor('two consumerd share the tenants again', async () => {
        const r = await api.get('/api/ready');
        return r.status === 200 && (r.json.consumers || []).length === 2;
      }, { timeoutMs: 20000, intervalMs: 250 });
      const woke = Date.now();
      let consumers;
      await waitFor(`${queueNames(tenant)[0]} consumed by one pool (2 consumers) only`, async () => {
        const r = await stack.rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'consumers');
        const line = r.stdout.split('\n').find((l) => l.startsWith(queueNames(tenant)[0] + '\t'));
        consumers = line ? Number(line.split('\t')[1]) : null;
        return consumers === 2;
      }, { timeoutMs: 15000, intervalMs: 250, describe: () => `  consumers: ${consumers}` });
      t.diagnostic(`one pool consumes the tenant ${Date.now() - woke} ms after the woken consumerd re-registered`);
    },
  },
  {
    name: 'mtm-api killed (SIGKILL) under load and restarted',
    short: true,
    inject: ({ stack }) => stack.stopServer('mtm-api', 'SIGKILL'),
    holdMs: 1000,
    heal: ({ stack }) => stack.startServer('mtm-api'),
    recoverMs: 5000,
    slowMs: 5000,
  },
  {
    name: 'lighttpd restarted (SIGINT, graceful stop, then start)',
    inject: ({ stack }) => stack.procs.lighttpd.stop({ signal: 'SIGINT', timeoutMs: 10000 }),
    holdMs: 1000,
    heal: ({ stack }) => stack.startLighttpd(),
    recoverMs: 5000,
    slowMs: 5000,
    refusedWhileDown: true,
  },
  {
    name: 'consumerd stopped (SIGTERM), one of two: the other takes its tenants at once',
    short: true,
    async inject(ctx) {
      const { stack, api, tenant, state } = ctx;
      state.victim = await holderProcess(stack, api, tenant);
      // The lease is watched while the victim stops: a graceful stop gives
      // its leases back, so the handover must not wait for them to expire.
      state.watching = true;
      state.watch = (async () => {
        while (state.watching) {
          const now = await holder(api, tenant).catch(() => null);
          if (now && now !== state.victim.id) { state.movedAt = Date.now(); return; }
          await sleep(100);
        }
      })();
      state.exit = await stack.killConsumerd('SIGTERM', { name: state.victim.name, timeoutMs: 30000 });
      state.exitedAt = Date.now();
    },
    holdMs: 0,
    heal: null, // nothing: the other consumerd takes the tenant
    recoverMs: 2000,
    slowMs: 3000,
    async check({ stack, state, faultAt }, t) {
      try {
        await waitFor('another consumerd holds the tenant', () => state.movedAt, { timeoutMs: 15000, intervalMs: 100 });
      } finally {
        state.watching = false;
        await state.watch;
      }
      const moved = state.movedAt - faultAt;
      t.diagnostic(`consumerd exited ${state.exitedAt - faultAt} ms after SIGTERM (status ${state.exit.code}); ` +
        `tenant held by the other consumerd ${moved} ms after SIGTERM`);
      assert.ok(!state.exit.timedOut && state.exit.code === 0 && !state.exit.signal,
        `consumerd exits 0 on SIGTERM within 30 s: ${JSON.stringify({ code: state.exit.code, signal: state.exit.signal, timedOut: state.exit.timedOut })}`);
      // A lease that expired instead of being given back moves after
      // MTM_HEARTBEAT_MAX_AGE (5 s): 2.5 s tells the two apart.
      assert.ok(moved <= 2500, `lease moved ${moved} ms after SIGTERM (graceful handover: about 2 s)`);
      await stack.startConsumerd({ name: state.victim.name }); // as supervisord would
    },
  },
  ...['SIGKILL', 'SIGTERM'].map((signal) => ({
    name: `the only consumerd ${signal === 'SIGKILL' ? 'killed (SIGKILL)' : 'stopped (SIGTERM)'} and started again 2 s later, as supervisord would`,
    // The others are stopped first (gracefully): nobody else can take the
    // tenant, so the messages wait on the queue until the restart.
    async prepare(ctx) {
      const { stack, api, tenant, state } = ctx;
      state.victim = await holderProcess(stack, api, tenant);
      state.others = Object.keys(stack.procs).filter((n) => /^consumerd(-\d+)?$/.test(n) && n !== state.victim.name && stack.proc(n).running);
      for (const name of state.others) await stack.killConsumerd('SIGTERM', { name, timeoutMs: 30000 });
    },
    async inject({ stack, state }) {
      state.exit = await stack.killConsumerd(signal, { name: state.victim.name, timeoutMs: 30000 });
    },
    holdMs: 2000,
    heal: ({ stack, state }) => stack.startConsumerd({ name: state.victim.name }),
    recoverMs: 2000, // publishing never depended on consumerd
    slowMs: 3000,
    async check({ stack, api, tenant, state, downUntil }, t) {
      try {
        if (signal === 'SIGTERM') assert.ok(state.exit.code === 0 && !state.exit.timedOut, `consumerd exits 0 on SIGTERM: ${JSON.stringify(state.exit)}`);
        let now = null;
        await waitFor('the restarted consumerd holds the tenant', async () => { now = await holder(api, tenant); return now && now !== state.victim.id; },
          { timeoutMs: 15000, intervalMs: 250 });
        t.diagnostic(`the restarted consumerd holds the tenant ${Date.now() - downUntil} ms after its start`);
      } finally {
        for (const name of state.others) await stack.startConsumerd({ name });
      }
    },
  })),
  {
    name: 'PostgreSQL frozen for 30 s (SIGSTOP of every postgres process, then SIGCONT)',
    inject(ctx) {
      assert.ok(ctx.stack.signalPostgres('SIGSTOP').length > 3, 'the postmaster and its children stopped');
      ctx.state.ready = startProbe(ctx.api, '/api/ready');
    },
    holdMs: 30000,
    heal: ({ stack }) => { stack.signalPostgres('SIGCONT'); },
    recoverMs: 5000,
    // As for the 10 s freeze: every wait on the database is bounded
    // (connect 2 s, tcp_user_timeout 5 s, MTM_PG_ANSWER_MS 5 s), however
    // long the freeze lasts.
    slowMs: 6000,
    async check({ stack, api, state, faultAt, downUntil }, t) {
      const ready = await state.ready.stop();
      assertFaultAnswers(ready, 'GET /api/ready while PostgreSQL was frozen', { slowMs: 6000, ok: 200 });
      const refused = ready.filter((a) => a.status === 503 && a.start >= faultAt + 1000 && a.end <= downUntil);
      assert.ok(refused.length > 0, `GET /api/ready answered 503 while PostgreSQL was frozen: ${summarize(ready)}`);
      // No process hangs on the frozen server: both consumerd beat again
      // (their heartbeats go through PostgreSQL), mtm-api answers.
      await waitFor('both consumerd beating again', async () => {
        const r = await api.get('/api/ready');
        return r.status === 200 && (r.json.consumers || []).length === 2;
      }, { timeoutMs: 20000, intervalMs: 250 });
      t.diagnostic(`/api/ready ${summarize(ready)} (longest ${Math.max(...ready.map((a) => a.end - a.start))} ms); ` +
        `both consumerd ready ${Date.now() - downUntil} ms after SIGCONT`);
      for (const n of consumerdNames(stack)) stack.proc(n).assertRunning('to survive the freeze');
    },
  },
  {
    name: 'RabbitMQ frozen for 30 s (SIGSTOP of the node\'s processes, then SIGCONT)',
    inject(ctx) {
      const names = signalRabbit(ctx.stack, 'SIGSTOP');
      assert.ok(names.includes('beam.smp'), `the Erlang VM stopped (stopped: ${names.join(', ')})`);
      ctx.state.ready = startProbe(ctx.api, '/api/ready');
    },
    holdMs: 30000,
    heal: ({ stack }) => { signalRabbit(stack, 'SIGCONT'); },
    recoverMs: 5000,
    // A publish waits at most 5 s for its confirm (cgi-bin/messages.c): the
    // calls in flight when the broker froze answer 503 after that; later
    // ones sooner, as mtm-api's publisher gives up the silent connection
    // (connect and handshake bounded by 1 s, writes by SO_SNDTIMEO).
    slowMs: 6000,
    async check({ stack, tenant, state, faultAt, downUntil }, t) {
      const ready = await state.ready.stop();
      assertFaultAnswers(ready, 'GET /api/ready while RabbitMQ was frozen', { slowMs: 6000, ok: 200 });
      const refused = ready.filter((a) => a.status === 503 && a.start >= faultAt + 1000 && a.end <= downUntil);
      assert.ok(refused.length > 0, `GET /api/ready answered 503 while RabbitMQ was frozen: ${summarize(ready)}`);
      // consumerd's workers consume again by themselves: the tenant's queue
      // has its pool's consumers (concurrency 2) back.
      let consumers;
      await waitFor(`${queueNames(tenant)[0]} consumed by one pool (2 consumers) again`, async () => {
        const r = await stack.rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'consumers');
        const line = r.stdout.split('\n').find((l) => l.startsWith(queueNames(tenant)[0] + '\t'));
        consumers = line ? Number(line.split('\t')[1]) : null;
        return consumers === 2;
      }, { timeoutMs: 30000, intervalMs: 250, describe: () => `  consumers: ${consumers}\n${stack.describeLogs(['consumerd', 'consumerd-2'], 15)}` });
      t.diagnostic(`/api/ready ${summarize(ready)} (longest ${Math.max(...ready.map((a) => a.end - a.start))} ms); ` +
        `the pool consumes again ${Date.now() - downUntil} ms after SIGCONT`);
      for (const n of consumerdNames(stack)) stack.proc(n).assertRunning('to survive the freeze');
    },
  },
  {
    name: 'concurrency churned under load (1, 4, 2, 8 every 500 ms for 10 s, then 1)',
    inject({ api, tenant, state }) {
      state.puts = [];
      const put = async (n) => {
        const start = Date.now();
        const res = await api.setConcurrency(tenant, n);
        state.puts.push({ n, status: res.status, ms: Date.now() - start, err: res.status === 200 ? '' : describe(res) });
      };
      state.churn = (async () => {
        const seq = [1, 4, 2, 8];
        const until = Date.now() + 10000;
        for (let i = 0; Date.now() < until; i++) {
          const start = Date.now();
          await put(seq[i % seq.length]);
          await sleep(Math.max(0, 500 - (Date.now() - start)));
        }
        await put(1);
      })();
    },
    holdMs: 10000,
    heal: ({ state }) => state.churn, // the churn ends with concurrency 1
    recoverMs: 2000,
    slowMs: 3000,
    async check({ stack, api, tenant, state }, t) {
      const bad = state.puts.filter((p) => p.status !== 200);
      assert.deepEqual(bad.slice(0, 5), [], `every PUT .../config/concurrency answered 200 (${state.puts.length} sent)`);
      assert.ok(state.puts.length >= 18, `${state.puts.length} resizes in 10 s`);
      const applied = await api.waitWorkers(tenant, 1, { timeoutMs: 5000 });
      const looked = Date.now();
      let looks = 0;
      // Every resize's channels are closed: the queue ends with the one
      // consumer of concurrency 1, none left over from 8.
      let consumers;
      await waitFor(`${queueNames(tenant)[0]} consumed by 1 consumer`, async () => {
        looks++;
        const r = await stack.rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'consumers');
        const line = r.stdout.split('\n').find((l) => l.startsWith(queueNames(tenant)[0] + '\t'));
        consumers = line ? Number(line.split('\t')[1]) : null;
        return consumers === 1;
      }, { timeoutMs: 10000, intervalMs: 250, describe: () => `  consumers: ${consumers}` });
      t.diagnostic(`${state.puts.length} resizes, longest PUT ${Math.max(...state.puts.map((p) => p.ms))} ms; ` +
        `workers.running 1 ${applied} ms after the last; the queue had 1 consumer at look ${looks} (rabbitmqctl, ${Date.now() - looked} ms)`);
    },
  },
  {
    name: 'a busy tenant deleted beside the loaded one',
    async prepare(ctx) {
      const { api, stack, state } = ctx;
      state.other = (await api.createTenant(`chaos-doomed-${Date.now().toString(36)}`, 2)).id;
      await api.waitWorkers(state.other, 2, { timeoutMs: 15000 });
      state.otherStream = startStream(api, state.other, { tag: 'doomed', timeoutMs: 20000 });
      await waitFor('the other tenant busy: messages stored and still coming', async () =>
        state.otherStream.ids.length >= 200 &&
        Number(await stack.psql(`SELECT count(*) FROM messages WHERE tenant_id = '${state.other}'`)) >= 100,
      { timeoutMs: 30000, intervalMs: 250 });
    },
    async inject({ api, state }) {
      const res = await api.deleteTenant(state.other);
      assert.equal(res.status, 202, describe(res));
      state.deletedAt = Date.now();
    },
    holdMs: 0,
    heal: null,
    recoverMs: 2000,
    slowMs: 3000,
    async check({ stack, api, state, faultAt }, t) {
      const gone = await api.waitGone(state.other, { timeoutMs: 15000 });
      const doomed = await state.otherStream.stop();
      // Its producer is refused (404, or 409 while the deletion runs),
      // never answered 202 after the DELETE and never a 500.
      const odd = doomed.attempts.filter((a) => !(a.status === 202 || a.status === 404 || a.status === 409 ||
        (a.status === 503 && a.problem && a.retryAfter)));
      assert.deepEqual(odd.slice(0, 5).map((a) => `${a.status}: ${a.err}`), [], `the deleted tenant's producer: ${summarize(doomed.attempts)}`);
      const lateOk = doomed.attempts.filter((a) => a.status === 202 && a.start > state.deletedAt);
      assert.deepEqual(lateOk.map((a) => a.n), [], 'no publish started after the DELETE is answered 202');
      assert.ok(doomed.attempts.some((a) => a.status === 404 || a.status === 409), `the deleted tenant's publishes are refused: ${summarize(doomed.attempts)}`);
      const [q, rq] = queueNames(state.other);
      let left;
      await waitFor('the deleted tenant\'s queues gone', async () => {
        const qs = await stack.listQueues();
        left = [q, rq].filter((n) => qs.has(n));
        return left.length === 0;
      }, { timeoutMs: 15000, intervalMs: 250, describe: () => `  still there: ${left}` });
      const part = await partitionState(stack, state.other);
      assert.deepEqual(part, { exists: false, attached: false }, 'its partition is dropped');
      const rows = await stack.psql(`SELECT (SELECT count(*) FROM messages WHERE tenant_id = '${state.other}'),
        (SELECT count(*) FROM dead_letters WHERE tenant_id = '${state.other}'), (SELECT count(*) FROM tenants WHERE id = '${state.other}')`);
      assert.equal(rows, '0|0|0', 'no message, dead letter or tenant row of it is left');
      t.diagnostic(`deleted tenant: ${doomed.ids.length} ids answered 202, publishes ${summarize(doomed.attempts)}; ` +
        `GET 404 ${gone} ms after the DELETE's 202 (${Date.now() - faultAt} ms to everything gone)`);
    },
  },
  {
    name: 'the whole stack stopped and started again under load, as supervisord would',
    async inject({ stack, state }) {
      // supervisord stops by priority, highest first (supervisord.conf):
      // mtm-events, lighttpd, consumerd, mtm-api, then RabbitMQ and
      // PostgreSQL; it starts them in the opposite order.
      state.consumerds = consumerdNames(stack);
      state.exits = {};
      for (const name of ['mtm-events', 'lighttpd', ...state.consumerds, 'mtm-api']) {
        state.exits[name] = await stack.procs[name].stop({ signal: name === 'lighttpd' ? 'SIGINT' : 'SIGTERM', timeoutMs: 30000 });
      }
      state.serversAt = Date.now();
      await stack.stopRabbit({ timeoutMs: 60000 });
      await stack.stopPostgres();
      state.stoppedAt = Date.now();
    },
    holdMs: 1000,
    async heal({ stack, state }) {
      const start = Date.now();
      await stack.startPostgres();
      await stack.startRabbit();
      for (const name of state.consumerds) await stack.startConsumerd({ name });
      await stack.startServer('mtm-api');
      await stack.startServer('mtm-events');
      await stack.startLighttpd();
      state.startMs = Date.now() - start;
    },
    recoverMs: 5000,
    slowMs: 3000,
    refusedWhileDown: true,
    async check({ state, faultAt }, t) {
      const bad = Object.entries(state.exits).filter(([, r]) => !r || r.timedOut || r.code !== 0 || r.signal)
        .map(([n, r]) => `${n}: ${r && JSON.stringify({ code: r.code, signal: r.signal, timedOut: r.timedOut })}`);
      assert.deepEqual(bad, [], 'every mtm program (and lighttpd) exits 0 on its stop signal');
      t.diagnostic(`mtm programs stopped in ${state.serversAt - faultAt} ms, servers in ${state.stoppedAt - state.serversAt} ms; ` +
        `everything started again in ${state.startMs} ms`);
    },
  },
  {
    name: 'the database refusing writes for 20 s (disk full: SQLSTATE 53100 on every insert into messages)',
    async inject({ stack, api, tenant, state }) {
      // A disk that fills up: the server answers, but every insert fails
      // with disk_full (53100), as when it cannot extend a file. A trigger
      // on the partitioned table (cloned to every partition) stands in.
      await stack.psql(`CREATE FUNCTION chaos_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'could not extend file: No space left on device (chaos)' USING ERRCODE = 'disk_full'; END $$;
        CREATE TRIGGER chaos_disk_full BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION chaos_disk_full();`);
      // The depth as GET /api/tenants/{id} reports it (the broker's count of
      // ready messages), and consumerd's memory, every second.
      state.depths = [];
      state.rss = [];
      state.sampling = true;
      const pids = Object.fromEntries(consumerdNames(stack).map((n) => [n, stack.proc(n).pid]));
      state.samplers = [
        (async () => {
          while (state.sampling) {
            const res = await api.getTenant(tenant);
            if (res.status === 200) state.depths.push(res.json.queue_depth);
            await sleep(1000);
          }
        })(),
        (async () => {
          while (state.sampling) {
            state.rss.push(Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, rssKiB(pid)])));
            await sleep(1000);
          }
        })(),
      ];
    },
    holdMs: 20000,
    async heal({ stack, state }) {
      state.sampling = false;
      await Promise.all(state.samplers);
      await stack.psql('DROP TRIGGER chaos_disk_full ON messages; DROP FUNCTION chaos_disk_full();');
    },
    recoverMs: 2000,
    slowMs: 3000,
    async check({ state }, t) {
      const { depths, rss } = state;
      const names = Object.keys(rss[0]);
      t.diagnostic(`queue depth ${depths.join(' ')}; consumerd RSS KiB ${names.map((n) => `${n}: ${rss.map((x) => x[n]).join(' ')}`).join('; ')}`);
      assert.ok(depths.length >= 5 && rss.length >= 15, `${depths.length} depth and ${rss.length} memory samples`);
      // The queue grows: nothing is acknowledged while nothing is stored.
      const grew = depths[depths.length - 1] - depths[0];
      assert.ok(grew >= 500, `the queue grew by ${grew} messages during the fault (depths ${depths.join(' ')})`);
      // Memory does not: a worker holds at most its batch and its prefetch.
      // (From the second sample: the first is taken as the fault begins.)
      for (const n of names) {
        const kib = Math.max(...rss.slice(2).map((x) => x[n])) - rss[1][n];
        assert.ok(kib <= 16384, `${n}'s RSS grew by ${kib} KiB while the queue grew by ${grew} messages`);
      }
    },
  },
];

/**
 * Runs one entry against ctx.stack: a fresh tenant, two streams (plain,
 * keyed) and a reader, the fault in the middle. Resolves the figures
 * {recoveryMs (from the heal), outageMs (from the fault), maxAnswerMs,
 * answers, reads}.
 */
export async function runEntry(t, { stack, api }, entry) {
  const tenant = (await api.createTenant(`chaos-${Date.now().toString(36)}`, 2)).id;
  await api.waitWorkers(tenant, 2, { timeoutMs: 15000 });
  const streams = [
    startStream(api, tenant, { tag: 'chaos-plain', timeoutMs: 20000 }),
    startStream(api, tenant, { tag: 'chaos-keyed', keyed: true, timeoutMs: 20000 }),
  ];
  const reader = startReader(api, `/api/tenants/${tenant}/messages?limit=5`);
  const attempts = () => streams.flatMap((s) => s.attempts);
  const ctx = { stack, api, tenant, state: {} };
  let healedAt = null;
  let results;
  try {
    await waitFor('load under way', () => attempts().filter((a) => a.status === 202).length >= 10, { timeoutMs: 20000 });
    if (entry.prepare) await entry.prepare(ctx);
    ctx.faultAt = Date.now();
    await entry.inject(ctx);
    if (entry.holdMs) await sleep(entry.holdMs); // deliberate: the fault lasts this long
    ctx.downUntil = Date.now();
    if (entry.heal) await entry.heal(ctx);
    healedAt = Date.now();
    // Recovery counts from the moment the healed part answers again (what
    // mtm itself takes), or from the fault when nothing heals it.
    const from = entry.heal ? healedAt : ctx.faultAt;
    let back = null;
    await waitFor('publishes all answered 202 for 3 s', () => {
      back = recoveredAt(attempts(), from);
      return back !== null && Date.now() - back >= 3000;
    }, { timeoutMs: entry.recoverMs + 30000, intervalMs: 100, describe: () => `  since the fault: ${summarize(attempts().filter((a) => a.start >= ctx.faultAt))}\n${stack.describeLogs(['mtm-api', 'consumerd'], 15)}` });
    ctx.recoveryMs = back - from;
    ctx.outageMs = back - ctx.faultAt;
    if (entry.check) await entry.check(ctx, t);
  } finally {
    if (entry.heal && healedAt === null) await Promise.resolve(entry.heal(ctx)).catch(() => {});
    results = await Promise.all(streams.map((s) => s.stop()));
    await reader.stop();
  }
  const all = results.flatMap((r) => r.attempts);
  const during = all.filter((a) => a.end >= ctx.faultAt && a.start <= healedAt + 1000);
  const maxAnswerMs = Math.max(0, ...during.map((a) => a.end - a.start));
  const info = `${entry.name}: fault at ${new Date(ctx.faultAt).toISOString()}, healed ${healedAt - ctx.faultAt} ms later; ` +
    `${results.map((r) => `${r.tag} ${summarize(r.attempts)}`).join(', ')}; recovery ${ctx.recoveryMs} ms (${ctx.outageMs} ms from the fault); longest answer ${maxAnswerMs} ms`;
  t.diagnostic(info);
  const refused = (a) => a.status === 'no answer' && /ECONNREFUSED|fetch failed|other side closed|socket/i.test(a.err) &&
    a.start >= ctx.faultAt - 100 && a.end <= healedAt + 100;
  const reads = reader.attempts;
  const readInfo = `reads ${summarize(reads)}, longest ${Math.max(0, ...reads.map((a) => a.end - a.start))} ms; ${info}`;
  t.diagnostic(readInfo);
  assertFaultAnswers(entry.refusedWhileDown ? all.filter((a) => !refused(a)) : all, info, { slowMs: entry.slowMs });
  assertFaultAnswers(entry.refusedWhileDown ? reads.filter((a) => !refused(a)) : reads, `GET a page of messages: ${readInfo}`, { slowMs: entry.slowMs, ok: 200 });
  assert.ok(ctx.recoveryMs <= entry.recoverMs, `publishing recovered ${ctx.recoveryMs} ms after the ${entry.heal ? 'heal' : 'fault'} (bound ${entry.recoverMs} ms) (${info})`);
  await stack.waitReady({ timeoutMs: 30000 });
  const { extras } = await assertStreamsStored(stack, tenant, results, { info });
  const dead = await api.get(`/api/tenants/${tenant}/dlq?limit=10`);
  assert.equal(dead.status, 200, describe(dead));
  assert.deepEqual(dead.json.data, [], `an outage must not burn attempts: no dead letters (${info})`);
  if (extras) t.diagnostic(`${extras} rows stored from plain batches that were refused ("may not have been published")`);
  assert.equal((await api.deleteTenant(tenant)).status, 202);
  return { recoveryMs: ctx.recoveryMs, outageMs: ctx.outageMs, maxAnswerMs, answers: summarize(all), reads: summarize(reads) };
}

