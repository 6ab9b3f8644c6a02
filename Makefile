# Convenience front end to meson. `make demo` and `make check` are the README's two commands.
BUILD ?= build
DEPS = meson ninja-build pkg-config gcc libc6-dev libseccomp-dev libjansson-dev libcmocka-dev libc-ares-dev \
       python3 util-linux busybox-static
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo check test clean

all: build

deps:
	@if ! dpkg -s $(DEPS) >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEPS) >/dev/null; \
	fi

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

clean:
	rm -rf $(BUILD)
