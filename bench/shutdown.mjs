// Graceful shutdown under load (docs/operations.md, "Graceful shutdown"):
// three tenants take batches of publishes while each process is stopped in
// turn with its stop signal; prints how long each took to exit and how many
// publishes were accepted or refused meanwhile, then checks that every
// accepted message was stored exactly once.
//   node bench/shutdown.mjs          (MTM_TEST_BUILD_DIR picks the build, as for the tests)
import { startStack } from '../tests/harness/stack.mjs';
import { makeApi, startPublisher, assertStoredExactlyOnce } from '../tests/harness/api.mjs';

const stack = await startStack();
const out = [];
try {
  await stack.waitReady();
  const api = makeApi(stack, { token: await stack.adminToken() });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await api.createTenant(`sd-${i}`, 2)).id);
  const accepted = Object.fromEntries(ids.map((id) => [id, []]));
  for (const [name, signal] of [['mtm-events', 'SIGTERM'], ['lighttpd', 'SIGINT'], ['mtm-api', 'SIGTERM'], ['consumerd', 'SIGTERM']]) {
    const pubs = ids.map((id) => startPublisher(api, id, { batch: 20, gapMs: 10, tag: name }));
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    const run = await stack.proc(name).stop({ signal, timeoutMs: 30000 });
    const ms = Date.now() - t0;
    const res = await Promise.all(pubs.map((p) => p.stop()));
    res.forEach((r, i) => accepted[ids[i]].push(...r.ids));
    out.push(`${name} (${signal}) under load: exited ${run.signal ? 'by ' + run.signal : run.code} in ${ms} ms; publishes meanwhile: ${res.reduce((n, r) => n + r.ids.length, 0)} accepted, ${res.reduce((n, r) => n + r.failures.length, 0)} refused`);
    if (name === 'lighttpd') await stack.startLighttpd(); else if (name === 'consumerd') await stack.startConsumerd(); else await stack.startServer(name);
    await stack.waitReady({ timeoutMs: 30000 });
  }
  for (const id of ids) await assertStoredExactlyOnce(stack, id, accepted[id]);
  out.push(`every accepted message stored exactly once (${Object.values(accepted).reduce((n, a) => n + a.length, 0)})`);
} finally {
  process.stdout.write(out.join('\n') + '\n');
  await stack.stop({ check: false });
}
