package exportguardprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadata"
)

// Defaults of drain when it is set without them.
const (
	defaultDrainTimeout = 20 * time.Second
	defaultPollInterval = 250 * time.Millisecond

	defaultHighWater             = 0.8
	defaultAdmissionPollInterval = time.Second
)

// NewFactory returns the factory of the exportguard processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Drain:     configoptional.Default(DrainConfig{Timeout: defaultDrainTimeout, PollInterval: defaultPollInterval}),
		Admission: configoptional.Default(AdmissionConfig{HighWater: defaultHighWater, PollInterval: defaultAdmissionPollInterval}),
	}
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	g, err := newGuard(set, cfg.(*Config), pipeline.SignalTraces)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, g.processTraces,
		processorhelper.WithStart(g.start),
		processorhelper.WithShutdown(g.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: g.cfg.MaxSpanBytes > 0}))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	g, err := newGuard(set, cfg.(*Config), pipeline.SignalMetrics)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next,
		func(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
			return md, g.admit(ctx, md.DataPointCount())
		},
		processorhelper.WithStart(g.start),
		processorhelper.WithShutdown(g.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	g, err := newGuard(set, cfg.(*Config), pipeline.SignalLogs)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next,
		func(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
			return ld, g.admit(ctx, ld.LogRecordCount())
		},
		processorhelper.WithStart(g.start),
		processorhelper.WithShutdown(g.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
}
