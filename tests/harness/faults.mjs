// Publishing through a fault, and accounting for every message afterwards:
// the shared part of the outage tests (pipeline.test.mjs), the cluster's
// node-loss tests (cluster.test.mjs) and the fault catalogue (tests/chaos/).
//
//   const s = startStream(api, tenant, { tag: 'x-plain' });
//   ... inject a fault, heal it ...
//   const r = await s.stop();
//   assertFaultAnswers(r.attempts, info);            // 202, or 503 + Retry-After
//   await assertStreamsStored(stack, tenant, [r]);   // every 202 stored exactly once
//
// The contract (SPEC.md 4, 3): a 202 means the broker confirmed the message,
// so it must be stored, once; a dependency down is a fast 503 with
// Retry-After, never a 500 or a hang. A plain batch answered 503 "may not
// have been published" (part of it may have been confirmed before the
// failure), so its rows may be stored although no 202 named them: such rows
// are told apart and allowed; any other unexpected row fails.
import assert from 'node:assert/strict';
import { describe } from './http.mjs';
import { sleep, waitFor } from './util.mjs';
import { queueNames, storedIds } from './api.mjs';

/** A string as an SQL literal. */
export const sqlStr = (s) => `'${String(s).replace(/'/g, "''")}'`;

/**
 * Sends one request (`send`) and records its answer in the attempt `a`:
 * status (or 'no answer'), end, and for anything but `ok` the description,
 * Retry-After and whether it is problem+json. Resolves the response, or
 * null when there was none.
 */
async function timed(a, ok, send) {
  let res = null;
  try {
    res = await send();
    a.status = res.status;
    if (res.status !== ok) {
      a.err = describe(res);
      a.retryAfter = res.headers.get('retry-after');
      a.problem = /^application\/problem\+json\b/i.test(res.headers.get('content-type') || '') &&
        !!res.json && res.json.status === res.status;
    }
  } catch (e) {
    a.status = 'no answer';
    a.err = e.message;
  }
  a.end = Date.now();
  return res;
}

/**
 * A publisher that keeps posting batches of `batch` messages to `tenant`
 * and records every answer {n, start, end, status, err, retryAfter,
 * problem}: status is the HTTP status or 'no answer' (nothing within
 * timeoutMs). With `keyed`, each batch carries its own Idempotency-Key and
 * is retried with that key after a non-202, as a careful client would, so
 * that every message it sends ends up answered 202. Payloads are
 * {tag, n, i}: the batch `n` of stream `tag`.
 * stop() resolves {tag, keyed, attempts, ids} (ids: every id answered 202).
 */
export function startStream(api, tenant, { batch = 20, gapMs = 10, keyed = false, tag = 'stream', timeoutMs = 10000 } = {}) {
  let stopping = false;
  const attempts = [];
  const ids = [];
  let seq = 0;
  const loop = (async () => {
    let pending = null; // keyed: the batch being retried
    while (!stopping || pending) {
      if (stopping && pending && attempts.length && Date.now() - attempts[attempts.length - 1].end > 30000) break;
      const n = pending ? pending.n : seq++;
      const key = keyed ? `${tag}-${n}` : undefined;
      const messages = Array.from({ length: batch }, (_, i) => ({ payload: { tag, n, i } }));
      const start = Date.now();
      const a = { n, start };
      const res = await timed(a, 202, () => api.publish(tenant, { messages }, { idempotencyKey: key, timeoutMs }));
      attempts.push(a);
      if (a.status === 202) {
        ids.push(...res.json.ids);
        pending = null;
      } else if (keyed) {
        pending = { n };
      }
      await sleep(a.status === 202 ? gapMs : 100);
    }
  })();
  return {
    tag,
    keyed,
    attempts,
    ids,
    async stop() { stopping = true; await loop; return { tag, keyed, attempts, ids }; },
  };
}

/**
 * A reader that keeps asking GET `path` (a page of messages: a request that
 * needs PostgreSQL) and records every answer as startStream does; 200 is
 * its success. stop() resolves {tag, attempts}.
 */
export function startReader(api, path, { gapMs = 50, timeoutMs = 20000, tag = 'reader' } = {}) {
  let stopping = false;
  const attempts = [];
  const loop = (async () => {
    while (!stopping) {
      const a = { start: Date.now() };
      await timed(a, 200, () => api.get(path, { timeoutMs }));
      attempts.push(a);
      await sleep(a.status === 200 ? gapMs : 100);
    }
  })();
  return { tag, attempts, async stop() { stopping = true; await loop; return { tag, attempts }; } };
}

/** {status: count} of a stream's answers, as JSON. */
export function summarize(attempts) {
  const by = {};
  for (const a of attempts) by[a.status] = (by[a.status] || 0) + 1;
  return JSON.stringify(by);
}

/**
 * Every answer is a 202 (`ok`) or a 503 problem+json with Retry-After
 * (never a 500, a reset, or no answer within the stream's timeout); with slowMs,
 * every answer took less than that.
 */
export function assertFaultAnswers(attempts, info, { slowMs, ok = 202 } = {}) {
  const fmt = (a) => `${a.status} after ${a.end - a.start} ms at ${new Date(a.start).toISOString()}: ${a.err}`;
  const odd = attempts.filter((a) => a.status !== ok && a.status !== 503);
  assert.deepEqual(odd.slice(0, 5).map(fmt), [], `only ${ok} or 503 expected; ${odd.length} other answers (${info})`);
  const bare = attempts.filter((a) => a.status === 503 && !(a.problem && a.retryAfter));
  assert.deepEqual(bare.slice(0, 5).map(fmt), [], `a 503 must be problem+json with Retry-After; ${bare.length} were not (${info})`);
  if (slowMs) {
    const slow = attempts.filter((a) => a.end - a.start >= slowMs);
    assert.deepEqual(slow.slice(0, 5).map(fmt), [], `answers must take under ${slowMs} ms; ${slow.length} did not (${info})`);
  }
}

/** The first moment after `t` from which every answer (of all `attempts`) was a 202, or null. */
export function recoveredAt(attempts, t) {
  const after = attempts.filter((a) => a.start >= t).sort((x, y) => x.start - y.start);
  let at = null;
  for (const a of after) {
    if (a.status !== 202) at = null;
    else if (at === null) at = a.start;
  }
  return at;
}

/**
 * Waits until every id the streams got a 202 for is stored and the
 * tenant's queues are empty, then asserts: no id stored twice
 * (count(*) = count(DISTINCT id) for the tenant), none missing, and every
 * other stored row comes from a plain stream's batch that was not answered
 * 202 (allowed, see the top of this file). Rows already stored before are
 * passed as `before` (ids). Resolves {ms, extras} (ms: from the call until
 * everything was stored).
 */
export async function assertStreamsStored(stack, tenant, streams, { info = '', before = [], timeoutMs = 90000 } = {}) {
  const start = Date.now();
  const sent = [...before, ...streams.flatMap((s) => s.ids)];
  const sentSet = new Set(sent);
  assert.equal(sentSet.size, sent.length, `the API answered 202 with ${sent.length} ids but only ${sentSet.size} are distinct (${info})`);
  let stored;
  let missingNow = [];
  await waitFor(`every id answered 202 stored (${info})`, async () => {
    stored = await storedIds(stack, tenant);
    const have = new Set(stored.ids);
    missingNow = sent.filter((x) => !have.has(x));
    return missingNow.length === 0;
  }, { timeoutMs, intervalMs: 250, describe: () => `  missing ${missingNow.length} of ${sent.length}, e.g. ${JSON.stringify(missingNow.slice(0, 5))}\n${stack.describeLogs(['consumerd'], 15)}` });
  const ms = Date.now() - start;
  // Anything still on the queues (a duplicate, a plain batch answered 503
  // whose messages were published) lands before they are empty: messages
  // counts ready and unacknowledged, and consumerd acks after the commit.
  let depth;
  await waitFor(`${queueNames(tenant).join(' and ')} empty`, async () => {
    const q = await stack.listQueues();
    depth = queueNames(tenant).map((n) => q.get(n));
    return depth.every((n) => n === 0);
  }, { timeoutMs: 60000, intervalMs: 500, describe: () => `  messages: ${JSON.stringify(depth)}` });
  stored = await storedIds(stack, tenant);
  const twice = await stack.psql(`SELECT id || ' x' || count(*) FROM messages WHERE tenant_id = '${tenant}' GROUP BY id HAVING count(*) > 1 LIMIT 5`);
  assert.equal(stored.total, stored.distinct, `count(*) = ${stored.total} but count(DISTINCT id) = ${stored.distinct}: stored twice: ${twice} (${info})`);
  const storedSet = new Set(stored.ids);
  const missing = sent.filter((x) => !storedSet.has(x));
  assert.deepEqual({ missing: missing.length }, { missing: 0 },
    `${sent.length} ids answered 202, ${stored.total} stored; missing ${missing.length}, e.g. ${JSON.stringify(missing.slice(0, 5))} (${info})`);
  const extras = stored.ids.filter((x) => !sentSet.has(x));
  if (extras.length) {
    const rows = (await stack.psql(`SELECT id || '|' || (payload->>'tag') || '|' || (payload->>'n') FROM messages
      WHERE tenant_id = '${tenant}' AND id IN (${extras.map(sqlStr).join(',')})`)).split('\n').map((l) => l.split('|'));
    const refused = new Map(streams.filter((s) => !s.keyed)
      .map((s) => [s.tag, new Set(s.attempts.filter((a) => a.status !== 202).map((a) => a.n))]));
    const unexplained = rows.filter(([, tag, n]) => !(refused.get(tag) && refused.get(tag).has(Number(n))));
    assert.deepEqual(unexplained.slice(0, 5), [],
      `${unexplained.length} stored ids were never answered 202 and are not from a plain batch refused (${info})`);
  }
  return { ms, extras: extras.length };
}
