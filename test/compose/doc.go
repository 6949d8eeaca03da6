// Package compose tests the container image and the docker compose topology
// of deploy/: the image of `make image` ($OTELCOL_TIERED_IMAGE), one agent,
// gateway replicas scaled live, and the sink, each test in a compose project
// of its own (otelcol-tiered-test-*) that is removed at the end. The tests
// skip, saying why, only when no Docker engine answers.
package compose
