# Convenience front end to meson. `make demo` and `make check` are the README's two commands.
BUILD ?= build
DEPS = meson ninja-build pkg-config gcc libc6-dev libseccomp-dev libjansson-dev libcmocka-dev libc-ares-dev libssl-dev \
       python3-jsonschema libmicrohttpd-dev python3-prometheus-client \
       python3 util-linux e2fsprogs busybox-static curl procps nodejs \
       $(shell dpkg-query -W -f='$${Provides}' nodejs 2>/dev/null | grep -qw npm || echo npm) \
       clang clang-tidy cppcheck libclang-rt-14-dev \
       mmdebstrap umoci systemd
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The variants of the security suite (tests/escape, tests/fuzz, SECURITY.md): an ASan+UBSan
# build (gcc, dynamic), a clang build, a libFuzzer build (clang, ASan+UBSan, instrumented).
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# Leak checking is off for the suite: LeakSanitizer needs to clone a tracer thread at exit,
# which the fail-closed tests' seccomp filters deny on purpose; the fuzzers check leaks.
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The peers bench/run measures stockade against (srt itself is npm-installed by bench/run into
# ~/.cache/stockade-bench at a pinned version, with the npm `make deps` installs; srt refuses
# to start without rg and socat).
BENCH_DEPS = bubblewrap firejail gnuplot-nox ripgrep socat linux-perf

.PHONY: all deps bench-deps build demo check test clean check-asan build-clang lint fuzz fuzz-build \
	check-tree mutation check-deploy

all: build

deps:
	@if ! dpkg -s $(DEPS) >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEPS) >/dev/null; \
	fi

bench-deps: deps
	@if ! dpkg -s $(BENCH_DEPS) >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(BENCH_DEPS) >/dev/null; \
	fi

# The repository itself: no large or third-party files tracked, no reference outside the tree,
# and the include graph of src/ runs one way (docs/ARCHITECTURE.md, "Layers").
check-tree:
	python3 tests/check_tree.py
	python3 tests/check_includes.py

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# A real sandboxed command: who am I, what can I do, what do I see.
demo: deps build
	$(BUILD)/stockade run -- sh -c 'id; grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; \
		echo "hostname: $$(hostname)"; echo "network: $$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " ")"; \
		touch /usr/x 2>&1; ls /'

# Unit tests and integration tests, as root and as an unprivileged user; ends "N passed, N failed".
check: deps build
	$(SUDO) python3 tests/run.py --build $(BUILD)

test: check

# deploy/ (deploy/README.md): the systemd unit, the Kubernetes manifests and Helm chart, the
# Dockerfile, and the image built from Debian's packages (deploy/build-image) run in a
# simulated container as root and unprivileged. npm packages go to $(BUILD)/deploy-npm.
check-deploy: deps build
	$(SUDO) python3 tests/deploy/run.py --build $(BUILD)

# The unit and integration tests (escape runner included) on an ASan+UBSan build; both modes
# unless ASAN_MODE says one (CI: root; `make check` runs both modes on the normal build).
ASAN_MODE ?=
check-asan: deps
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined
	ninja -C $(ASAN_BUILD)
	$(SUDO) env $(SANITIZER_ENV) python3 tests/run.py --build $(ASAN_BUILD) \
		$(if $(ASAN_MODE),--mode $(ASAN_MODE))

build-clang: deps
	[ -f $(CLANG_BUILD)/build.ninja ] || CC=clang meson setup $(CLANG_BUILD)
	ninja -C $(CLANG_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

# Only the fuzz targets: the rest of the clang build is build-clang's job.
fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $$(ninja -C $(FUZZ_BUILD) -t targets all | \
		sed -n 's|^\(tests/fuzz/fuzz_[A-Za-z0-9_]*\): .*|\1|p')

# Every libFuzzer target for FUZZ_SECONDS from its seed corpus (tests/fuzz/README.md).
fuzz: fuzz-build
	python3 tests/fuzz/run.py --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) --jobs $$(nproc)

# cppcheck and the curated clang-tidy set (.clang-tidy) over the clang and fuzz builds' files.
# The layer-removal check (tests/mutation.py): each layer removed in turn must turn its named
# tests red. MUTATION_ARGS=--ci runs CI's rotating subset of four, root mode.
mutation: deps
	$(SUDO) python3 tests/mutation.py $(MUTATION_ARGS)

lint: deps $(FUZZ_BUILD)/build.ninja
	[ -f $(CLANG_BUILD)/build.ninja ] || CC=clang meson setup $(CLANG_BUILD)
	tests/lint.sh $(CLANG_BUILD) $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)
