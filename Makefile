# mtm: one non-recursive Makefile for every binary, test and helper target.
#
#   make                 release build (build/release/)
#   make MODE=asan       ASan+UBSan build used by the tests (build/asan/)
#   make MODE=tsan       ThreadSanitizer build for the consumer pool's tests
#   make run|start|stop|status|reset   the local stack (deploy/stack.sh)
#   make test            every suite against throwaway services
#   make coverage        the suites on a gcov build; coverage per directory
#   make fmt | lint      formatting and static checks (clang-format, banned calls,
#                        cppcheck, scan-build, tsc, compose and k8s schemas)
#   make deps            install missing Debian packages
#   make image           the container image mtm:$(VERSION) (docker, else podman)
#   make image-test      build it, run it against throwaway PostgreSQL/RabbitMQ
#   make compose-env     .env and secrets/ for docker compose (never overwritten)
#   make chaos           the fault catalogue (tests/chaos/), every entry
#   make soak            a long mixed load, MTM_SOAK_MINUTES (30) (tests/soak/)
#   make bench | fuzz | fuzz-run | tsan-check | valgrind | analyze   (see the Makefile)
#   make hooks           install the git pre-commit hook (format and quick lint of staged C)
#   make help            this list, with the version

# The release version (image label, --version); REVISION: the git revision.
VERSION := 0.1.0
REVISION := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)

MODE ?= release
BUILD := build/$(MODE)
PKGS := librabbitmq json-c libjwt libpq libcrypto

CC ?= gcc
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
CPPFLAGS_ALL := -D_GNU_SOURCE -iquote lib -DMTM_DEFAULT_SQL_DIR='"$(CURDIR)/sql"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(MODE),release)
  MODE_CFLAGS := -O2 -g
  MODE_LDFLAGS :=
else ifeq ($(MODE),asan)
  MODE_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  MODE_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(MODE),coverage)
  # make coverage: gcov counters, no optimisation (lines map one to one).
  MODE_CFLAGS := -O0 -g --coverage
  MODE_LDFLAGS := --coverage
else ifeq ($(MODE),analyze)
  # clang's static analyzer (make analyze): objects of its own, never run.
  MODE_CFLAGS := -O1 -g
  MODE_LDFLAGS :=
else ifeq ($(MODE),tsan)
  MODE_CFLAGS := -O1 -g -fsanitize=thread
  MODE_LDFLAGS := -fsanitize=thread
else
  $(error MODE must be release, asan, tsan, analyze or coverage)
endif

CFLAGS_ALL = -std=c17 $(WARN) $(MODE_CFLAGS) -pthread -MMD -MP $(CPPFLAGS_ALL) $(PKG_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lfcgi -lcrypt -pthread

LIB_SRC := $(wildcard lib/*.c)
API_SRC := $(filter-out cgi-bin/mtm-api.c cgi-bin/mtm-events.c,$(wildcard cgi-bin/*.c))
CONSUMERD_SRC := $(filter-out consumerd/consumerd.c consumerd/mtm-migrate.c,$(wildcard consumerd/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
ITEST_SRC := $(wildcard tests/integration/itest_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_A := $(BUILD)/libmtm.a
API_A := $(BUILD)/libapi.a
CONSUMERD_A := $(BUILD)/libconsumerd.a
BINS := $(BUILD)/bin/mtm-api $(BUILD)/bin/mtm-events $(BUILD)/bin/consumerd $(BUILD)/bin/mtm-migrate
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ITEST_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(ITEST_SRC))

.PHONY: chaos soak lint-openapi hooks help image image-test compose-env lint-deploy coverage analyze ui-deps lint-js all tests deps run start stop status reset test test-unit tsan-check valgrind fmt fmt-check lint clean bench fuzz fuzz-run
.DEFAULT_GOAL := all

all: $(BINS)
tests: $(UNIT_BINS) $(ITEST_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# --version: VERSION and REVISION are compiled into lib/version.c alone,
# rebuilt whenever either changes (the stamp is rewritten only then).
VERSION_STAMP := $(BUILD)/version.stamp
$(VERSION_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION) $(REVISION)' | cmp -s - $@ || echo '$(VERSION) $(REVISION)' > $@
$(BUILD)/obj/lib/version.o: $(VERSION_STAMP)
$(BUILD)/obj/lib/version.o: CPPFLAGS_ALL += -DMTM_VERSION='"$(VERSION)"' -DMTM_REVISION='"$(REVISION)"'
.PHONY: FORCE
FORCE:

$(LIB_A): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(API_A): $(call obj,$(API_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CONSUMERD_A): $(call obj,$(CONSUMERD_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/mtm-api: $(call obj,cgi-bin/mtm-api.c) $(API_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bin/mtm-events: $(call obj,cgi-bin/mtm-events.c) $(API_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bin/consumerd: $(call obj,consumerd/consumerd.c) $(CONSUMERD_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bin/mtm-migrate: $(call obj,consumerd/mtm-migrate.c) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Benchmark tools for make bench (bench/): raw ceilings and HTTP load.
$(BUILD)/bin/mtm-probe: $(call obj,bench/probe.c) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/bin/mtm-load: $(call obj,bench/load.c)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(API_A) $(CONSUMERD_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BUILD)/tests/itest_%: $(BUILD)/obj/tests/integration/itest_%.o $(API_A) $(CONSUMERD_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

-include $(shell find build/$(MODE)/obj -name '*.d' 2>/dev/null)

# ---- the console's third-party code (public/vendor/, from npm) -------------
#
# Exact versions in package.json + package-lock.json; `npm ci` without
# install scripts; only the files the console loads are copied, with their
# licences. public/vendor/ is generated (not in git).

VENDOR := public/vendor
VENDOR_FILES := $(VENDOR)/htm-preact.js $(VENDOR)/swagger-ui/swagger-ui-bundle.js \
  $(VENDOR)/swagger-ui/swagger-ui.css $(VENDOR)/uplot/uPlot.iife.min.js $(VENDOR)/uplot/uPlot.min.css

node_modules/.stamp: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

$(VENDOR)/htm-preact.js: node_modules/.stamp public/js/types/htm-preact.d.ts
	@mkdir -p $(dir $@)
	cp node_modules/htm/preact/standalone.module.js $@
	cp node_modules/htm/LICENSE $(VENDOR)/htm-LICENSE.txt
	cp public/js/types/htm-preact.d.ts $(VENDOR)/htm-preact.d.ts

$(VENDOR)/swagger-ui/%: node_modules/.stamp
	@mkdir -p $(dir $@)
	cp node_modules/swagger-ui-dist/$* $@
	cp node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui/LICENSE.txt

$(VENDOR)/uplot/%: node_modules/.stamp
	@mkdir -p $(dir $@)
	cp node_modules/uplot/dist/$* $@
	cp node_modules/uplot/LICENSE $(VENDOR)/uplot/LICENSE.txt

ui-deps: $(VENDOR_FILES)

# ---- the local stack ------------------------------------------------------

deps:
	deploy/install-deps.sh

run start:
	deploy/install-deps.sh run
	$(MAKE) MODE=release all ui-deps
	deploy/stack.sh $@

stop status:
	deploy/stack.sh $@

reset:
	deploy/stack.sh reset

# make help: the comment at the top of this file (the one list of targets).
help:
	@echo "mtm $(VERSION) (revision $(REVISION))"
	@sed -n '3,/^$$/{/^$$/q;s/^# \{0,1\}//;p}' $(firstword $(MAKEFILE_LIST))

# ---- the container image (deploy/image.sh, docs/deployment.md) ------------
#
# docker when a docker engine answers, podman otherwise (installed by
# deploy/install-deps.sh image; the base image is made locally).
# image-test: tests/image/image.test.mjs starts the image against throwaway
# PostgreSQL and RabbitMQ, waits for its healthcheck, logs in, creates a
# tenant, publishes, sees the message stored, stops it; kube.test.mjs runs
# the pods of deploy/k8s/ with podman kube play.

image:
	VERSION=$(VERSION) REVISION=$(REVISION) deploy/image.sh build

# docker compose: .env from .env.example and random secrets in secrets/,
# each only when it does not exist yet (deploy/compose-env.sh).
compose-env:
	deploy/compose-env.sh

image-test: image
	deploy/install-deps.sh run
	$(MAKE) node_modules/.stamp
	MTM_IMAGE_TEST_IMAGE=mtm:$(VERSION) MTM_IMAGE_TEST_VERSION=$(VERSION) MTM_IMAGE_TEST_REVISION=$(REVISION) \
	  node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec tests/image/

# ---- tests ----------------------------------------------------------------

test:
	deploy/install-deps.sh test
	$(MAKE) MODE=asan all tests ui-deps
	tests/run.sh

# The fault catalogue (tests/chaos/catalogue.mjs, docs/operations.md
# "Faults"): every fault against a real stack; make test runs the short
# form (tests/integration/chaos_short.test.mjs).
chaos:
	deploy/install-deps.sh test
	$(MAKE) MODE=asan all tests ui-deps
	MTM_TEST_SUITES=node tests/run.sh tests/chaos/chaos.test.mjs

# A long mixed load (tests/soak/soak.mjs) for MTM_SOAK_MINUTES (30) on the
# release build: half of the measured throughput over 100 tenants with
# resizes, restarts and poison messages; no message lost or doubled; RSS,
# open files, threads and connections of every process sampled every 10 s,
# and no slope that shows unbounded growth. Not in make test.
soak:
	deploy/install-deps.sh test
	$(MAKE) MODE=release all ui-deps build/release/bin/mtm-load
	MTM_TEST_BUILD_DIR=$(CURDIR)/build/release node tests/soak/soak.mjs

# The consumer pools under ThreadSanitizer: consumerd and mtm-api built with
# -fsanitize=thread run the pool and pipeline suites; any race report fails.
tsan-check:
	$(MAKE) MODE=tsan all
	MTM_TEST_TSAN=1 MTM_TEST_BUILD_DIR=$(CURDIR)/build/tsan MTM_TEST_SUITES=node \
	  TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
	  tests/run.sh tests/integration/pools.test.mjs tests/integration/pipeline.test.mjs

# Unit tests under valgrind (release build: valgrind and ASan do not mix).
valgrind:
	$(MAKE) MODE=release tests
	@set -e; for t in build/release/tests/test_*; do \
	  valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=1 $$t > /dev/null; echo "valgrind: $$t clean"; done

test-unit:
	$(MAKE) MODE=asan all tests
	@set -e; for t in build/asan/tests/test_*; do $$t; done

# ---- benchmarks (figures, not tests) --------------------------------------

#   bench/pipeline.mjs  raw ceilings (mtm-probe), end-to-end throughput, latency,
#                       noisy neighbour, deep page (docs/performance.md)
#   bench/ratelimit.mjs the shared publish limit's cost per request
#   bench/scale.mjs     1000 tenants: create, RSS, connections, restart
#   bench/console.mjs   the console's first load (bytes) and 1000-tenant page (ms)
bench:
	deploy/install-deps.sh test
	$(MAKE) MODE=release all ui-deps build/release/bin/mtm-probe build/release/bin/mtm-load
	MTM_TEST_BUILD_DIR=$(CURDIR)/build/release node bench/pipeline.mjs
	MTM_TEST_BUILD_DIR=$(CURDIR)/build/release node bench/ratelimit.mjs
	MTM_TEST_BUILD_DIR=$(CURDIR)/build/release node bench/scale.mjs
	MTM_TEST_BUILD_DIR=$(CURDIR)/build/release node bench/console.mjs

# ---- fuzzing (libFuzzer, clang) -------------------------------------------
#   make fuzz                         build build/fuzz/fuzz_{json,cursor,token}
#   make fuzz-run FUZZ_SECONDS=600    run each for that long (corpus in build/fuzz/corpus)

FUZZ_TARGETS := json cursor token delivery
FUZZ_LIB := lib/json.c lib/hex.c lib/jsonspan.c lib/cursor.c lib/token.c lib/uuid.c lib/xalloc.c lib/err.c \
  lib/buf.c lib/headers.c lib/trace.c consumerd/delivery.c
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -iquote lib -iquote consumerd
FUZZ_SECONDS ?= 60

fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)

fuzz-run: fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build/fuzz/corpus/$$t tests/fuzz/seeds/$$t 2>&1 | tail -n 12; done

# ---- style ----------------------------------------------------------------

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)

fmt:
	clang-format -i $(C_FILES)

fmt-check:
	@clang-format --dry-run --Werror $(C_FILES)

lint: fmt-check lint-js lint-deploy lint-openapi analyze
	@if grep -nE '\b(sprintf|strcpy|strcat|atoi|strtok)\s*\(' $(C_FILES) | grep -v 'lint-ok'; then \
	  echo "lint: banned function (use snprintf, memcpy with a length, strtol, strtok_r)"; exit 1; fi
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --std=c11 -D_GNU_SOURCE -Ilib --suppress=missingIncludeSystem \
	  lib cgi-bin consumerd tests/unit tests/fuzz

# Line and branch coverage of lib/, cgi-bin/ and consumerd/ by every suite
# (gcov + gcovr): a build of its own, the suites against it, then a summary
# per directory (tests/coverage.mjs) and the per-file report in
# build/coverage/coverage.txt.
coverage:
	deploy/install-deps.sh test
	rm -rf build/coverage
	$(MAKE) MODE=coverage all tests ui-deps
	-MTM_TEST_BUILD_DIR=build/coverage tests/run.sh
	gcovr -r . --object-directory build/coverage/obj --filter 'lib/' --filter 'cgi-bin/' \
	  --filter 'consumerd/' --json-summary build/coverage/summary.json --txt build/coverage/coverage.txt
	node tests/coverage.mjs build/coverage/summary.json

# clang's static analyzer over every C file of the binaries; any finding fails.
analyze:
	rm -rf build/analyze
	scan-build -o build/analyze/report --status-bugs $(MAKE) MODE=analyze CC=clang all

# docker-compose.yml against the Compose specification's schema and
# deploy/k8s/ against the Kubernetes API schemas, offline (tests/deploy/).
lint-deploy: node_modules/.stamp
	node --test --test-reporter=spec tests/deploy/

# public/openapi.json against the OpenAPI 3.1 specification
# (@apidevtools/swagger-parser), and info.version against VERSION.
lint-openapi: node_modules/.stamp
	node tests/lint/openapi.mjs public/openapi.json

# make hooks: the pre-commit hook (deploy/git-hooks/pre-commit: clang-format
# and a quick lint of the staged C files) into this clone's hooks folder.
hooks:
	@d=$$(git rev-parse --git-path hooks) && mkdir -p "$$d" && \
	  ln -sf "$(CURDIR)/deploy/git-hooks/pre-commit" "$$d/pre-commit" && \
	  echo "installed $$d/pre-commit -> deploy/git-hooks/pre-commit"

# The console's JavaScript, type-checked from its JSDoc (tsc --checkJs).
lint-js: ui-deps
	node_modules/.bin/tsc -p public/js/tsconfig.json

clean:
	rm -rf build
