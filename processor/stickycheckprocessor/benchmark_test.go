package stickycheckprocessor

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
)

func randomID(rng *rand.Rand) [16]byte {
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64()|1)
	return id
}

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

// ownedBatch is a batch of spansPer spans for each of n traces that self
// owns among members: what a replica gets in steady state.
func ownedBatch(seed uint64, members []string, self string, n, spansPer int) ptrace.Traces {
	return ownedBatchOf(testbed.TraceIDs(seed, n*len(members)*2), members, self, n, spansPer)
}

// ids64 are 64-bit trace IDs as Jaeger and Zipkin/B3 clients send them: the
// high half zero.
func ids64(seed uint64, n int) []pcommon.TraceID {
	ids := testbed.TraceIDs(seed, n)
	for i := range ids {
		clear(ids[i][:8])
	}
	return ids
}

func ownedBatchOf(all []pcommon.TraceID, members []string, self string, n, spansPer int) ptrace.Traces {
	r := ring.New(ring.Current, members)
	var ids []pcommon.TraceID
	for _, id := range all {
		if len(ids) < n && r.OwnerName(id) == self {
			ids = append(ids, id)
		}
	}
	td := ptrace.NewTraces()
	for i := range spansPer {
		testbed.AppendSpans(td, "cart", ids, i, i+1)
	}
	return td
}

// startAuditBench starts a replica of a ring of 10 with the audit on and a
// table of maxTraces, and fills it with prefill other traces.
func startAuditBench(b *testing.B, maxTraces, prefill int, edits ...func(*Config)) (*stickyCheck, []string) {
	ten := make([]string, 10)
	for i := range ten {
		ten[i] = fmt.Sprintf("127.0.56.%d:4317", i+1)
	}
	cfg := auditConfig(ten[3], ten)
	cfg.Audit.Get().MaxTraces = maxTraces
	for _, edit := range edits {
		edit(cfg)
	}
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = componenttest.NewNopTelemetrySettings()
	sc, err := newStickyCheck(set, cfg)
	require.NoError(b, err)
	require.NoError(b, sc.start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, sc.shutdown(context.Background())) })
	ctx := context.Background()
	for i := 0; i < prefill; i += 1000 {
		require.NoError(b, ignore(sc.processTraces(ctx, ownedBatch(uint64(1000+i), ten, ten[3], 1000, 1))))
	}
	return sc, ten
}

func ignore(_ ptrace.Traces, err error) error { return err }

// The audit on the hot path, for traces already tracked, in a table of a
// million holding 500,000 others: batches of 1,000 spans in 100 traces
// (as BenchmarkCheckPass), and the worst case of one span per trace; each
// against the same batches without the audit. 100 different batches take
// turns, so that the table's lines are not all in the CPU's cache.
func BenchmarkAuditTrackedTraces(b *testing.B) {
	for _, shape := range []struct {
		name             string
		traces, spansPer int
		audit            bool
	}{{"100x10/audit", 100, 10, true}, {"100x10/off", 100, 10, false}, {"1000x1/audit", 1000, 1, true}, {"1000x1/off", 1000, 1, false}} {
		b.Run(shape.name, func(b *testing.B) {
			sc, ten := startAuditBench(b, 1_000_000, 500_000)
			if !shape.audit {
				a := sc.audit
				sc.audit = nil
				b.Cleanup(func() { sc.audit = a })
			}
			batches := make([]ptrace.Traces, 100)
			ctx := context.Background()
			for i := range batches {
				batches[i] = ownedBatch(uint64(10+i), ten, ten[3], shape.traces, shape.spansPer)
				require.NoError(b, ignore(sc.processTraces(ctx, batches[i]))) // tracked from now on
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := sc.processTraces(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.StopTimer()
			spans := float64(batches[0].SpanCount())
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/spans, "ns/span")
			b.ReportMetric(testing.AllocsPerRun(10, func() { _, _ = sc.processTraces(ctx, batches[0]) })/spans, "allocs/span")
		})
	}
}

// The table alone: recording batches of 256 distinct traces already
// tracked, in a table of a million holding 500,000; per trace. The traces
// are owned, as in steady state: nothing is reported.
func BenchmarkAuditRecord(b *testing.B) {
	sc, _ := startAuditBench(b, 1_000_000, 0)
	a := sc.audit
	v := sc.view.Load()
	rng := rand.New(rand.NewPCG(2, 2))
	ids := make([][16]byte, 500_000)
	now := time.Now()
	ab := newBatch(v, now)
	a.begin(ab)
	for i := range ids {
		ids[i] = randomID(rng)
		a.observe(ab, &ids[i], table.Hash(&ids[i]), v.self) // owned: no reports
	}
	a.finish(context.Background(), ab)
	ab.release()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ab := newBatch(v, now)
		a.begin(ab)
		for range batchTraces {
			id := &ids[(i*7919)%len(ids)]
			a.observe(ab, id, table.Hash(id), v.self)
			i++
		}
		a.finish(context.Background(), ab)
		ab.release()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batchTraces, "ns/trace")
}

// The owner cache of one batch: 100 traces × 10 spans, looked up span by
// span in the order a batch holds them (each trace's spans apart), with
// 128-bit IDs and with 64-bit ones (high half zero), which all probed from
// slot 0 when the slot was picked from the ID's first byte. Per span.
func BenchmarkOwnerCache(b *testing.B) {
	for _, kind := range []struct {
		name string
		ids  []pcommon.TraceID
	}{{"128bit", testbed.TraceIDs(5, 100)}, {"64bit", ids64(5, 100)}} {
		b.Run(kind.name, func(b *testing.B) {
			var c ownerCache
			b.ReportAllocs()
			for b.Loop() {
				c.reset()
				for span := range 10 {
					for i := range kind.ids {
						id := [16]byte(kind.ids[i])
						if _, h, ok := c.get(&id); !ok {
							c.put(&id, h, i+span)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/span")
		})
	}
}

// The hot path as a gateway with the audit runs it: the check, the audit's
// record and (with forwarding) its decision, at batches of 100 traces × 10
// spans of 64-bit trace IDs, all tracked already, in a table of a million
// holding 500,000 others; 100 different batches take turns. Per span.
func BenchmarkHotPath64BitIDs(b *testing.B) {
	// Steady state: long after any ring change, so no hold (a tier starting
	// cold holds its first spans for hold; see the forward tests).
	sc, ten := startAuditBench(b, 1_000_000, 500_000, func(c *Config) { c.Forward.Enabled, c.Forward.Hold = true, 0 })
	require.NotNil(b, sc.fwd, "forwarding on")
	ctx := context.Background()
	batches := make([]ptrace.Traces, 100)
	for i := range batches {
		batches[i] = ownedBatchOf(ids64(uint64(20+i), 100*len(ten)*2), ten, ten[3], 100, 10)
		require.NoError(b, ignore(sc.processTraces(ctx, batches[i])))
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := sc.processTraces(ctx, batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	spans := float64(batches[0].SpanCount())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/spans, "ns/span")
	b.ReportMetric(testing.AllocsPerRun(10, func() { _, _ = sc.processTraces(ctx, batches[0]) })/spans, "allocs/span")
	require.Zero(b, sc.fwd.queued.used.Load(), "steady state forwards nothing")
}
