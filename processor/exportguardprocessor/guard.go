package exportguardprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadata"
)

// guard is one exportguard instance (one per pipeline). It holds no lock:
// processTraces works on the request it is given, and shutdown runs once.
type guard struct {
	cfg      *Config
	logger   *zap.Logger
	signal   pipeline.Signal
	tel      *metadata.TelemetryBuilder
	drainer  *drainer  // nil without drain
	admitter *admitter // nil without admission
	sizer    ptrace.ProtoMarshaler
}

func newGuard(set processor.Settings, cfg *Config, signal pipeline.Signal) (*guard, error) {
	if err := setGzipLevel(set.ID, cfg.GzipLevel); err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	g := &guard{cfg: cfg, logger: set.Logger, signal: signal, tel: tel}
	if d := cfg.Drain.Get(); d != nil {
		g.drainer = newDrainer(set.ID, *d, signal, set.Logger)
	}
	if a := cfg.Admission.Get(); a != nil {
		g.admitter = newAdmitter(*a, signal, set.Logger)
	}
	return g, nil
}

var tooLarge = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "too_large")))

// processTraces drops every span whose request alone is larger than
// max_span_bytes, and keeps all the others. The common case, a request
// within the limit as a whole, costs one size computation.
// admit refuses items (a retryable error) while the watched queue is above
// its high-water mark, and counts them.
func (g *guard) admit(ctx context.Context, items int) error {
	if g.admitter == nil || !g.admitter.over.Load() {
		return nil
	}
	g.tel.ProcessorExportguardItemsRefused.Add(ctx, int64(items))
	return g.admitter.refusal()
}

func (g *guard) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	if err := g.admit(ctx, td.SpanCount()); err != nil {
		return td, err
	}
	limit := int(g.cfg.MaxSpanBytes)
	if limit <= 0 || g.sizer.TracesSize(td) <= limit {
		return td, nil
	}
	dropped, largest := 0, 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rsOwn := g.sizer.ResourceSpansSize(rs)
		for i := 0; i < rs.ScopeSpans().Len(); i++ {
			rsOwn -= delimited(g.sizer.ScopeSpansSize(rs.ScopeSpans().At(i)))
		}
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ssOwn := g.sizer.ScopeSpansSize(ss)
			for i := 0; i < ss.Spans().Len(); i++ {
				ssOwn -= delimited(g.sizer.SpanSize(ss.Spans().At(i)))
			}
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				// The request of this span alone: the span in its scope in
				// its resource, each a length-delimited field.
				alone := delimited(rsOwn + delimited(ssOwn+delimited(g.sizer.SpanSize(s))))
				if alone <= limit {
					return false
				}
				dropped++
				largest = max(largest, alone)
				return true
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
	if dropped == 0 {
		return td, nil
	}
	g.tel.ProcessorExportguardSpansDropped.Add(ctx, int64(dropped), tooLarge)
	// One line per request, not per span: a flood of large spans logs at the
	// rate of requests.
	g.logger.Warn("Dropped spans too large to export on their own",
		zap.Int("spans", dropped), zap.Int("largest_bytes", largest), zap.Int64("max_span_bytes", g.cfg.MaxSpanBytes),
		zap.Int("spans_kept", td.SpanCount()))
	if td.SpanCount() == 0 {
		// Nothing left to pass on; not an error for the sender.
		return td, processorhelper.ErrSkipProcessingData
	}
	return td, nil
}

// delimited is the size of a length-delimited protobuf field (one-byte tag)
// holding n bytes.
func delimited(n int) int { return 1 + varintSize(uint64(n)) + n }

func varintSize(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func (g *guard) start(context.Context, component.Host) error {
	if g.drainer != nil {
		forgetStopDeadline(g.drainer.id)
	}
	if g.admitter != nil {
		g.admitter.start()
	}
	return nil
}

func (g *guard) shutdown(ctx context.Context) error {
	if g.admitter != nil {
		g.admitter.shutdown()
	}
	if g.drainer != nil {
		elapsed := g.drainer.wait(ctx)
		g.tel.ProcessorExportguardDrainDuration.Record(context.Background(), elapsed.Seconds())
	}
	g.tel.Shutdown()
	return nil
}
