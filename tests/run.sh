#!/usr/bin/env bash
# Runs every test suite against the MODE=asan build and ends with exactly one
# summary line "N passed, N failed"; exits non-zero if anything failed.
# Called by `make test` after the binaries and test programs are built.
#
#   tests/run.sh                          all suites
#   tests/run.sh tests/integration/platform.test.mjs ...
#                                         C unit tests + only these node files
#   MTM_TEST_SUITES="node" tests/run.sh   choose suites: c node promtool
#
# Suites:
#   c        every executable $BUILD/tests/test_* (cmocka), counted from its
#            "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" lines
#   node     node --test over tests/integration/ (one throwaway stack per file)
#   promtool promtool test rules deploy/prometheus/alerts_test.yml, if present
# Reports go to $BUILD/test-results/ (cmocka logs, integration.tap).
set -u
cd "$(dirname "$0")/.."

BUILD=${MTM_TEST_BUILD_DIR:-build/asan}
export MTM_TEST_BUILD_DIR="$PWD/$BUILD"
[ "${BUILD#/}" != "$BUILD" ] && export MTM_TEST_BUILD_DIR="$BUILD"
OUT="$MTM_TEST_BUILD_DIR/test-results"
SUITES=${MTM_TEST_SUITES:-c node promtool}
UNIT_TIMEOUT=${MTM_UNIT_TIMEOUT:-300}
mkdir -p "$OUT"

total_pass=0
total_fail=0
summary=()

has_suite() { case " $SUITES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ------------------------------------------------------------------ C unit tests
if has_suite c; then
	c_pass=0 c_fail=0 found=0
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:print_summary=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	for t in "$MTM_TEST_BUILD_DIR"/tests/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		found=1
		name=$(basename "$t")
		log="$OUT/$name.log"
		echo "### C unit: $name"
		timeout --signal=KILL "$UNIT_TIMEOUT" "$t" >"$log" 2>&1
		rc=$?
		cat "$log"
		p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"; then
			echo "!!! $name: sanitizer report (see above)"
			[ "$f" -eq 0 ] && f=1
		fi
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			if [ "$rc" -eq 137 ]; then echo "!!! $name: killed after ${UNIT_TIMEOUT} s"; else echo "!!! $name: exited with status $rc"; fi
			f=1
		fi
		if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			echo "!!! $name: exited 0 but printed no cmocka result line"
			f=1
		fi
		c_pass=$((c_pass + p))
		c_fail=$((c_fail + f))
	done
	[ "$found" -eq 1 ] || echo "note: no C unit tests found ($MTM_TEST_BUILD_DIR/tests/test_*)"
	summary+=("C unit tests: $c_pass passed, $c_fail failed")
	total_pass=$((total_pass + c_pass))
	total_fail=$((total_fail + c_fail))
fi

# ------------------------------------------------------------------ integration (node)
if has_suite node; then
	tap="$OUT/integration.$$.tap"
	rm -f "$tap"
	if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(tests/integration/); fi
	# The warm pool (tests/harness/warmpool.mjs) boots each file's RabbitMQ
	# node and copies its PostgreSQL data folder while the file before runs.
	# MTM_TEST_WARM_POOL=0 turns it off (every stack then boots its own).
	pool_pid=
	if [ "${MTM_TEST_WARM_POOL:-}" != 0 ]; then
		pool_base=${MTM_TEST_TMPDIR:-${TMPDIR:-/tmp}}
		mkdir -p "$pool_base"
		export MTM_TEST_WARM_POOL
		MTM_TEST_WARM_POOL=$(mktemp -d "$pool_base/mtm-warm-pool-XXXXXX")
		node tests/harness/warmpool.mjs "$MTM_TEST_WARM_POOL" 1 >"$OUT/warmpool.log" 2>&1 &
		pool_pid=$!
		trap '[ -n "$pool_pid" ] && kill "$pool_pid" 2>/dev/null' EXIT
	else
		unset MTM_TEST_WARM_POOL
	fi
	echo "### integration: node --test ${targets[*]}"
	node --test --test-concurrency=1 --test-timeout="${MTM_NODE_TEST_TIMEOUT:-300000}" \
		--test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tap" \
		"${targets[@]}"
	rc=$?
	if [ -n "$pool_pid" ]; then
		kill "$pool_pid" 2>/dev/null
		wait "$pool_pid" 2>/dev/null
		pool_pid=
		tail -n 1 "$OUT/warmpool.log"
	fi
	n_pass=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
	n_fail=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
	n_canc=$(sed -n 's/^# cancelled \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
	n_skip=$(sed -n 's/^# skipped \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
	n_pass=${n_pass:-0} n_fail=$(( ${n_fail:-0} + ${n_canc:-0} ))
	if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
		echo "!!! node --test exited with status $rc without a counted failure"
		n_fail=1
	fi
	if [ "$n_pass" -eq 0 ] && [ "$n_fail" -eq 0 ]; then
		# A run that counted nothing proved nothing (a lost report, no files).
		echo "!!! node --test ran but no test was counted"
		n_fail=1
	fi
	summary+=("integration tests: $n_pass passed, $n_fail failed${n_skip:+, $n_skip skipped}")
	total_pass=$((total_pass + n_pass))
	total_fail=$((total_fail + n_fail))
fi

# ------------------------------------------------------------------ alert rules
if has_suite promtool && [ -f deploy/prometheus/alerts_test.yml ]; then
	echo "### promtool test rules deploy/prometheus/alerts_test.yml"
	if promtool test rules deploy/prometheus/alerts_test.yml; then
		summary+=("alert rule tests: 1 passed, 0 failed")
		total_pass=$((total_pass + 1))
	else
		summary+=("alert rule tests: 0 passed, 1 failed")
		total_fail=$((total_fail + 1))
	fi
fi

echo
for line in "${summary[@]}"; do echo "  $line"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
