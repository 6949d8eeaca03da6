package exportguardprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"

	"go.opentelemetry.io/collector/pipeline"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/internal/selfmetrics"
)

// queueSizeMetric is the exporter's sending queue size (exporterhelper): its
// items not yet sent, the ones being sent included, in the queue's sizer.
const queueSizeMetric = "otelcol_exporter_queue_size"

// drainer waits, at the collector's stop, until an exporter's sending queue
// for one signal is empty. It reads the queue size where the collector
// publishes it, its own Prometheus self-telemetry, which stays up until the
// very end of the stop; the exporter's queue is not reachable in-process.
type drainer struct {
	id     component.ID // the exportguard's, for the shared deadline
	cfg    DrainConfig
	signal pipeline.Signal
	logger *zap.Logger
	client *http.Client
	// queued reads the queue's size; a field for the tests' clock-free runs.
	queued func(ctx context.Context) (float64, error)
}

func newDrainer(id component.ID, cfg DrainConfig, signal pipeline.Signal, logger *zap.Logger) *drainer {
	d := &drainer{id: id, cfg: cfg, signal: signal, logger: logger, client: &http.Client{Timeout: 2 * time.Second}}
	d.queued = d.scrapeQueueSize
	return d
}

// stopDeadlines holds, per exportguard id, when its drain gives up. The
// collector stops the pipelines one after the other, and one exportguard in
// three pipelines is three instances: they share the first one's deadline,
// so that drain::timeout bounds the whole stop, not each pipeline's part.
// Lock rule: stopDeadlinesMu guards stopDeadlines only; nothing is called
// under it.
var (
	stopDeadlinesMu sync.Mutex
	stopDeadlines   = map[component.ID]time.Time{}
)

// stopDeadline returns the deadline of id's drain, setting it to
// now+timeout for the first caller of this stop.
func stopDeadline(id component.ID, now time.Time, timeout time.Duration) time.Time {
	stopDeadlinesMu.Lock()
	defer stopDeadlinesMu.Unlock()
	if d, ok := stopDeadlines[id]; ok {
		return d
	}
	stopDeadlines[id] = now.Add(timeout)
	return stopDeadlines[id]
}

// forgetStopDeadline clears id's deadline when a (re)started collector
// starts the processor again.
func forgetStopDeadline(id component.ID) {
	stopDeadlinesMu.Lock()
	defer stopDeadlinesMu.Unlock()
	delete(stopDeadlines, id)
}

// errNoQueueMetric: the exporter publishes no queue size for this signal
// (no sending queue, another exporter id, or no Prometheus reader).
var errNoQueueMetric = errors.New("no " + queueSizeMetric + " for this exporter and signal")

func (d *drainer) scrapeQueueSize(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.cfg.MetricsEndpoint+"/metrics", http.NoBody)
	if err != nil {
		return 0, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s/metrics: %s", d.cfg.MetricsEndpoint, resp.Status)
	}
	fams, err := selfmetrics.Parse(resp.Body)
	if err != nil {
		return 0, err
	}
	if !hasSeries(fams, d.cfg.Exporter.String(), d.signal.String()) {
		return 0, errNoQueueMetric
	}
	n, _ := selfmetrics.Sum(fams, queueSizeMetric, map[string]string{"exporter": d.cfg.Exporter.String(), "data_type": d.signal.String()})
	return n, nil
}

func hasSeries(fams selfmetrics.Families, exporter, signal string) bool {
	fam := fams[queueSizeMetric]
	for _, m := range fam.GetMetric() {
		var e, s bool
		for _, l := range m.GetLabel() {
			e = e || (l.GetName() == "exporter" && l.GetValue() == exporter)
			s = s || (l.GetName() == "data_type" && l.GetValue() == signal)
		}
		if e && s {
			return true
		}
	}
	return false
}

// wait returns when the queue is empty, the stop's drain deadline has passed
// (drain::timeout after the first of this id's instances began) or ctx is
// done, and says which in the log; it returns how long it waited. A queue it
// cannot read ends the wait at once, with an error logged: waiting blind
// would only spend the grace period.
func (d *drainer) wait(ctx context.Context) time.Duration {
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, stopDeadline(d.id, start, d.cfg.Timeout))
	defer cancel()
	fields := []zap.Field{zap.String("exporter", d.cfg.Exporter.String()), zap.String("signal", d.signal.String())}
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	first, last := -1.0, 0.0
	for {
		n, err := d.queued(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.logger.Error("Cannot read the export queue's size: stopping without waiting for it to drain",
				append(fields, zap.String("metrics_endpoint", d.cfg.MetricsEndpoint), zap.Error(err))...)
			return time.Since(start)
		case err == nil && n == 0:
			if first > 0 {
				d.logger.Info("Export queue drained before the exporter stops",
					append(fields, zap.Float64("queue_size_at_stop", first), zap.Duration("waited", time.Since(start)))...)
			}
			return time.Since(start)
		case err == nil && first < 0:
			first = n
			d.logger.Info("Waiting for the export queue to drain before the exporter stops",
				append(fields, zap.Float64("queue_size", n), zap.Duration("timeout", d.cfg.Timeout))...)
		}
		if err == nil {
			last = n
		}
		select {
		case <-ctx.Done():
			d.logger.Warn("Export queue not drained within drain::timeout: what is left stays in the queue (a persistent queue sends it at this collector's next start with the same volume)",
				append(fields, zap.Float64("queue_size_left", last), zap.Duration("timeout", d.cfg.Timeout))...)
			return time.Since(start)
		case <-tick.C:
		}
	}
}
