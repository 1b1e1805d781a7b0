# descent: the main commands.
#   make demo   installs what is missing, builds, fetches Fashion-MNIST, trains the conv-net
#   make test   installs what is missing, builds, and runs the whole test suite, then the ASan+UBSan
#               CPU tests (tools/sanitize-test.sh, build-asan/) and the fuzz smoke test
#               (tools/fuzz-smoke.sh, build-fuzz/); docs/reliability.md gives their times
#   make data   downloads Fashion-MNIST and copies the astronaut image into data/
#   make fashion-results / image-fit-results   regenerate the README's tables and plots
#     (RESULTS=folder, default docs/results; a GPU makes these minutes instead of hours)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

RESULTS ?= docs/results

.PHONY: all deps configure build test demo data clean fashion-results image-fit-results

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
	@JOBS=$(JOBS) bash tools/sanitize-test.sh
	@JOBS=$(JOBS) bash tools/fuzz-smoke.sh

# Fashion-MNIST and the astronaut image into data/ (see tools/fetch-data.sh).
data: build
	@bash tools/fetch-data.sh $(BUILD)

# 40 epochs, batch 1000, Adam, 2 trials per network (the original's setup), then plots and table.
fashion-results: data
	@mkdir -p $(RESULTS)
	@for net in linear single-layer conv-net conv-blur-net; do \
	  $(BUILD)/examples/fashion_mnist $$net --epochs 40 --trials 2 --csv $(RESULTS)/fashion_$$net.csv --quiet || exit 1; \
	done
	@bash tools/plot-results.sh fashion $(RESULTS)

# 200 epochs of each image_fit network on the default image, then the loss plot and table.
image-fit-results: data
	@mkdir -p $(RESULTS)
	@for net in relu relu-pe siren multi-hash; do \
	  $(BUILD)/examples/image_fit $$net --csv $(RESULTS)/image_fit_$$net.csv -o $(RESULTS)/image_fit_$$net --quiet || exit 1; \
	done
	@bash tools/plot-results.sh image_fit $(RESULTS)

# Trains the Fashion-MNIST conv-net for a few epochs (a few minutes on a CPU) and prints its
# test accuracy (tools/demo.sh).
demo: build
	@bash tools/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD).configure.log build-asan build-asan.configure.log build-fuzz \
	  build-fuzz.configure.log
