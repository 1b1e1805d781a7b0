# descent: the main commands.
#   make demo   installs what is missing, builds, and runs the demo
#   make test   installs what is missing, builds, and runs the whole test suite
#   make data   downloads Fashion-MNIST and copies the astronaut image into data/
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo data clean

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

# Fashion-MNIST and the astronaut image into data/ (see tools/fetch-data.sh).
data: build
	@bash tools/fetch-data.sh $(BUILD)

demo: build
	@$(BUILD)/examples/array_api $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD).configure.log
