// Package bench measures the built collector, one tier config at a time:
// the highest rate each sustains on one core, its CPU and memory at a common
// rate, the cost of our own components as ratios taken side by side, the
// memory tail sampling holds per trace, a CPU profile of the gateway at its
// maximum, and the repository's Go micro-benchmarks. cmd/bench runs it
// (`make bench`); the results are a Markdown table, an SVG chart and JSON
// under bench/results.
//
// The collector under test runs alone on one CPU (taskset, GOMAXPROCS=1);
// the load generator (bin/loadgen) and the null sinks that stand in for
// gateways and backends share another. Every figure is also given as a ratio
// to the null pipeline measured in the same run, which cancels much of the
// difference between machines.
package bench // import "github.com/otelcol-tiered/otelcol-tiered/internal/bench"
