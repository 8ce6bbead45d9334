# The two commands a newcomer runs, and the rest of the developer loop.
# CMake does the building; this file only wraps it.
#
#   make demo      install what is missing, build, run the demo
#   make test      build and run every test through ctest
#   make build     configure and build (build/)
#   make install   install binaries, unit file and rules (PREFIX=/usr/local)
#   make asan      build and test with AddressSanitizer + UBSan (build-asan/)
#   make format    clang-format every C file; check-format only checks
#   make bench     run the write benchmarks (bench/, docs/benchmarks.md)
#   make bench-audit  time export, history, report, verify on 1M dossiers
#   make bench-scale  throughput at 10^4 and 10^7 entries; 1,000 connections

BUILD	?= build
PREFIX	?= /usr/local
JOBS	?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find daemon client common proto include tests bench -name '*.[ch]')

.PHONY: all deps configure build test demo install asan format check-format \
	bench bench-audit bench-scale clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) \
		>/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_FLAGS)

demo: build
	@scripts/demo $(BUILD)

install: build
	cmake --install $(BUILD)

asan:
	$(MAKE) test BUILD=build-asan \
		CMAKE_FLAGS="-DBUDGET_WERROR=ON -DBUDGET_SANITIZE=address,undefined"

format:
	clang-format -i $(C_SOURCES)

check-format:
	clang-format --dry-run -Werror $(C_SOURCES)

bench: build
	@scripts/bench $(BUILD)

bench-audit: build
	@scripts/bench-audit $(BUILD)

bench-scale: build
	@scripts/bench-scale $(BUILD)

clean:
	rm -rf build build-asan build-ci
