// Runs the C integration programs (build/asan/tests/itest_*) against a
// throwaway PostgreSQL + RabbitMQ. Each program gets its own fresh database
// (owned by mtm) in MTM_PG_URL, the broker in MTM_AMQP_URL, the migrations
// in MTM_SQL_DIR, and must exit 0 without a sanitizer report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, C_TEST_DIR, sanitizerEnv, sanitizerExcerpt } from '../harness/stack.mjs';
import { run } from '../harness/proc.mjs';
import { indent } from '../harness/util.mjs';

const TIMEOUT_MS = Number(process.env.MTM_ITEST_TIMEOUT_MS || 180000);

function programs() {
  let names = [];
  try { names = fs.readdirSync(C_TEST_DIR); } catch { return []; }
  return names.filter((n) => n.startsWith('itest_')).map((n) => path.join(C_TEST_DIR, n))
    .filter((p) => { try { const st = fs.statSync(p); return st.isFile() && (st.mode & 0o111); } catch { return false; } })
    .sort();
}

const progs = programs();
let stack;

before(async () => {
  if (progs.length) stack = await startStack({ consumerd: false, api: false, lighttpd: false });
});

after(async () => {
  if (stack) await stack.stop();
});

// No programs is a failure, not a skip: under `make test` they are always
// built, so an empty folder means the build or MTM_TEST_BUILD_DIR is wrong.
if (!progs.length) {
  test('C integration programs are built', () => {
    assert.fail(`no executable itest_* in ${C_TEST_DIR}: build them first (make MODE=asan tests)`);
  });
}

for (const prog of progs) {
  const name = path.basename(prog);
  test(name, { timeout: TIMEOUT_MS + 30000 }, async () => {
    const db = name.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
    await stack.psql(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db} OWNER mtm;`, { db: 'postgres' });
    const pgUrl = stack.pgUrl.replace(/\/mtm$/, `/${db}`);
    const env = {
      ...stack.baseEnv,
      ...sanitizerEnv(),
      ...stack.env,
      MTM_PG_URL: pgUrl,
      MTM_AMQP_URL: stack.amqpUrl,
      // superuser access to the same database (unix socket, trust), for checks RLS would hide
      MTM_TEST_PG_SUPER_URL: `postgresql:///${db}?host=${encodeURIComponent(stack.pgSock)}&port=${stack.pgPort}&user=postgres`,
    };
    const r = await run(prog, [], { env, cwd: stack.dir, timeoutMs: TIMEOUT_MS });
    const output = `--- stdout:\n${indent(r.stdout)}\n--- stderr:\n${indent(r.stderr)}`;
    if (r.code !== 0 || r.timedOut || sanitizerExcerpt(r.stdout + r.stderr)) {
      // print the whole output so the failure can be read in the run log
      process.stdout.write(`\n### ${name} output\n${output}\n`);
    }
    assert.ok(!r.timedOut, `${name} did not finish within ${TIMEOUT_MS / 1000} s`);
    const san = sanitizerExcerpt(r.stdout + r.stderr);
    assert.equal(san, null, `${name} printed a sanitizer report:\n${san}`);
    assert.equal(r.code, 0, `${name} exited with ${r.signal ? 'signal ' + r.signal : 'status ' + r.code}\n${output}`);
  });
}
