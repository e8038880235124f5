// consumerd's shared broker connections (consumerd/mux.h, issue 12): with
// MTM_AMQP_CHANNELS_PER_CONNECTION=2 several tenants share each connection.
//   - the connections are bounded by the setting, one channel per worker;
//   - the broker closing one shared connection (rabbitmqctl
//     close_connection) ends only its tenants' consumers; every one of them
//     resumes, the other connections are untouched, and every message
//     answered 202 is stored exactly once;
//   - deleting a tenant leaves its neighbour on the same connection
//     consuming on the very same channel;
//   - a queue deleted behind mtm's back (basic.cancel, then 404 at every
//     basic.consume) closes that tenant's channel only: its neighbours keep
//     their channel and connection.
// Which tenant is on which connection is read from the broker:
// list_consumers (queue -> channel) joined with list_channels (channel ->
// connection).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { sleep, waitFor } from '../harness/util.mjs';
import { makeApi, describe, queueNames, assertStoredExactlyOnce, startPublisher, storedCount } from '../harness/api.mjs';

const PER_CONN = 2;
const TENANTS = 5;
const START_MS = 10000;

let stack;
let api;
const tenants = []; // {id, name}
const sent = new Map(); // tenant id -> every id answered 202 so far

/** Stops publishers and checks each tenant's whole history is stored exactly once. */
async function settle(pubs, list) {
  const done = await Promise.all(pubs.map((p) => p.stop()));
  for (let i = 0; i < list.length; i++) {
    assert.deepEqual(done[i].failures, [], `publishes to ${list[i].name}: ${done[i].failures.slice(0, 3).join(' | ')}`);
    const all = sent.get(list[i].id) || [];
    all.push(...done[i].ids);
    sent.set(list[i].id, all);
  }
  for (const x of list) await assertStoredExactlyOnce(stack, x.id, sent.get(x.id), { what: `${x.name}: ` });
}

before(async () => {
  stack = await startStack({ env: { MTM_AMQP_CHANNELS_PER_CONNECTION: String(PER_CONN) } });
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
  for (let i = 0; i < TENANTS; i++) tenants.push(await api.createTenant(`mux-${i}`, 1));
  for (const t of tenants) await api.waitWorkers(t.id, 1, { timeoutMs: START_MS, describeExtra: logs });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'rabbitmq']);

async function ctl(...args) {
  const r = await stack.rabbitmqctl(...args);
  assert.equal(r.code, 0, `rabbitmqctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim()).map((l) => l.split('\t'));
}

/**
 * The broker's view of consumerd: its connections (name, pid, channels),
 * found by consumerd's local ports, and for each tenant queue with a
 * consumer, the consumer's channel pid and connection name.
 */
async function brokerView() {
  const ports = new Set(stack.tcpSockets('consumerd').filter((s) => s.remotePort === stack.amqpPort).map((s) => s.localPort));
  const conns = (await ctl('list_connections', '-q', '--no-table-headers', 'pid', 'name', 'peer_port', 'channels'))
    .filter(([, , port]) => ports.has(Number(port)))
    .map(([pid, name, port, channels]) => ({ pid, name, port: Number(port), channels: Number(channels) }));
  const connByPid = new Map(conns.map((c) => [c.pid, c]));
  const chans = new Map((await ctl('list_channels', '-q', '--no-table-headers', 'pid', 'connection'))
    .map(([pid, conn]) => [pid, conn]));
  const consumers = new Map();
  for (const [queue, chPid] of await ctl('list_consumers', '-q', '--no-table-headers', 'queue_name', 'channel_pid')) {
    const conn = connByPid.get(chans.get(chPid));
    consumers.set(queue, { channel: chPid, conn: conn ? conn.name : undefined });
  }
  return { conns, consumers };
}

const mainQueue = (t) => queueNames(t.id)[0];

/** Tenants grouped by the connection their consumer is on. */
function byConnection(view, list) {
  const groups = new Map();
  for (const t of list) {
    const c = view.consumers.get(mainQueue(t));
    assert.ok(c && c.conn, `tenant ${t.name}: no consumer on a consumerd connection; consumers ${JSON.stringify([...view.consumers])}`);
    if (!groups.has(c.conn)) groups.set(c.conn, []);
    groups.get(c.conn).push(t);
  }
  return groups;
}

async function waitConsumers(list, what) {
  let view;
  await waitFor(what, async () => {
    view = await brokerView();
    return list.every((t) => view.consumers.get(mainQueue(t))?.conn);
  }, { timeoutMs: START_MS, intervalMs: 250, describe: () => `consumers: ${JSON.stringify([...(view?.consumers || [])])}\n${logs()}` });
  return view;
}

test(`${TENANTS} tenants at concurrency 1 share ceil(${TENANTS}/${PER_CONN}) connections, one channel each (and one confirm channel per connection)`, async (t) => {
  const view = await waitConsumers(tenants, 'every tenant consuming');
  const groups = byConnection(view, tenants);
  t.diagnostic(`consumerd connections: ${JSON.stringify(view.conns.map((c) => [c.port, c.channels]))}`);
  for (const [conn, list] of groups) assert.ok(list.length <= PER_CONN, `${conn} carries ${list.length} tenants, more than ${PER_CONN}`);
  // consumerd's own (admin) connection + ceil(5/2) shared ones.
  const shared = Math.ceil(TENANTS / PER_CONN);
  assert.equal(view.conns.length, 1 + shared, `consumerd connections: ${JSON.stringify(view.conns)}`);
  const consumerChannels = view.conns.reduce((n, c) => n + c.channels, 0);
  // Each shared connection: one channel per worker + the confirm channel; the admin connection: 1.
  assert.equal(consumerChannels, TENANTS + shared + 1, `channels on consumerd's connections: ${JSON.stringify(view.conns)}`);
});

test('the broker closes one shared connection: its tenants resume, the others keep their channels, every message is stored exactly once', async (t) => {
  const before_ = await waitConsumers(tenants, 'every tenant consuming');
  const groups = byConnection(before_, tenants);
  const [victimConn, victims] = [...groups].find(([, list]) => list.length === PER_CONN);
  const others = tenants.filter((x) => !victims.includes(x));
  t.diagnostic(`closing ${victimConn} (tenants ${victims.map((x) => x.name).join(', ')})`);

  const pubs = tenants.map((x) => startPublisher(api, x.id, { batch: 10, gapMs: 30, tag: 'kill' }));
  await waitFor('every tenant storing', async () => {
    for (const x of tenants) if ((await storedCount(stack, x.id)) < 20) return false;
    return true;
  }, { timeoutMs: 20000, intervalMs: 200, describe: logs });

  const pid = before_.conns.find((c) => c.name === victimConn).pid;
  const r = await stack.rabbitmqctl('close_connection', pid, 'mtm test: shared connection closed');
  if (r.code !== 0) await Promise.all(pubs.map((p) => p.stop()));
  assert.equal(r.code, 0, `close_connection ${pid}: ${r.stdout} ${r.stderr}`);
  const closedAt = Date.now();

  // Every victim gets a consumer again, on another connection (the closed
  // one is gone); the others never lost theirs.
  let after_;
  await waitFor('the closed connection\'s tenants consuming again', async () => {
    after_ = await brokerView();
    return victims.every((x) => { const c = after_.consumers.get(mainQueue(x)); return c && c.conn && c.conn !== victimConn; });
  }, { timeoutMs: START_MS, intervalMs: 200, describe: () => `consumers: ${JSON.stringify([...(after_?.consumers || [])])}\n${logs()}` });
  t.diagnostic(`victims consuming again ${Date.now() - closedAt} ms after the close`);
  for (const x of others) {
    assert.deepEqual(after_.consumers.get(mainQueue(x)), before_.consumers.get(mainQueue(x)),
      `tenant ${x.name} (another connection) must keep its channel`);
  }
  assert.ok(!after_.conns.some((c) => c.name === victimConn), 'the closed connection is gone');

  // Messages published after the consumers came back are stored too.
  await sleep(1000);
  await settle(pubs, tenants);
  for (const x of tenants) await api.waitWorkers(x.id, 1, { timeoutMs: START_MS, describeExtra: logs });
});

test('deleting a tenant on a shared connection: its neighbour keeps consuming on the same channel', async () => {
  const view = await waitConsumers(tenants, 'every tenant consuming');
  const groups = byConnection(view, tenants);
  const [, pair] = [...groups].find(([, list]) => list.length === PER_CONN);
  const [gone, neighbour] = pair;
  const pub = startPublisher(api, neighbour.id, { batch: 10, gapMs: 20, tag: 'delete' });
  await sleep(500);
  const d = await api.deleteTenant(gone.id);
  assert.equal(d.status, 202, describe(d));
  await api.waitGone(gone.id, { timeoutMs: 15000, describeExtra: logs });
  tenants.splice(tenants.indexOf(gone), 1);
  await sleep(1000);
  await settle([pub], [neighbour]);
  const after_ = await brokerView();
  assert.deepEqual(after_.consumers.get(mainQueue(neighbour)), view.consumers.get(mainQueue(neighbour)),
    'the neighbour keeps its channel on the same connection');
});

test('a queue deleted behind mtm\'s back closes that tenant\'s channel only: its neighbours keep channel and connection', async (t) => {
  const view = await waitConsumers(tenants, 'every tenant consuming');
  const groups = byConnection(view, tenants);
  const [conn, pair] = [...groups].find(([, list]) => list.length === PER_CONN);
  const [victim, neighbour] = pair;
  const bystanders = tenants.filter((x) => x !== victim);
  const pubs = bystanders.map((x) => startPublisher(api, x.id, { batch: 5, gapMs: 50, tag: 'vanish' }));

  const r = await stack.rabbitmqctl('delete_queue', mainQueue(victim));
  assert.equal(r.code, 0, `delete_queue: ${r.stderr}`);
  // The victim's worker is cancelled, then refused (404) at each attempt to
  // consume again: several channel errors on the shared connection.
  await waitFor('consumerd told of the cancel and refused again (404)', () => /cancelled by the broker/.test(stack.logs('consumerd')) && /cannot consume: .*404/.test(stack.logs('consumerd')), {
    timeoutMs: 10000, intervalMs: 200, describe: logs,
  });
  await sleep(3000);
  const after_ = await brokerView();
  assert.ok(after_.conns.some((c) => c.name === conn), `the shared connection ${conn} must survive; consumerd has ${JSON.stringify(after_.conns.map((c) => c.name))}`);
  for (const x of bystanders) {
    assert.deepEqual(after_.consumers.get(mainQueue(x)), view.consumers.get(mainQueue(x)),
      `tenant ${x.name}${x === neighbour ? ' (same connection)' : ''} keeps its channel`);
  }
  await settle(pubs, bystanders);
  // The victim's workers report not running; deleting it still works.
  const d = await api.deleteTenant(victim.id);
  assert.equal(d.status, 202, describe(d));
  await api.waitGone(victim.id, { timeoutMs: 15000, describeExtra: logs });
  t.diagnostic('the victim deleted cleanly');
});
