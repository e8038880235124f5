// A three-node RabbitMQ cluster with quorum queues (issue 11): mtm is given
// all three URLs (MTM_AMQP_URL, lib/amqp.h) and MTM_QUEUE_TYPE=quorum. The
// node mtm-api and consumerd are connected to is killed (SIGKILL), and
// later another stopped gracefully (SIGTERM), while producers publish over
// HTTP; then:
//   - every answer is a 202 or a 503 problem+json with Retry-After;
//   - publishing recovers on the surviving nodes, and consumerd reconnects
//     to a survivor and keeps storing;
//   - every id answered 202 is stored exactly once (rows counted per id);
//   - the killed node, started again, rejoins the cluster and its quorum
//     queue members come back online.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { sleep, waitFor } from '../harness/util.mjs';
import { makeApi, queueNames } from '../harness/api.mjs';
import { startStream, summarize, assertFaultAnswers, assertStreamsStored, recoveredAt } from '../harness/faults.mjs';

let stack;
let api;
const tenants = [];
const streamsOf = {}; // tenant id -> stopped streams, across tests

before(async () => {
  stack = await startStack({ rabbitNodes: 3, env: { MTM_QUEUE_TYPE: 'quorum' } });
  await stack.waitReady({ timeoutMs: 30000 });
  api = makeApi(stack, { token: await stack.adminToken() });
  for (let i = 0; i < 2; i++) {
    const t = await api.createTenant(`cluster-${i}`, 2);
    await api.waitWorkers(t.id, 2, { timeoutMs: 15000 });
    tenants.push(t.id);
  }
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'mtm-api', 'rabbitmq', 'rabbitmq-2', 'rabbitmq-3'], 20);

/** name -> {type, members, online, leader} of the tenant queues, from rabbitmqctl on a running node. */
async function quorumQueues() {
  const r = await stack.rabbitmqctl('list_queues', '--formatter', 'json', 'name', 'type', 'members', 'online', 'leader');
  assert.equal(r.code, 0, `rabbitmqctl list_queues: ${r.stderr}`);
  return new Map(JSON.parse(r.stdout).map((q) => [q.name, q]));
}

/** How many AMQP connections a process of ours holds to each RabbitMQ node, by node index. */
function amqpNodesOf(name) {
  const counts = stack.rabbits.map((r) => stack.tcpSockets(name).filter((s) => s.remotePort === r.amqpPort).length);
  return counts;
}

test('three nodes form one cluster; a tenant\'s two queues are quorum queues with a member on every node', async () => {
  const running = await stack.rabbitRunningNodes();
  assert.deepEqual(running.sort(), stack.rabbits.map((r) => r.node).sort());
  assert.equal(stack.env.MTM_AMQP_URL.split(',').length, 3, stack.env.MTM_AMQP_URL);
  const qs = await quorumQueues();
  for (const id of tenants) {
    for (const name of queueNames(id)) {
      const q = qs.get(name);
      assert.ok(q, `${name} missing: ${JSON.stringify([...qs.keys()])}`);
      assert.equal(q.type, 'quorum', JSON.stringify(q));
      assert.deepEqual([...q.members].sort(), running.sort(), `${name} members: ${JSON.stringify(q)}`);
    }
  }
});

/**
 * Loses, under load, the node mtm-api and consumerd are connected to, by
 * `signal` (SIGKILL: it dies; SIGTERM: RabbitMQ's graceful stop), and
 * checks what must survive. Resolves the node's index; the streams' results
 * are added to streamsOf.
 */
async function loseNodeUnderLoad(t, signal) {
  // With the URLs in order, every connection starts on the first node.
  const apiNodes = amqpNodesOf('mtm-api');
  const cdNodes = amqpNodesOf('consumerd');
  // The node consumerd uses, and mtm-api too when one node carries both
  // (at the start every connection is on the first URL's node; after a
  // node was lost they are spread over the survivors).
  const both = cdNodes.findIndex((n, i) => n > 0 && apiNodes[i] > 0);
  const victim = both >= 0 ? both : cdNodes.indexOf(Math.max(...cdNodes));
  assert.ok(cdNodes[victim] > 0, `consumerd holds AMQP connections: ${JSON.stringify(cdNodes)}`);
  if (signal === 'SIGKILL') assert.ok(apiNodes[victim] > 0, `mtm-api uses the node consumerd uses (node ${victim}): ${JSON.stringify({ apiNodes, cdNodes })}`);
  t.diagnostic(`AMQP connections per node before the ${signal}: mtm-api ${JSON.stringify(apiNodes)}, consumerd ${JSON.stringify(cdNodes)}; node ${victim} goes`);
  const dead = stack.rabbits[victim];

  const streams = tenants.flatMap((id, i) => [
    startStream(api, id, { tag: `${signal}-plain-${i}`, timeoutMs: 20000 }),
    startStream(api, id, { tag: `${signal}-keyed-${i}`, keyed: true, timeoutMs: 20000 }),
  ]);
  const allAttempts = () => streams.flatMap((s) => s.attempts);
  await waitFor('load under way: 20 batches answered 202', () => allAttempts().filter((a) => a.status === 202).length >= 20, { timeoutMs: 20000 });
  const storedBefore = Number(await stack.psql('SELECT count(*) FROM messages'));
  const killedAt = Date.now();
  await stack.killRabbit(signal, { node: victim });

  // consumerd: connections to survivors only, and storing messages published after the kill.
  let nodes = [];
  await waitFor('consumerd connected to surviving nodes only', () => {
    nodes = amqpNodesOf('consumerd');
    // Its own connection and the workers' shared one (docs/architecture.md,
    // "Shared broker connections"), both on survivors.
    return nodes[victim] === 0 && nodes.reduce((x, y) => x + y, 0) >= 2;
  }, { timeoutMs: 30000, intervalMs: 250, describe: () => `  AMQP connections per node: ${JSON.stringify(nodes)}\n${logs()}` });
  const movedAt = Date.now();

  // Publishing recovers: 202s again, for five seconds in a row.
  let pubBack = null;
  await waitFor('publishes answered 202 again for 5 s in a row', () => {
    pubBack = recoveredAt(allAttempts(), killedAt);
    return pubBack !== null && Date.now() - pubBack >= 5000;
  }, { timeoutMs: 60000, intervalMs: 250, describe: () => `  answers since the kill: ${summarize(allAttempts().filter((a) => a.start >= killedAt))}\n${logs()}` });

  let storedAfter = 0;
  await waitFor('consumerd stores messages published after the kill', async () => {
    storedAfter = Number(await stack.psql(`SELECT count(*) FROM messages WHERE published_at > to_timestamp(${(pubBack + 1000) / 1000})`));
    return storedAfter > 0;
  }, { timeoutMs: 30000, intervalMs: 250, describe: logs });
  const storingAt = Date.now();

  const results = await Promise.all(streams.map((s) => s.stop()));
  const all = results.flatMap((r) => r.attempts);
  const info = `node ${dead.node} stopped by ${signal} at ${new Date(killedAt).toISOString()}; ${results.map((r) => `${r.tag} ${summarize(r.attempts)}`).join(', ')}`;
  t.diagnostic(`after the ${signal}: consumerd connected to survivors only in ${movedAt - killedAt} ms; publishes all 202 again from ${pubBack - killedAt} ms; messages published after that stored by ${storingAt - killedAt} ms; ${storedBefore} rows before the kill`);
  t.diagnostic(info);
  assertFaultAnswers(all, info);
  assert.ok(all.filter((a) => a.start >= killedAt && a.start < killedAt + 2000).length >= 4, `the producers kept publishing through the kill (${info})`);
  assert.ok(!amqpNodesOf('mtm-api')[victim], 'mtm-api holds no connection to the dead node');
  for (const [i, id] of tenants.entries()) {
    const mine = results.filter((r) => r.tag.endsWith(`-${i}`));
    // Every stream of the tenant so far: the stored rows include the earlier ones'.
    streamsOf[id] = [...(streamsOf[id] || []), ...mine];
    const { ms, extras } = await assertStreamsStored(stack, id, streamsOf[id], { info: `tenant ${i}: ${info}` });
    t.diagnostic(`tenant ${i}: ${mine.reduce((n, r) => n + r.ids.length, 0)} ids answered 202, all stored once (${ms} ms after the streams stopped); ${extras} rows of refused plain batches`);
  }
  return victim;
}

let victim;

test('SIGKILL of the node mtm-api and consumerd use, under load: only 202 or 503 + Retry-After; consumerd moves to a survivor and keeps storing; every 202 stored exactly once', async (t) => {
  victim = await loseNodeUnderLoad(t, 'SIGKILL');
});

test('the killed node, started again, rejoins the cluster; its quorum members come back online; publishing and storing go on', async (t) => {
  assert.ok(victim !== undefined, 'the previous test killed a node');
  const t0 = Date.now();
  await stack.startRabbit({ node: victim });
  await stack.waitRabbitCluster(3);
  const joined = Date.now() - t0;
  const node = stack.rabbits[victim].node;
  let qs;
  await waitFor(`every tenant queue has ${node} online again`, async () => {
    qs = await quorumQueues();
    return tenants.every((id) => queueNames(id).every((n) => qs.get(n) && qs.get(n).online.includes(node)));
  }, { timeoutMs: 60000, intervalMs: 500, describe: () => `  queues: ${JSON.stringify([...(qs || new Map()).values()])}` });
  t.diagnostic(`node back in the cluster ${joined} ms after its start; quorum members online ${Date.now() - t0} ms after it`);
  for (const [i, id] of tenants.entries()) {
    const s = startStream(api, id, { tag: `rejoined-${i}` });
    await sleep(1000); // deliberate: a second of traffic on the healed cluster
    const r = await s.stop();
    assertFaultAnswers(r.attempts, `after the rejoin, tenant ${i}`);
    assert.ok(r.ids.length > 0, 'publishes answered 202 after the rejoin');
    streamsOf[id].push(r);
    await assertStreamsStored(stack, id, streamsOf[id], { info: `tenant ${i} after the rejoin` });
  }
});

test('a node stopped gracefully (SIGTERM) under load: the same guarantees as a kill', async (t) => {
  await stack.waitReady({ timeoutMs: 30000 });
  await loseNodeUnderLoad(t, 'SIGTERM');
});
