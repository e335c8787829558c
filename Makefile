# The habits: make, make run, make check, make bench, make fuzz, make format.
# Everything real happens in CMake; this file only strings the steps together.

BUILD      ?= build
CHECK      ?= build-check
ASAN       ?= build-asan
FUZZB      ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
SAMPLE     ?= $(BUILD)/sample.pcap
CMAKE_GEN  := $(if $(shell command -v ninja 2>/dev/null),-G Ninja,)

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]')

.PHONY: all build deps run check check-plain check-asan lint format bench fuzz clean

all: build

deps:
	@scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job on the embedded default: a generated sample capture, its flows.
run: deps build
	@$(BUILD)/netsift synth -o $(SAMPLE) --seed 1
	@$(BUILD)/netsift flows -r $(SAMPLE)

# All tests: lint, then a plain -Werror build and an ASan+UBSan build, ctest on both.
check: deps lint check-plain check-asan

# tshark's answers on the shared captures do not depend on the build: both
# builds share one cache of them (the conformance test's slowest part).
export NS_E2E_CACHE ?= $(CURDIR)/build-cache/tshark

check-plain:
	@cmake -S . -B $(CHECK) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_WERROR=ON >/dev/null
	@cmake --build $(CHECK) -j $(JOBS)
	@cd $(CHECK) && ctest --output-on-failure -j $(JOBS)

check-asan:
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DNS_WERROR=ON -DNS_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) -LE no-asan

lint:
	@scripts/lint.sh

format:
	@clang-format -i $(SOURCES)

# Each benchmark prints its table and its ratios against the peer measured in
# the same run; all share the 1 GiB corpora in /dev/shm/netsift-bench.
bench: deps build
	@bench/run.sh $(BUILD)
	@bench/hosts.sh $(BUILD)
	@bench/devices.sh $(BUILD)

# libFuzzer targets (clang), each run for FUZZ_SECONDS on its seed corpus.
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZB) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_FUZZ=ON -DNS_TESTS=ON >/dev/null
	@cmake --build $(FUZZB) -j $(JOBS)
	@scripts/fuzz.sh $(FUZZB) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(CHECK) $(ASAN) $(FUZZB) build-cache
