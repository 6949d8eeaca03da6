// Package e2e tests the built collector binary (bin/otelcol-tiered, or
// $OTELCOL_TIERED_BIN) with real OTLP traffic on loopback; the sidecar test
// runs its sidecar on the sidecar tier's binary (build/dist, or
// $OTELCOL_TIERED_SIDECAR_BIN). Each test uses a loopback /24 of its own so
// that tests never collide.
package e2e
