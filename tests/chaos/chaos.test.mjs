// make chaos: every entry of the fault catalogue (tests/chaos/catalogue.mjs)
// against one stack with two consumerd, in order; each entry gets a fresh
// tenant. MTM_CHAOS_ONLY=<text> runs only the entries whose name contains
// it (several texts separated by '|': any of them). The figures of each run (recovery, longest answer) are printed at the
// end; docs/operations.md, "Faults", lists them.
import { test, before, after } from 'node:test';
import { ENTRIES, startChaosStack, runEntry } from './catalogue.mjs';

let ctx;
const figures = [];
const only = process.env.MTM_CHAOS_ONLY;

before(async () => { ctx = await startChaosStack(); });

after(async () => {
  for (const f of figures) {
    const rec = f.healed ? `${f.recoveryMs} ms after the heal (${f.outageMs} ms after the fault)` : `${f.outageMs} ms after the fault`;
    process.stdout.write(`chaos: ${f.name}: publishing recovered ${rec}, longest publish ${f.maxAnswerMs} ms, publishes ${f.answers}, reads ${f.reads}\n`);
  }
  if (ctx) await ctx.stack.stop();
});

// Several parts separated by '|' run every entry that contains one of them.
const wanted = (e) => !only || only.split('|').some((part) => part && e.name.includes(part));
for (const entry of ENTRIES.filter(wanted)) {
  test(entry.name, async (t) => {
    figures.push({ name: entry.name, healed: !!entry.heal, ...(await runEntry(t, ctx, entry)) });
  });
}
