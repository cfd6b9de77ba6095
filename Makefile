# Vigie build. `make` builds ./vigie; `make test` is the README's test command.
# Layout: every src/<layer>/*.c is part of the library, except *_test.c (one unit-test binary each)
# and src/app/main.c (the vigie entry point). fuzz/fuzz_*.c are libFuzzer targets.

CC      ?= gcc
BUILD   ?= build
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Isrc -pthread -MMD -MP
LIBS    := -lmicrohttpd -ljansson -lsqlite3 -lsodium -lzstd -lz -lmosquitto -lcurl -lpthread -lm
# The vigie binary allocates with jemalloc (thread caches: NGSI-LD batches churn through many
# small JSON nodes; +23% upsert, +100% replace, -28% peak memory against glibc's malloc).
# Sanitizer and fuzz builds keep the libc allocator the sanitizers intercept (MALLOC_LIB=).
MALLOC_LIB ?= -ljemalloc

ALL_C   := $(sort $(wildcard src/*/*.c))
TEST_C  := $(filter %_test.c,$(ALL_C))
MAIN_C  := src/app/main.c
LIB_C   := $(filter-out $(TEST_C) $(MAIN_C),$(ALL_C))
LIB_O   := $(LIB_C:%.c=$(BUILD)/%.o)
TEST_BIN:= $(TEST_C:src/%.c=$(BUILD)/test/%)
FUZZ_C  := $(wildcard fuzz/fuzz_*.c)
WEB_O   := $(BUILD)/gen/webassets.o

.PHONY: all web deps test check unit asan fuzz fuzz-smoke bench bench-ngsild bench-import bench-mqtt bench-ui bench-rules bench-alerts demo clean format lint

all: vigie

vigie: $(BUILD)/vigie
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/vigie: $(LIB_O) $(WEB_O) $(BUILD)/src/app/main.o
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(MALLOC_LIB)

# The web application (docs/web.md): npm packages pinned by web/package-lock.json, bundled by
# web/build.mjs into web/dist/, embedded as a table (scripts/embed_web.c) that every binary links.
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/build.mjs
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && node build.mjs

build-web/embed_web: scripts/embed_web.c
	@mkdir -p build-web
	gcc -O1 -o $@ $< -lz

build-web/webassets.c: build-web/embed_web web/dist/index.html
	build-web/embed_web web/dist $@

$(WEB_O): build-web/webassets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

web: build-web/webassets.c

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/test/%: $(BUILD)/src/%.o $(LIB_O) $(WEB_O)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

unit: $(TEST_BIN) $(BUILD)/vigie

deps:
	scripts/deps.sh

# The README's test command: installs what is missing, then unit + integration tests, the same
# again under ASan+UBSan, and a short run of every fuzz target. Ends with "N passed, N failed".
test: deps
	tests/run.sh

# Unit and integration tests of the current build only (fast loop while developing).
check: unit
	BUILD=$(BUILD) tests/run.sh --quick

asan:
	$(MAKE) BUILD=build-asan CC=gcc MALLOC_LIB= OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" unit

FUZZ_BIN := $(FUZZ_C:fuzz/%.c=build-fuzz/%)
FUZZ_O   := $(LIB_C:%.c=build-fuzz/obj/%.o) build-fuzz/obj/gen/webassets.o
FUZZ_CFLAGS := $(CSTD) -Wall -Wextra -Wno-unused-parameter -Isrc -g -O1 -pthread -fsanitize=fuzzer-no-link,address,undefined
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/obj/gen/webassets.o: build-web/webassets.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/%: fuzz/%.c $(FUZZ_O)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_O) $(LIBS)

fuzz-build: $(FUZZ_BIN)

# Long fuzzing: FUZZ_SECONDS per target (default 600).
fuzz: fuzz-build
	tests/fuzz.sh $${FUZZ_SECONDS:-600}

bench: vigie
	scripts/deps.sh bench
	bench/run.sh
	bench/ngsild.sh
	bench/import.sh
	bench/mqtt.py
	node bench/live.mjs

# NGSI-LD broker targets only (batch upsert, PATCH, GET, queries, temporal): bench/README.md.
bench-ngsild: vigie
	scripts/deps.sh bench
	bench/ngsild.sh

# CSV import throughput (vigie import, 1,000,000 rows): bench/README.md.
bench-import: vigie
	bench/import.sh

# What rule evaluation costs the ingest: 10,000 rules against none, synthetic and on the core
# benchmark's day (bench/rules.sh, bench/rules_bench.c).
$(BUILD)/bench/rules_bench: bench/rules_bench.c $(LIB_O) $(WEB_O)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(MALLOC_LIB)

bench-rules: $(BUILD)/bench/rules_bench vigie
	RULES_BENCH=$(BUILD)/bench/rules_bench bench/rules.sh

# The labelled alert benchmark: 1,000 sensors x 30 days with known incidents, precision, recall
# and delay per rule kind, forecast MAPE (bench/alerts_bench.c, bench/README.md).
$(BUILD)/bench/alerts_bench: bench/alerts_bench.c $(LIB_O) $(WEB_O)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(MALLOC_LIB)

bench-alerts: $(BUILD)/bench/alerts_bench
	$(BUILD)/bench/alerts_bench 1000 30 5 $${BENCH_DIR:-/tmp}

# Web application: first render, 5,000 live updates/s to one page, 100 SSE clients (bench/README.md).
bench-ui: vigie
	node bench/live.mjs

# MQTT QoS 1 intake against mosquitto_sub alone on the same stream: bench/README.md.
bench-mqtt: vigie
	bench/mqtt.py

demo: deps vigie
	./vigie demo --data $${VIGIE_DATA:-./demo-data} --listen $${VIGIE_LISTEN:-127.0.0.1:8080}

format:
	clang-format -i src/*/*.c src/*/*.h fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz build-web web/dist vigie

-include $(shell find build build-asan -name '*.d' 2>/dev/null)
