# tandem: the two commands of the quick start, and a few more.
#   make          build (release, -O2) into build/, binaries in build/bin/
#   make run      install missing packages, build, `tandem up` the blog (tandem.yaml: broker, users,
#                 articles x2, comments, activity, nginx gateway on http://127.0.0.1:8080); Ctrl-C
#                 stops it. MANIFEST=examples/hello/tandem.yaml runs the example system instead
#   make test     install missing packages, build with ASan+UBSan into build-asan/, run every test;
#                 a skipped test fails it (TANDEM_ALLOW_SKIPS=1 accepts skips: scripts/run-tests.sh)
#   make fuzz     longer libFuzzer runs (FUZZ_SECONDS=300)
#   make bench    the benchmarks under bench/ (see docs/benchmarks.md)
#   make bench-cli  tandem up to ready and the gateway's added latency (bench/cli/run.sh)
#   make bench-blog the blog through the gateway: reads, comments, logins, event lag (bench/blog/run.sh)
#   make image    the container image as an OCI image layout in build/image (no container runtime
#                 needed: scripts/image.sh), checked by scripts/image-check.sh (docs/scale-out.md)
CC       ?= cc
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    := build
ASAN     := build-asan
MANIFEST ?= tandem.yaml

.PHONY: all deps build run test fuzz bench bench-cli bench-blog image format clean install

all: build

deps:
	@scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	exec $(BUILD)/bin/tandem -f $(MANIFEST) up

test: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DTANDEM_SANITIZE=ON -DTANDEM_FUZZ=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	scripts/run-tests.sh $(ASAN) --output-on-failure --timeout 600 -j $(JOBS)

fuzz: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DTANDEM_SANITIZE=ON -DTANDEM_FUZZ=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/fuzz/run.sh $(ASAN)/bin

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	bench/broker/run.sh

bench-cli: deps
	@$(MAKE) --no-print-directory build
	BUILD=$(BUILD) bench/cli/run.sh

bench-blog: deps
	@$(MAKE) --no-print-directory build
	BUILD=$(BUILD) bench/blog/run.sh

image: deps
	@$(MAKE) --no-print-directory build
	scripts/image.sh $(BUILD) $(BUILD)/image
	scripts/image-check.sh $(BUILD)/image

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN)
