# planebridge: `make run` and `make test` are the two commands (see README.md).
# The real build is CMake (CMakeLists.txt); this file installs what is missing and drives it.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Always Ninja: `make deps` installs it (ninja-build). Deciding at parse time would pick
# Makefiles on a machine where deps has not run yet and then clash with a later Ninja configure.
CMAKE_GEN  := -G Ninja
FUZZ_SECONDS ?= 60
# Keep going after a failed compile (ninja -k 0): one broken test file must not stop the
# daemon binary from being built, so CI still runs every suite that can run.
BUILD_FLAGS ?= -- -k 0

.PHONY: all deps build asan fuzz-build clients run test fuzz bench clean format

all: build

deps:
	@bash scripts/deps.sh

# Configure once per tree (build.ninja is the stamp); `cmake --build` re-configures by itself
# when CMakeLists.txt or the globbed sources change.
$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPB_SANITIZE=ON >/dev/null

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPB_FUZZ=ON >/dev/null

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) $(BUILD_FLAGS)

asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) $(BUILD_FLAGS)

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) $(BUILD_FLAGS)

# Test clients from the npm registry, exactly as pinned by the committed lock file.
clients: tests/clients/node_modules/.package-lock.json
tests/clients/node_modules/.package-lock.json: tests/clients/package-lock.json tests/clients/package.json | deps
	cd tests/clients && npm ci --no-audit --no-fund --loglevel=error

# Starts the daemon on the embedded SQLite store, listening on 127.0.0.1:8470.
run: build
	./$(BUILD)/planebridge serve

test: build asan fuzz-build clients
	@bash tests/run_all.sh

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

bench: build
	@bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
