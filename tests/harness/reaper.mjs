// Detached watchdog started by the harness: `node reaper.mjs TAG DIR`.
// When its stdin closes (the test process finished, or died in any way, even
// by SIGKILL), it kills every process tagged MTM_HARNESS_TAG=TAG and removes
// DIR, unless the harness wrote "keep" before closing the pipe.
import fs from 'node:fs';
import { killTaggedSync } from './proc.mjs';

const [tag, dir] = process.argv.slice(2);
for (const s of ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGPIPE']) process.on(s, () => {});

let input = '';
process.stdin.on('data', (d) => { input += d; });
const finish = () => {
  try { killTaggedSync(tag, 3000); } catch { /* best effort */ }
  if (dir && !/\bkeep\b/.test(input) && dir.includes('mtm-test-')) {
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  process.exit(0);
};
process.stdin.on('end', finish);
process.stdin.on('close', finish);
process.stdin.on('error', finish);
