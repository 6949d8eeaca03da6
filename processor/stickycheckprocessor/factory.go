package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

// defaultGrace covers the load-balancing exporter's default DNS interval
// (5 s) several times over, and a k8s watch event's delay.
const defaultGrace = 30 * time.Second

// NewFactory returns the factory of the stickycheck processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTracesProcessor, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Ring:    string(ring.Current),
		Action:  ActionPass,
		Grace:   defaultGrace,
		Audit:   configoptional.Default(defaultAuditConfig()),
		Forward: defaultForwardConfig(),
	}
}

func createTracesProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	p, err := newStickyCheck(set, c)
	if err != nil {
		return nil, err
	}
	return p.tracesProcessor(ctx, set, next)
}

func (p *stickyCheck) tracesProcessor(ctx context.Context, set processor.Settings, next consumer.Traces) (processor.Traces, error) {
	p.next = next
	return processorhelper.NewTraces(ctx, set, p.cfg, next, p.processTraces,
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: p.cfg.Action != ActionPass || p.cfg.Forward.Enabled}))
}
