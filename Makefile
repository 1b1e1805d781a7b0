# descent: the two commands.
#   make demo   installs what is missing, builds, and runs the demo
#   make test   installs what is missing, builds, and runs the whole test suite
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo clean

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD).configure.log 2>&1 || \
	  (cat $(BUILD).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@bash tools/size-report.sh
	@cd $(BUILD) && ctest --output-on-failure

demo: build
	@$(BUILD)/examples/array_api $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD).configure.log
