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
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe, queueNames } from '../harness/api.mjs';
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

/**
 * The entries. Fields: name; short (part of make test); inject(ctx) and
 * heal(ctx) (ctx: {stack, api, tenant, state}); holdMs (how long the fault
 * lasts before heal); recoverMs (publishing all 202 again, at most this
 * long after the heal); slowMs (the longest any answer may take during the
 * fault); refusedWhileDown (connections refused are fine while the fault
 * lasts: lighttpd itself is down); check(ctx, t) (entry-specific assertions
 * after recovery).
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

