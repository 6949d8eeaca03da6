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

.PHONY: all build manifest run test fuzz unit-test e2e-test validate-configs check-configs lint generate clean tools bench
.PHONY: image image-loadgen test-image compose-up compose-down compose-watch compose-scale compose-load compose-logs-loadgen

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
# One agent, three gateways and a sink on loopback (SIDECARS=N adds sidecars
# beside the agent); Ctrl-C stops them all.
run: $(BIN) bin/tieredrun
	SAMPLING_PERCENTAGE=$${SAMPLING_PERCENTAGE:-100} DECISION_WAIT=$${DECISION_WAIT:-5s} bin/tieredrun -bin $(BIN) -sidecars $${SIDECARS:-0}

bin/tieredrun: $(shell find cmd/tieredrun internal/localtopo -name '*.go' -not -name '*_test.go')
	$(GO) build -o $@ ./cmd/tieredrun

## test ----------------------------------------------------------------------
test: $(BIN) $(LOADGEN) test-image monitoring-test
	OTELCOL_TIERED_BIN=$(BIN) OTELCOL_TIERED_LOADGEN=$(LOADGEN) OTELCOL_TIERED_IMAGE=$$(cat $(BUILD_DIR)/image.id 2>/dev/null || echo $(IMAGE):$(VERSION)) \
	    $(GO) test -count=1 -timeout 30m ./...
	$(MAKE) fuzz

# The stickycheck peer protocol's decoder, fuzzed for a bounded number of
# inputs (its seed corpus also runs in every `go test`). A crasher fails the
# target and is kept under processor/stickycheckprocessor/internal/wire/testdata/fuzz.
# Budgets are counts, not durations: with a duration, Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when the
# deadline fires while a worker is mid-input (golang/go#75804, fixed in 1.27).
# 60000 inputs take about 20 s on 2 cores.
FUZZTIME ?= 60000x
# The forwarded-spans decoder (OTLP protobuf behind a header): 20000 inputs.
FUZZTIME_SPANS ?= 20000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1000x ./processor/stickycheckprocessor/internal/wire
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSpans$$' -fuzztime $(FUZZTIME_SPANS) -fuzzminimizetime 1000x ./processor/stickycheckprocessor/internal/wire

## bench ---------------------------------------------------------------------
# Every tier config on one core, our components' cost, tail-sampling memory,
# a gateway profile and the Go micro-benchmarks (about 40 minutes on 2 CPUs;
# not part of `make test`). Results in bench/results and the README's Sizing
# section. Pass options through BENCH_FLAGS, e.g. BENCH_FLAGS="-reps 3".
bench: $(BIN) $(LOADGEN) $(BENCHSTAT)
	$(GO) run ./cmd/bench -collector $(BIN) -loadgen $(LOADGEN) -benchstat $(BENCHSTAT) \
	    -out bench/results -readme README.md $(BENCH_FLAGS)

validate-configs: $(BIN)
	@for c in configs/*.yaml; do echo "validate $$c"; $(BIN) validate --config $$c || exit 1; done

## kubernetes ----------------------------------------------------------------
# Each overlay of deploy/k8s rendered (kustomize Go API) to
# deploy/k8s/rendered/<overlay>.yaml, to read or to `kubectl apply -f`.
# The manifests' tests run in `make test` (deploy/k8s).
.PHONY: k8s-render
k8s-render:
	$(GO) run ./cmd/k8srender -root deploy/k8s -out deploy/k8s/rendered
# The copies of configs/ that kustomize (beside each tier's kustomization) and
# Helm (the values files) read inside their own trees; a test in deploy/k8s
# fails while one is stale.
.PHONY: k8s-configs
k8s-configs:
	$(GO) run ./cmd/k8sconfigs -root .
# The tier rules of the topology extension, offline, on each tier's config
# (no binary needed); set the env a pod would have to check it as it sees it.
check-configs:
	$(GO) run ./cmd/tiercheck configs/agent.yaml configs/gateway.yaml configs/sidecar.yaml

## image and compose ---------------------------------------------------------
# One image for the three tiers (deploy/docker/Dockerfile), FROM scratch and
# built from files on the host only: the build context build/image/ gets the
# binary, the host's CA bundle, the tier configs and the empty writable dirs.
DOCKER        ?= docker
IMAGE         ?= otelcol-tiered
IMAGE_CONTEXT := $(BUILD_DIR)/image
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
# docker compose v2 when the plugin is there, else docker-compose (1.29).
COMPOSE         ?= $(shell $(DOCKER) compose version >/dev/null 2>&1 && echo "$(DOCKER) compose" || echo docker-compose)
COMPOSE_PROJECT ?= otelcol-tiered
# The sink writes what it receives to $(COMPOSE_SINK)/sink.jsonl.
COMPOSE_SINK    ?= $(BUILD_DIR)/compose-sink
# The gateways' shared peer token (STICKYCHECK_PEER_TOKEN): random, generated
# once into build/peer-token (mode 0600); `make clean` forgets it. Set
# STICKYCHECK_PEER_TOKEN to use your own.
PEER_TOKEN_FILE := $(BUILD_DIR)/peer-token
COMPOSE_CMD      = OTELCOL_TIERED_IMAGE=$(IMAGE):$(VERSION) SINK_DIR=$(COMPOSE_SINK) \
    STICKYCHECK_PEER_TOKEN=$${STICKYCHECK_PEER_TOKEN:-$$(cat $(PEER_TOKEN_FILE))} $(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/compose/docker-compose.yaml

$(PEER_TOKEN_FILE):
	@mkdir -p $(BUILD_DIR)
	@umask 077 && printf 'sckp-%s\n' "$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > $@
	@echo "generated the gateways' peer token in $@"

image: $(BIN)
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)/configs $(IMAGE_CONTEXT)/var-lib/queue $(IMAGE_CONTEXT)/var-lib/sink $(IMAGE_CONTEXT)/rootfs/tmp
	chmod 1777 $(IMAGE_CONTEXT)/rootfs/tmp
	cp $(BIN) $(IMAGE_CONTEXT)/otelcol-tiered
	cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/ca-certificates.crt
	cp configs/agent.yaml configs/gateway.yaml configs/sidecar.yaml $(IMAGE_CONTEXT)/configs/
	@$(DOCKER) image inspect -f '{{.Id}}' $(IMAGE):$(VERSION) > $(BUILD_DIR)/image.previous 2>/dev/null || true
	$(DOCKER) build -q -f deploy/docker/Dockerfile --build-arg VERSION=$(VERSION) \
	    -t $(IMAGE):$(VERSION) -t $(IMAGE):latest $(IMAGE_CONTEXT)
	@# The image's ID, for the tests: the tag may be moved by another build on this engine.
	@$(DOCKER) image inspect -f '{{.Id}}' $(IMAGE):$(VERSION) > $(BUILD_DIR)/image.id
	@# The image this one replaced, unless still used: rebuilds leave no 170 MB leftovers.
	@if ! cmp -s $(BUILD_DIR)/image.previous $(BUILD_DIR)/image.id && [ -s $(BUILD_DIR)/image.previous ]; then \
	    $(DOCKER) image rm $$(cat $(BUILD_DIR)/image.previous) >/dev/null 2>&1 || true; fi
	@$(DOCKER) image inspect $(IMAGE):$(VERSION) --format '$(IMAGE):$(VERSION) {{.Size}} bytes' | \
	    awk '{printf "%s: %.1f MB\n", $$1, $$2/1e6}'

# make test builds the image for the compose test when a Docker engine answers;
# without one the test skips and says why.
test-image: $(BIN)
	@if $(DOCKER) info >/dev/null 2>&1; then $(MAKE) --no-print-directory image; \
	else echo "no Docker engine answers: image not built, the compose test will skip"; fi

# The local topology in compose: agent, 3 gateways, sink (README, "Try it locally").
compose-up: image $(PEER_TOKEN_FILE)
	@mkdir -p $(COMPOSE_SINK) && chmod 0777 $(COMPOSE_SINK)
	$(COMPOSE_CMD) up -d
	$(COMPOSE_CMD) ps

compose-down: $(PEER_TOKEN_FILE)
	$(COMPOSE_CMD) --profile load down -v --remove-orphans

# A live scale event: make compose-scale GATEWAYS=4 (scale-in stops the
# surplus replicas gracefully, within the service's stop_grace_period).
GATEWAYS ?= 3
compose-scale: $(PEER_TOKEN_FILE)
	$(COMPOSE_CMD) up -d --no-recreate --scale gateway=$(GATEWAYS)

# Each gateway's ring and stickycheck counters, refreshed (Ctrl-C ends it).
compose-watch:
	deploy/compose/watch.sh $(COMPOSE_PROJECT)

# Steady load through the running topology's agent (after compose-up):
# LOADGEN_RATE spans/s for LOADGEN_DURATION. --no-deps leaves the running
# services as they are (the same environment as compose-up, so nothing is
# recreated); `compose-logs-loadgen` shows its summary.
compose-load: image-loadgen $(PEER_TOKEN_FILE)
	$(COMPOSE_CMD) --profile load up -d --no-deps loadgen

compose-logs-loadgen: $(PEER_TOKEN_FILE)
	$(COMPOSE_CMD) --profile load logs --no-color loadgen

# The load generator's image for the compose profile `load` (cmd/loadgen).
image-loadgen:
	@test -d cmd/loadgen || { echo "cmd/loadgen is not in this tree yet: no load generator image to build"; exit 1; }
	rm -rf $(BUILD_DIR)/image-loadgen && mkdir -p $(BUILD_DIR)/image-loadgen
	$(GO) build -trimpath -ldflags='-s -w' -o $(BUILD_DIR)/image-loadgen/loadgen ./cmd/loadgen
	$(DOCKER) build -q -f deploy/docker/loadgen.Dockerfile -t $(IMAGE)-loadgen:$(VERSION) -t $(IMAGE)-loadgen:latest $(BUILD_DIR)/image-loadgen

## lint ----------------------------------------------------------------------
generate: $(MDATAGEN)
	cd processor/stickycheckprocessor && $(MDATAGEN) metadata.yaml
	cd extension/topologyextension && $(MDATAGEN) metadata.yaml
	cd processor/exportguardprocessor && $(MDATAGEN) metadata.yaml

lint: $(GOLANGCI)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI) run ./...

clean:
	rm -rf bin build

## monitoring ----------------------------------------------------------------
# The tier's alerts and Grafana dashboard (deploy/monitoring, a Go module of
# its own: the Grafana SDK and Prometheus's parser stay out of the
# collector's module graph). `make monitoring` renders the PrometheusRule and
# the dashboard's JSON (and the kustomize component's copies) from their
# sources; `make monitoring-test` runs promtool on the rules and Prometheus's
# parser on the dashboard (part of `make test`; promtool: Debian's
# prometheus package). README: "Operating the tier".
.PHONY: monitoring monitoring-test
monitoring:
	cd deploy/monitoring && $(GO) run ./cmd/monitoringgen -root $(CURDIR)

monitoring-test:
	cd deploy/monitoring && $(GO) test -count=1 ./...
