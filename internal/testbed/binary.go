// Package testbed holds what the tests on the built binary share: where the
// binary is, a topology started for a test, OTLP traffic, the sink's file and
// the collectors' self-telemetry.
package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary returns the path of the built collector: $OTELCOL_TIERED_BIN, or
// bin/otelcol-tiered. The test fails when it is missing: build it with
// `make build` (make test does).
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("OTELCOL_TIERED_BIN")
	if bin == "" {
		bin = filepath.Join(RepoRoot(), "bin", "otelcol-tiered")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("built collector not found at %s (run `make build`, or set OTELCOL_TIERED_BIN): %v", bin, err)
	}
	return bin
}

// SidecarBinary returns the path of the sidecar tier's binary (make
// tier-binaries; make test builds it): $OTELCOL_TIERED_SIDECAR_BIN, or
// build/dist/otelcol-tiered-sidecar-linux-<arch>. The test fails when it is
// missing.
func SidecarBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("OTELCOL_TIERED_SIDECAR_BIN")
	if bin == "" {
		bin = filepath.Join(RepoRoot(), "build", "dist", "otelcol-tiered-sidecar-linux-"+runtime.GOARCH)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the sidecar tier's binary not found at %s (run `make tier-binaries`, or set OTELCOL_TIERED_SIDECAR_BIN): %v", bin, err)
	}
	return bin
}

// Loadgen returns the path of the built load generator: $OTELCOL_TIERED_LOADGEN,
// or bin/loadgen (`make build` builds it beside the collector).
func Loadgen(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("OTELCOL_TIERED_LOADGEN")
	if bin == "" {
		bin = filepath.Join(RepoRoot(), "bin", "loadgen")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("built load generator not found at %s (run `make build`, or set OTELCOL_TIERED_LOADGEN): %v", bin, err)
	}
	return bin
}
