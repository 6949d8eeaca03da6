# otelcol-tiered — build, run and test the tiered collector distribution.
#
# The one place where the collector release is pinned. Every upstream module of
# builder-config.yaml is rendered at this release (see `make manifest`), and a
# test checks that go.mod requires the same release (test/pins).
OTELCOL_VERSION        := 0.159.0
# The core's stable modules (confmap providers, component, pdata) are released
# together with OTELCOL_VERSION under their own 1.x numbers.
OTELCOL_STABLE_VERSION := 1.65.0
VERSION                := 0.1.0
GOLANGCI_LINT_VERSION  := v2.6.2
BENCHSTAT_VERSION      := v0.0.0-20260908200009-22c9c6c9d4da

SHELL      := /usr/bin/env bash
GO         ?= go
TOOLS      := $(CURDIR)/.tools
BUILD_DIR  := $(CURDIR)/build
DIST_DIR   := $(BUILD_DIR)/otelcol-tiered
BIN        := $(CURDIR)/bin/otelcol-tiered
LOADGEN    := $(CURDIR)/bin/loadgen
OCB        := $(TOOLS)/builder-v$(OTELCOL_VERSION)
MDATAGEN   := $(TOOLS)/mdatagen-v$(OTELCOL_VERSION)
GOLANGCI   := $(TOOLS)/golangci-lint-$(GOLANGCI_LINT_VERSION)
BENCHSTAT  := $(TOOLS)/benchstat-$(BENCHSTAT_VERSION)

# Sources of our own components that are compiled into the binary.
COMPONENT_SRCS := $(shell find processor extension internal -name '*.go' -not -name '*_test.go' 2>/dev/null)
export CGO_ENABLED := 0

.PHONY: all build manifest run test unit-test e2e-test validate-configs lint generate clean tools bench

all: build

## tools ---------------------------------------------------------------------
$(OCB):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install go.opentelemetry.io/collector/cmd/builder@v$(OTELCOL_VERSION)
	mv $(TOOLS)/builder $@

# mdatagen is built from the tools module: the module mirror refuses the
# version list that `go install mdatagen@version` asks for.
$(MDATAGEN): tools/go.mod tools/go.sum
	@mkdir -p $(TOOLS)
	cd tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen

$(GOLANGCI):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) CGO_ENABLED=0 $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS)/golangci-lint $@

$(BENCHSTAT):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	mv $(TOOLS)/benchstat $@

tools: $(OCB) $(MDATAGEN) $(GOLANGCI) $(BENCHSTAT)

## build ---------------------------------------------------------------------
manifest: $(BUILD_DIR)/builder-config.yaml

$(BUILD_DIR)/builder-config.yaml: builder-config.yaml Makefile
	@mkdir -p $(BUILD_DIR)
	sed -e 's/$${OTELCOL_VERSION}/$(OTELCOL_VERSION)/g' \
	    -e 's/$${OTELCOL_STABLE_VERSION}/$(OTELCOL_STABLE_VERSION)/g' \
	    -e 's/$${OTELCOL_TIERED_VERSION}/$(VERSION)/g' $< > $@

# ocb generates the distribution's sources into build/otelcol-tiered and
# compiles them; the binary is rebuilt only when the manifest or our own
# component sources change (a cold build takes several minutes).
$(BIN): $(BUILD_DIR)/builder-config.yaml $(OCB) go.mod go.sum $(COMPONENT_SRCS)
	@mkdir -p $(dir $@)
	cd $(CURDIR) && $(OCB) --config $(BUILD_DIR)/builder-config.yaml
	cp $(DIST_DIR)/otelcol-tiered $@
	@$(GO) run ./cmd/pincheck -makefile Makefile -gomod $(DIST_DIR)/go.mod

build: $(BIN) $(LOADGEN)

# The load generator (cmd/loadgen), an ordinary Go build.
$(LOADGEN): go.mod go.sum $(shell find cmd/loadgen internal/loadgen -name '*.go' -not -name '*_test.go')
	$(GO) build -o $@ ./cmd/loadgen

## run -----------------------------------------------------------------------
# One agent, three gateways and a sink on loopback; Ctrl-C stops them all.
run: $(BIN) bin/tieredrun
	SAMPLING_PERCENTAGE=$${SAMPLING_PERCENTAGE:-100} DECISION_WAIT=$${DECISION_WAIT:-5s} bin/tieredrun -bin $(BIN)

bin/tieredrun: $(shell find cmd/tieredrun internal/localtopo -name '*.go' -not -name '*_test.go')
	$(GO) build -o $@ ./cmd/tieredrun

## test ----------------------------------------------------------------------
test: $(BIN) $(LOADGEN)
	OTELCOL_TIERED_BIN=$(BIN) OTELCOL_TIERED_LOADGEN=$(LOADGEN) $(GO) test -count=1 -timeout 30m ./...

## bench ---------------------------------------------------------------------
# Every tier config on one core, our components' cost, tail-sampling memory,
# a gateway profile and the Go micro-benchmarks (about 30 minutes on 2 CPUs;
# not part of `make test`). Results in bench/results and the README's Sizing
# section. Pass options through BENCH_FLAGS, e.g. BENCH_FLAGS="-reps 3".
bench: $(BIN) $(LOADGEN) $(BENCHSTAT)
	$(GO) run ./cmd/bench -collector $(BIN) -loadgen $(LOADGEN) -benchstat $(BENCHSTAT) \
	    -out bench/results -readme README.md $(BENCH_FLAGS)

validate-configs: $(BIN)
	@for c in configs/*.yaml; do echo "validate $$c"; $(BIN) validate --config $$c || exit 1; done

## lint ----------------------------------------------------------------------
generate: $(MDATAGEN)
	cd processor/stickycheckprocessor && $(MDATAGEN) metadata.yaml
	cd extension/topologyextension && $(MDATAGEN) metadata.yaml

lint: $(GOLANGCI)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI) run ./...

clean:
	rm -rf bin build
