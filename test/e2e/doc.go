// Package e2e tests the built collector binary (bin/otelcol-tiered, or
// $OTELCOL_TIERED_BIN) with real OTLP traffic on loopback. Each test uses a
// loopback /24 of its own so that tests never collide.
package e2e
