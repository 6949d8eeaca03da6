package stickycheckprocessor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

// The check on the hot path: batches of 1,000 spans in 100 traces, a ring of
// 10 members, action pass. Reported per span.
func BenchmarkCheckPass(b *testing.B) {
	ten := make([]string, 10)
	for i := range ten {
		ten[i] = fmt.Sprintf("10.0.0.%d:4317", i+1)
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Self = ten[3]
	cfg.Resolver.Static = configoptional.Some(ring.StaticConfig{Hostnames: ten})
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = componenttest.NewNopTelemetrySettings()
	sc, err := newStickyCheck(set, cfg)
	require.NoError(b, err)
	require.NoError(b, sc.start(context.Background(), componenttest.NewNopHost()))
	td, _ := traces(9, 100, 10)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sc.processTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perSpan := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 1000
	b.ReportMetric(perSpan, "ns/span")
	b.ReportMetric(float64(testing.AllocsPerRun(10, func() { _, _ = sc.processTraces(ctx, td) }))/1000, "allocs/span")
}
