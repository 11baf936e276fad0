# icegate — build, run, test.
# `make` builds bin/icegate; `make run` starts it on the embedded default; `make test` runs every test.

CC      ?= cc
# Only what the code links against.
PKGS    := libmicrohttpd json-c sqlite3 libcrypto yaml-0.1 libargon2 libcurl hiredis libpq
# Recursively expanded on purpose: read when a recipe runs, i.e. after `make run`/`make test` installed the
# packages (a := here was read when make started, before deps, and the first build on a fresh machine failed).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is compiled against but loaded at run time when first needed (src/core/curl_lib.h).
PKG_LIBS   = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Werror
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Isrc
DEPFLAGS = -MMD -MP
override LDLIBS += -pthread -lm

BUILD   ?= build
SRC     := $(sort $(shell find src -name '*.c'))
CONSOLE := $(sort $(wildcard src/admin/static/*))
LIBOBJ  := $(patsubst src/%.c,$(BUILD)/%.o,$(filter-out src/main.c,$(SRC))) $(BUILD)/console_assets.o
UNIT    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BIN     ?= bin/icegate

.PHONY: all deps run test units test-unit test-e2e test-engines test-sanitize checksrc bench clean fuzz fuzzers

# The e2e tests need Node >= 20. Where the system's node is older (Debian 12 has 18), scripts/deps.sh
# installs a pinned Node from the npm registry into build/node/bin; putting that directory first on PATH for
# every recipe is all it takes for scripts/test.sh to find it, and costs nothing where it does not exist.
export PATH := $(CURDIR)/build/node/bin:$(PATH)

all: $(BIN)

deps:
	@scripts/deps.sh build

# Header dependencies come from the compiler (-MMD): build/<path>.d beside each object.
$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) $(DEPFLAGS) -c $< -o $@

# The console's static files are compiled into the binary (no files needed at run time).
$(BUILD)/console_assets.c: scripts/embed.sh $(CONSOLE) | $(BUILD)
	@scripts/embed.sh $(CONSOLE) > $@
$(BUILD)/console_assets.o: $(BUILD)/console_assets.c
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BIN): $(BUILD)/main.o $(LIBOBJ)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) $(DEPFLAGS) -Wno-missing-prototypes $< $(LIBOBJ) -o $@ $(PKG_LIBS) $(LDLIBS) -lcmocka

# Microbenchmarks: bench/<name>.c linked like the tests (not part of `make test`).
$(BUILD)/bench/%: bench/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -Wno-missing-prototypes $< $(LIBOBJ) -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD):
	@mkdir -p $(BUILD)

# deps first, then a fresh make for the build, so pkg-config sees the packages deps just installed.
run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory $(BIN)
	scripts/run.sh

# Everything, on a fresh Debian 12 too: test packages and node, the source rules, then the suites.
test:
	@scripts/deps.sh test
	@scripts/checksrc.sh
	@$(MAKE) --no-print-directory $(BIN) units
	@scripts/test.sh

units: $(UNIT)

test-unit: $(BIN) units
	@scripts/test.sh unit

test-e2e: $(BIN)
	@scripts/test.sh e2e

# PyIceberg, DuckDB and Spark (tests/engines), Iceberg's REST Compatibility Kit (tests/rck) and schemathesis
# (tests/schemathesis) against the real binary; each installs its pinned clients into build/ first.
test-engines: $(BIN)
	@scripts/test.sh engines

# The source rules of STYLE.md (banned calls, libmicrohttpd only in src/http/, function and file length,
# whitespace); known violations being fixed are listed in scripts/checksrc.allow.
checksrc:
	@scripts/checksrc.sh

# The whole suite against a binary built with ASan/UBSan; a sanitizer report fails the run.
test-sanitize:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build-san BIN=bin/icegate-san \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" bin/icegate-san units
	@ICEGATE_BIN=bin/icegate-san BUILD=build-san scripts/test.sh

bench: $(BIN)
	bench/run-all.sh

# libFuzzer drivers (tests/fuzz/fuzz_*.c), built with clang into build-fuzz/ (the library objects too, so the
# code under test is instrumented) and run FUZZ_SECONDS each from the seeds in tests/fuzz/corpus/<name>/.
# A crash, sanitizer report or failed oracle fails the target; the input is kept in build-fuzz/artifacts/.
FUZZ_SECONDS ?= 30
FUZZERS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

fuzz:
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz CFLAGS="$(FUZZ_CFLAGS)" FUZZERS="$(FUZZERS)" fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZERS)

fuzzers: $(patsubst %,$(BUILD)/fuzz/%,$(FUZZERS))

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	@echo "  FUZZ  $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer -Wno-missing-prototypes $< $(LIBOBJ) -o $@ $(PKG_LIBS) $(LDLIBS)

# (tool trees under build/, e.g. a Go module cache with D sources, are not ours to include)
-include $(shell find $(BUILD) \( -name gopath -o -name gocache -o -name venv -o -name node_modules -o -name peers \) -prune -o -name '*.d' -print 2>/dev/null)

clean:
	rm -rf build build-san build-fuzz bin
