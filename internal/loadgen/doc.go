// Package loadgen is the engine of cmd/loadgen: it sends OTLP trace export
// requests, built once up front, to a collector as fast as asked and counts
// what the collector accepted, refused or failed to answer.
//
// A request is serialised once into a template; before each send only the
// trace IDs are written into a copy of it (their byte offsets are known), so
// that every trace of a run has its own ID — derived from the seed and the
// trace's index, reproducible — while the generator spends its CPU on the
// wire, not on building spans.
package loadgen // import "github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
