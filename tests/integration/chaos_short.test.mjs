// The short form of the fault catalogue (make chaos runs all of it): the
// quick entries marked `short` in tests/chaos/catalogue.mjs (consumerd and
// mtm-api SIGKILLed under load, consumerd stopped by SIGTERM; about 45 s
// with the stack's start), against
// one stack with two consumerd. pipeline.test.mjs restarts RabbitMQ and
// PostgreSQL mid-stream.
import { test, before, after } from 'node:test';
import { ENTRIES, startChaosStack, runEntry } from '../chaos/catalogue.mjs';

let ctx;

before(async () => { ctx = await startChaosStack(); });

after(async () => {
  if (ctx) await ctx.stack.stop();
});

for (const entry of ENTRIES.filter((e) => e.short)) {
  test(entry.name, async (t) => { await runEntry(t, ctx, entry); });
}
