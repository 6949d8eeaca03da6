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
.PHONY: image image-loadgen image-readydns test-image compose-up compose-down compose-watch compose-scale compose-load compose-logs-loadgen

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
test: $(BIN) $(LOADGEN) test-image monitoring-test verify-reproducible lint-workflows
	OTELCOL_TIERED_BIN=$(BIN) OTELCOL_TIERED_LOADGEN=$(LOADGEN) OTELCOL_TIERED_IMAGE=$$(cat $(BUILD_DIR)/image.id 2>/dev/null || echo $(IMAGE):$(VERSION)) \
	OTELCOL_TIERED_AGENT_IMAGE=$$(cat $(IMAGES_DIR)/$(IMAGE)-agent-linux-$(NATIVE_ARCH).id 2>/dev/null || echo $(IMAGE)-agent:$(VERSION)) \
	OTELCOL_TIERED_GATEWAY_IMAGE=$$(cat $(IMAGES_DIR)/$(IMAGE)-gateway-linux-$(NATIVE_ARCH).id 2>/dev/null || echo $(IMAGE)-gateway:$(VERSION)) \
	READYDNS_IMAGE=$$(cat $(READYDNS_ID) 2>/dev/null || echo $(IMAGE)-readydns:$(VERSION)) \
	OTELCOL_TIERED_SIDECAR_BIN=$(DIST_OUT)/otelcol-tiered-sidecar-linux-$(NATIVE_ARCH) \
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
# a gateway profile and the Go micro-benchmarks (about 102 minutes on 2 CPUs;
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
# built from files on the host only (deploy/docker/build-image.sh): the build
# context gets the binary, the host's CA bundle, the tier configs and the
# empty writable dirs; the labels carry its SBOM's digest. The tier images:
# `make images` (below).
DOCKER        ?= docker
IMAGE         ?= otelcol-tiered
IMAGES_DIR    := $(BUILD_DIR)/images
NATIVE_ARCH   := $(shell $(GO) env GOARCH)
ALL_IN_ONE_CONFIGS     := configs/agent.yaml configs/gateway.yaml configs/sidecar.yaml
ALL_IN_ONE_DESCRIPTION := OpenTelemetry Collector distribution for agent, gateway and sidecar tiers; choose the tier with --config /etc/otelcol-tiered/{agent,gateway,sidecar}.yaml
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
COMPOSE_CMD      = OTELCOL_TIERED_IMAGE=$(IMAGE):$(VERSION) OTELCOL_TIERED_AGENT_IMAGE=$(IMAGE)-agent:$(VERSION) \
    OTELCOL_TIERED_GATEWAY_IMAGE=$(IMAGE)-gateway:$(VERSION) READYDNS_IMAGE=$(IMAGE)-readydns:$(VERSION) SINK_DIR=$(COMPOSE_SINK) \
    STICKYCHECK_PEER_TOKEN=$${STICKYCHECK_PEER_TOKEN:-$$(cat $(PEER_TOKEN_FILE))} $(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/compose/docker-compose.yaml

$(PEER_TOKEN_FILE):
	@mkdir -p $(BUILD_DIR)
	@umask 077 && printf 'sckp-%s\n' "$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > $@
	@echo "generated the gateways' peer token in $@"

image: $(BIN) $(IMAGES_DIR)/$(IMAGE)-linux-$(NATIVE_ARCH).cdx.json $(IMAGES_DIR)/revision
	$(IMAGE_ENV) deploy/docker/build-image.sh $(IMAGE) $(NATIVE_ARCH) $(BIN) $(IMAGES_DIR)/$(IMAGE)-linux-$(NATIVE_ARCH).cdx.json \
	    "$(ALL_IN_ONE_DESCRIPTION)" $(ALL_IN_ONE_CONFIGS)
	@# The image's ID, for the tests: the tag may be moved by another build on this engine.
	@cp $(IMAGES_DIR)/$(IMAGE)-linux-$(NATIVE_ARCH).id $(BUILD_DIR)/image.id

# make test builds the image for the compose test when a Docker engine answers;
# without one the test skips and says why.
test-image: $(BIN) images-test-files
	@if $(DOCKER) info >/dev/null 2>&1; then $(MAKE) --no-print-directory images-test; \
	else echo "no Docker engine answers: images not built, the compose and image tests will skip"; fi

# The local topology in compose: agent, 3 gateways, sink (README, "Try it locally").
# The sink runs the all-in-one, the agent and the gateways their tier images.
compose-up: image $(IMAGES_DIR)/$(IMAGE)-agent-linux-$(NATIVE_ARCH).id $(IMAGES_DIR)/$(IMAGE)-gateway-linux-$(NATIVE_ARCH).id $(READYDNS_ID) $(PEER_TOKEN_FILE)
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

# The compose twin of the headless Service's DNS (cmd/readydns): the agents
# and the gateways resolve gateway.ready through it, which lists the ready
# gateways only. Its image ID is in $(BUILD_DIR)/readydns.id for the tests (not
# under $(IMAGES_DIR): those are the distribution's images).
READYDNS_ID := $(BUILD_DIR)/readydns.id
$(READYDNS_ID): go.mod go.sum deploy/docker/readydns.Dockerfile $(shell find cmd/readydns internal/readydns -name '*.go' -not -name '*_test.go')
	rm -rf $(BUILD_DIR)/image-readydns && mkdir -p $(BUILD_DIR)/image-readydns $(IMAGES_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BUILD_DIR)/image-readydns/readydns ./cmd/readydns
	$(DOCKER) build -q -f deploy/docker/readydns.Dockerfile -t $(IMAGE)-readydns:$(VERSION) -t $(IMAGE)-readydns:latest $(BUILD_DIR)/image-readydns > $@

image-readydns: $(READYDNS_ID)

# The load generator's image for the compose profile `load` (cmd/loadgen).
image-loadgen:
	@test -d cmd/loadgen || { echo "cmd/loadgen is not in this tree yet: no load generator image to build"; exit 1; }
	rm -rf $(BUILD_DIR)/image-loadgen && mkdir -p $(BUILD_DIR)/image-loadgen
	$(GO) build -trimpath -ldflags='-s -w' -o $(BUILD_DIR)/image-loadgen/loadgen ./cmd/loadgen
	$(DOCKER) build -q -f deploy/docker/loadgen.Dockerfile -t $(IMAGE)-loadgen:$(VERSION) -t $(IMAGE)-loadgen:latest $(BUILD_DIR)/image-loadgen

## tier images, reproducible builds, SBOM, multi-arch (README, "Images") -----
# One image per tier of tiers.yaml, each from an ocb manifest derived from
# builder-config.yaml (cmd/tiermanifest: the components the tier's config
# declares, plus the tier's documented extras), built with the all-in-one's
# module graph and flags so that it reuses the all-in-one's compiled packages
# (deploy/docker/build-binary.sh). Binaries go to build/dist/<name>-linux-<arch>;
# each image's ID and its CycloneDX SBOM to build/images/.
TIERS              := $(shell sed -n 's/^  - name: *//p' tiers.yaml)
DIST_MODULE        := $(shell sed -n 's/^  module: *//p' builder-config.yaml)
# Every tier image (and the all-in-one) is built for each of IMAGE_ARCHES;
# make test builds the tier images for amd64 and the sidecar for arm64 too.
IMAGE_ARCHES       ?= $(NATIVE_ARCH)
DIST_OUT           := $(BUILD_DIR)/dist
COMPONENTS         := $(BUILD_DIR)/components.yaml
LEAN_DIR           := $(BUILD_DIR)/lean
LEAN_STAMP         := $(LEAN_DIR)/.derived
CYCLONEDX_VERSION  := v1.10.0
ACTIONLINT_VERSION := v1.7.12
CYCLONEDX          := $(TOOLS)/cyclonedx-gomod-$(CYCLONEDX_VERSION)
ACTIONLINT         := $(TOOLS)/actionlint-$(ACTIONLINT_VERSION)
TEST_REGISTRY      := $(TOOLS)/registry
# The images' OCI labels (deploy/docker/build-image.sh). created is the
# commit's time, so that two builds of one commit label alike.
IMAGE_SOURCE       ?= https://github.com/otelcol-tiered/otelcol-tiered
IMAGE_REVISION     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_CREATED      ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGE_LICENSES     ?= Apache-2.0
IMAGE_ENV           = DOCKER="$(DOCKER)" VERSION=$(VERSION) IMAGES_DIR=$(IMAGES_DIR) CA_BUNDLE=$(CA_BUNDLE) \
                      IMAGE_SOURCE=$(IMAGE_SOURCE) IMAGE_REVISION=$(IMAGE_REVISION) IMAGE_CREATED=$(IMAGE_CREATED) IMAGE_LICENSES=$(IMAGE_LICENSES)
BINARY_ENV          = OCB=$(OCB) DIST_DIR=$(DIST_DIR) GO=$(GO)
# name-linux-arch → name, arch
dist_name = $(firstword $(subst -linux-, ,$(1)))
dist_arch = $(lastword $(subst -linux-, ,$(1)))
# otelcol-tiered-<tier> → the tier's config, as tiers.yaml names it; the
# all-in-one ships every tier's
tier_config = $(if $(filter otelcol-tiered,$(1)),$(ALL_IN_ONE_CONFIGS),$(shell awk '/^  - name: $(patsubst otelcol-tiered-%,%,$(1))$$/{f=1;next} f&&/config:/{print $$2;exit}' tiers.yaml))
image_description = $(if $(filter otelcol-tiered,$(1)),$(ALL_IN_ONE_DESCRIPTION),otelcol-tiered $(patsubst otelcol-tiered-%,%,$(1)) tier: the components of $(call tier_config,$(1)) and the tier's extras in tiers.yaml; run it with --config /etc/otelcol-tiered/$(notdir $(call tier_config,$(1))))

.PHONY: FORCE images images-build images-test images-test-files publish tier-manifests tier-binaries lean sbom verify-reproducible lint-workflows
.SECONDEXPANSION:

$(CYCLONEDX):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/cyclonedx-tmp $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)
	mv $(TOOLS)/cyclonedx-tmp/cyclonedx-gomod $@ && rmdir $(TOOLS)/cyclonedx-tmp

$(ACTIONLINT):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/actionlint-tmp $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(TOOLS)/actionlint-tmp/actionlint $@ && rmdir $(TOOLS)/actionlint-tmp

# What the all-in-one registers: the one place that says which module
# provides a component type.
$(COMPONENTS): $(BIN)
	$(BIN) components > $@

# build/builder-config-<tier>.yaml, rewritten only when its content changes.
tier-manifests: $(foreach t,$(TIERS),$(BUILD_DIR)/builder-config-$(t).yaml)
$(BUILD_DIR)/builder-config-%.yaml: $(BUILD_DIR)/builder-config.yaml $(COMPONENTS) tiers.yaml $$(call tier_config,otelcol-tiered-$$*) $(shell find cmd/tiermanifest internal/distro -name '*.go' -not -name '*_test.go') $(wildcard processor/*/metadata.yaml extension/*/metadata.yaml)
	$(GO) run ./cmd/tiermanifest -manifest $(BUILD_DIR)/builder-config.yaml -components $(COMPONENTS) -tiers tiers.yaml -tier $* -out $(BUILD_DIR)

# The all-in-one for the host is bin/otelcol-tiered; for another architecture
# ocb compiles its generated sources again.
$(DIST_OUT)/otelcol-tiered-linux-$(NATIVE_ARCH): $(BIN)
	@mkdir -p $(@D)
	cp $< $@
$(DIST_OUT)/otelcol-tiered-linux-%: $(BIN)
	$(BINARY_ENV) deploy/docker/build-binary.sh $(BUILD_DIR)/builder-config.yaml $* $@

$(DIST_OUT)/otelcol-tiered-%: $(BUILD_DIR)/builder-config-$$(call dist_name,$$*).yaml $(BIN) deploy/docker/build-binary.sh $(LEAN_STAMP)
	$(BINARY_ENV) deploy/docker/build-binary.sh $< $(call dist_arch,$*) $@

# The lean variants that tiers.yaml asks for (`lean:`), derived from the
# upstream modules in the Go module cache into build/lean/<dir> (README, "The
# sidecar's load_balancing"); a tier manifest's `replaces` points at them.
lean: $(LEAN_STAMP)
$(LEAN_STAMP): $(BUILD_DIR)/builder-config.yaml tiers.yaml $(shell find cmd/leanderive internal/distro -name '*.go' -not -name '*_test.go') $(wildcard internal/distro/lean/*)
	$(GO) run ./cmd/leanderive -manifest $(BUILD_DIR)/builder-config.yaml -tiers tiers.yaml -out $(LEAN_DIR)
	@touch $@

tier-binaries: $(foreach t,$(TIERS),$(foreach a,$(IMAGE_ARCHES),$(DIST_OUT)/otelcol-tiered-$(t)-linux-$(a)))

# A CycloneDX SBOM per binary, from the module list Go embeds in it (the
# modules linked in, at their versions, with their licenses as evidence); no
# serial number and no timestamp, so that one commit gives one SBOM.
# A lean copy (build/lean) is named by its upstream module again, with a
# CycloneDX pedigree saying what was changed (cmd/leanderive -sbom).
$(IMAGES_DIR)/%.cdx.json: $(DIST_OUT)/% $(CYCLONEDX)
	@mkdir -p $(@D)
	$(CYCLONEDX) bin -json -licenses -std -noserial -notimestamp -version $(VERSION) -output $@.tmp $<
	$(GO) run ./cmd/leanderive -sbom $@.tmp -out $(LEAN_DIR)
	mv $@.tmp $@

sbom: $(foreach t,otelcol-tiered $(addprefix otelcol-tiered-,$(TIERS)),$(foreach a,$(IMAGE_ARCHES),$(IMAGES_DIR)/$(t)-linux-$(a).cdx.json))

# The commit the images' labels name: rewritten only when HEAD moves, so that
# a new commit relabels the images (and nothing else rebuilds them).
$(IMAGES_DIR)/revision: FORCE
	@mkdir -p $(@D)
	@echo $(IMAGE_REVISION) $(IMAGE_CREATED) | cmp -s - $@ || echo $(IMAGE_REVISION) $(IMAGE_CREATED) > $@
FORCE:

# An image: build/images/<name>-linux-<arch>.id (docker build --platform).
$(IMAGES_DIR)/%.id: $(DIST_OUT)/% $(IMAGES_DIR)/%.cdx.json $(IMAGES_DIR)/revision deploy/docker/Dockerfile deploy/docker/build-image.sh $$(call tier_config,$$(call dist_name,$$*))
	$(IMAGE_ENV) deploy/docker/build-image.sh $(call dist_name,$*) $(call dist_arch,$*) $< $(IMAGES_DIR)/$*.cdx.json \
	    "$(call image_description,$(call dist_name,$*))" $(call tier_config,$(call dist_name,$*))

# Every tier image and the all-in-one, for IMAGE_ARCHES.
images-build: image $(foreach t,$(TIERS),$(foreach a,$(IMAGE_ARCHES),$(IMAGES_DIR)/otelcol-tiered-$(t)-linux-$(a).id)) \
              $(foreach a,$(filter-out $(NATIVE_ARCH),$(IMAGE_ARCHES)),$(IMAGES_DIR)/otelcol-tiered-linux-$(a).id)

# make images: builds them, then measures each image's size and idle RSS
# (each tier's config, and the all-in-one with each) into the README's table.
images: images-build
	$(GO) run ./cmd/imagestats -images $(IMAGES_DIR) -arch $(NATIVE_ARCH) -tiers tiers.yaml -readme README.md

# What make test builds: the tier binaries and images for the host, and the
# sidecar for arm64 (the workflow builds every tier for both), with SBOMs.
TEST_DIST   := $(foreach t,$(TIERS),otelcol-tiered-$(t)-linux-$(NATIVE_ARCH)) otelcol-tiered-sidecar-linux-arm64
images-test-files: $(TEST_REGISTRY) $(addprefix $(DIST_OUT)/,$(TEST_DIST)) $(foreach d,$(TEST_DIST) otelcol-tiered-linux-$(NATIVE_ARCH),$(IMAGES_DIR)/$(d).cdx.json)
images-test: image $(foreach d,$(TEST_DIST),$(IMAGES_DIR)/$(d).id) $(READYDNS_ID)

# Two builds of one tree give the same sha256: the sidecar that make images
# built here, and a second one from a copy of the tracked sources in another
# directory under /tmp: its lean load_balancing is derived again there from
# the module cache, ocb generates its sources again and Go links it again, so
# a path, a time or VCS state in the binary would differ. make test
# shares the build cache (with -trimpath no compiled package depends on the
# directory; a cold compile of the sidecar takes ~10 min on 2 cores);
# REPRO_COLD=1 (the CI workflow) gives the second build an empty GOCACHE too,
# so that every package is compiled again, independently.
REPRO_BINARY := otelcol-tiered-sidecar-linux-$(NATIVE_ARCH)
REPRO_COLD   ?=
verify-reproducible: $(DIST_OUT)/$(REPRO_BINARY)
	@set -e; dir=$$(mktemp -d /tmp/otelcol-tiered-repro.XXXXXX); trap 'chmod -R u+w $$dir; rm -rf $$dir' EXIT; \
	mkdir -p $$dir/src/build/otelcol-tiered; \
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C $$dir/src; \
	cp $(BUILD_DIR)/builder-config.yaml $(BUILD_DIR)/builder-config-sidecar.yaml $$dir/src/build/; \
	cp $(DIST_DIR)/go.mod $(DIST_DIR)/go.sum $$dir/src/build/otelcol-tiered/; \
	cache=$$($(GO) env GOCACHE); how="shared build cache"; \
	if [ -n "$(REPRO_COLD)" ]; then cache=$$dir/gocache; how="empty build cache"; fi; \
	start=$$(date +%s); \
	(cd $$dir/src && GOCACHE=$$cache $(GO) run ./cmd/leanderive -manifest build/builder-config.yaml -tiers tiers.yaml -out build/lean && \
	    GOCACHE=$$cache OCB=$(OCB) DIST_DIR=build/otelcol-tiered GO=$(GO) \
	    deploy/docker/build-binary.sh build/builder-config-sidecar.yaml $(NATIVE_ARCH) $$dir/$(REPRO_BINARY)) >$$dir/build.log 2>&1 \
	    || { cat $$dir/build.log; exit 1; }; \
	a=$$(sha256sum < $(DIST_OUT)/$(REPRO_BINARY) | cut -d' ' -f1); b=$$(sha256sum < $$dir/$(REPRO_BINARY) | cut -d' ' -f1); \
	echo "$(REPRO_BINARY): $$a (build/dist)"; \
	echo "$(REPRO_BINARY): $$b ($$dir/src, $$how, $$(( $$(date +%s) - start )) s)"; \
	if [ "$$a" != "$$b" ]; then echo "verify-reproducible: the two builds differ"; exit 1; fi; \
	echo "verify-reproducible: identical ($$($(GO) env GOVERSION), ocb v$(OTELCOL_VERSION), modules by go.sum)"

# Pushes PUBLISH_IMAGES for IMAGE_ARCHES to REGISTRY (docker login first), each
# as a multi-arch list (deploy/docker/publish.sh); build/images/published*.txt
# name what cosign signs. make test pushes the sidecar to a registry on
# loopback (test/images, tools/registry).
PUBLISH_IMAGES ?= otelcol-tiered $(addprefix otelcol-tiered-,$(TIERS))
publish:
	@test -n "$(REGISTRY)" || { echo "publish: set REGISTRY, e.g. REGISTRY=ghcr.io/your-org"; exit 1; }
	$(IMAGE_ENV) IMAGE_ARCHES="$(IMAGE_ARCHES)" deploy/docker/publish.sh $(REGISTRY) $(PUBLISH_IMAGES)

# An OCI registry in memory on loopback, for the publish test.
$(TEST_REGISTRY): tools/registry/go.mod tools/registry/go.sum tools/registry/main.go
	cd tools/registry && $(GO) build -o $@ .

# The CI workflow a platform team copies (.github/workflows), checked by actionlint.
lint-workflows: $(ACTIONLINT)
	$(ACTIONLINT) -color=false

## lint ----------------------------------------------------------------------
generate: $(MDATAGEN)
	cd processor/stickycheckprocessor && $(MDATAGEN) metadata.yaml
	cd extension/topologyextension && $(MDATAGEN) metadata.yaml
	cd processor/exportguardprocessor && $(MDATAGEN) metadata.yaml
	cd extension/storageguardextension && $(MDATAGEN) metadata.yaml

lint: $(GOLANGCI) lint-workflows
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
