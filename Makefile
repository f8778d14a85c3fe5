# Thin wrapper around CMake. `make demo` and `make test` work on a fresh Debian machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)

.PHONY: all build deps test-deps demo test test-fast test-asan check-secrets fuzz bench clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

# The whole suite: the normal build, then every test again under ASan+UBSan
# (all but the few listed in CMakeLists.txt), then the scan of all their logs
# for test credentials and sanitizer reports.
test: test-deps
	@$(MAKE) --no-print-directory build
	@rm -rf $(BUILD)/test-logs
	@cd $(BUILD) && ctest --output-on-failure -j 2
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory check-secrets

test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j 2

test-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMLW_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@rm -rf $(ASAN_BUILD)/test-logs
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j 2 -L asan

# Worker/server logs (<build>/test-logs, kept by the test helpers) and ctest's
# own logs of both builds: no value of tests/secrets.txt, no sanitizer report.
check-secrets:
	@tests/check_secrets.sh $(BUILD)/test-logs $(BUILD)/Testing/Temporary \
	  $(ASAN_BUILD)/test-logs $(ASAN_BUILD)/Testing/Temporary

# libFuzzer targets (tests/fuzz), built with clang in $(FUZZ_BUILD), each run
# for FUZZ_SECONDS on a scratch copy of its seed corpus.
fuzz:
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DMLW_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) --target fuzzers -j $(JOBS)
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: deps
	@$(MAKE) --no-print-directory build
	@$(BUILD)/mlworker demo

bench: build
	@bench/aggregate

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
