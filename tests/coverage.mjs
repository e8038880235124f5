// Prints line and branch coverage per directory (lib/, cgi-bin/,
// consumerd/) from gcovr's JSON summary (make coverage), and the files
// with the most uncovered lines; ends with one summary line.
//
//   node tests/coverage.mjs build/coverage/summary.json
import fs from 'node:fs';

const summary = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const dirs = new Map();
for (const f of summary.files) {
  const dir = f.filename.split('/')[0] + '/';
  const d = dirs.get(dir) || { lines: 0, covered: 0, branches: 0, bcovered: 0 };
  d.lines += f.line_total; d.covered += f.line_covered;
  d.branches += f.branch_total; d.bcovered += f.branch_covered;
  dirs.set(dir, d);
}
const pct = (a, b) => (b ? (100 * a / b).toFixed(1) : '–');
console.log('directory      lines covered       branches covered');
for (const [dir, d] of [...dirs].sort()) {
  console.log(`${dir.padEnd(14)} ${`${d.covered}/${d.lines}`.padStart(11)} ${pct(d.covered, d.lines).padStart(6)} %   ${`${d.bcovered}/${d.branches}`.padStart(11)} ${pct(d.bcovered, d.branches).padStart(6)} %`);
}
const worst = [...summary.files].sort((a, b) => (b.line_total - b.line_covered) - (a.line_total - a.line_covered)).slice(0, 8);
console.log('\nmost uncovered lines:');
for (const f of worst) console.log(`  ${f.filename.padEnd(28)} ${f.line_total - f.line_covered} of ${f.line_total} lines (${pct(f.line_covered, f.line_total)} %)`);
console.log(`\ncoverage: lines ${pct(summary.line_covered, summary.line_total)} %, branches ${pct(summary.branch_covered, summary.branch_total)} %`);
