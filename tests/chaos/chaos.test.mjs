// make chaos: every entry of the fault catalogue (tests/chaos/catalogue.mjs)
// against one stack with two consumerd, in order; each entry gets a fresh
// tenant. The figures of each run (recovery, longest answer) are printed as
// diagnostics; docs/operations.md, "Faults", lists them.
import { test, before, after } from 'node:test';
import { ENTRIES, startChaosStack, runEntry } from './catalogue.mjs';

let ctx;
const figures = [];

before(async () => { ctx = await startChaosStack(); });

after(async () => {
  for (const f of figures) process.stdout.write(`chaos: ${f.name}: recovery ${f.recoveryMs} ms after the heal (${f.outageMs} ms after the fault), longest publish ${f.maxAnswerMs} ms, publishes ${f.answers}, reads ${f.reads}\n`);
  if (ctx) await ctx.stack.stop();
});

for (const entry of ENTRIES) {
  test(entry.name, async (t) => {
    figures.push({ name: entry.name, ...(await runEntry(t, ctx, entry)) });
  });
}
