package exportguardprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor"

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pipeline"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/internal/selfmetrics"
)

// queueCapacityMetric is the exporter's sending queue capacity, in the
// queue's sizer (queue_size).
const queueCapacityMetric = "otelcol_exporter_queue_capacity"

// admitter refuses new data, with a retryable error, while an exporter's
// sending queue is above its high-water mark. Placed before tail_sampling
// (and batch), it turns what the full queue would drop after the receiver
// has answered OK into refusals the sender retries: the agents' own queues
// and retries hold the data meanwhile. It reads the queue where the
// collector publishes it, its Prometheus self-telemetry, every
// poll_interval, in the background; the data path reads one atomic.
type admitter struct {
	cfg    AdmissionConfig
	signal pipeline.Signal
	logger *zap.Logger
	client *http.Client
	// over is whether the queue was above its mark at the last reading.
	over atomic.Bool
	// read reads the queue's size and capacity; a field for the tests.
	read func(ctx context.Context) (size, capacity float64, err error)

	stop chan struct{}
	wg   sync.WaitGroup
}

func newAdmitter(cfg AdmissionConfig, signal pipeline.Signal, logger *zap.Logger) *admitter {
	a := &admitter{cfg: cfg, signal: signal, logger: logger, client: &http.Client{Timeout: 2 * time.Second}}
	a.read = a.scrape
	return a
}

func (a *admitter) scrape(ctx context.Context) (size, capacity float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.cfg.MetricsEndpoint+"/metrics", http.NoBody)
	if err != nil {
		return 0, 0, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s/metrics: %s", a.cfg.MetricsEndpoint, resp.Status)
	}
	fams, err := selfmetrics.Parse(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if !hasSeries(fams, a.cfg.Exporter.String(), a.signal.String()) {
		return 0, 0, errNoQueueMetric
	}
	match := map[string]string{"exporter": a.cfg.Exporter.String(), "data_type": a.signal.String()}
	size, _ = selfmetrics.Sum(fams, queueSizeMetric, match)
	capacity, ok := selfmetrics.Sum(fams, queueCapacityMetric, match)
	if !ok || capacity <= 0 {
		return 0, 0, fmt.Errorf("no %s for exporter %s, signal %s", queueCapacityMetric, a.cfg.Exporter, a.signal)
	}
	return size, capacity, nil
}

// quietFailures is how many readings in a row may fail, before the first
// that succeeds, without a warning: the collector's Prometheus endpoint
// comes up while the pipelines start.
const quietFailures = 10

// readState is what check remembers between readings.
type readState struct {
	read     bool   // a reading has succeeded
	failures int    // failed readings in a row
	lastErr  string // the error last logged
}

// check reads the queue once and sets over; it logs each change. A queue it
// cannot read admits everything, and says so once per new error (after
// quietFailures before any reading succeeded).
func (a *admitter) check(ctx context.Context, st *readState) {
	size, capacity, err := a.read(ctx)
	fields := []zap.Field{zap.String("exporter", a.cfg.Exporter.String()), zap.String("signal", a.signal.String())}
	if err != nil {
		a.over.Store(false)
		st.failures++
		if msg := err.Error(); msg != st.lastErr && (st.read || st.failures >= quietFailures) {
			st.lastErr = msg
			a.logger.Warn("Cannot read the export queue's size: admitting everything until it can",
				append(fields, zap.String("metrics_endpoint", a.cfg.MetricsEndpoint), zap.Int("failed_readings", st.failures), zap.Error(err))...)
		}
		return
	}
	st.read, st.failures, st.lastErr = true, 0, ""
	over := size >= a.cfg.HighWater*capacity
	if over == a.over.Swap(over) {
		return
	}
	fields = append(fields, zap.Float64("queue_size", size), zap.Float64("queue_capacity", capacity), zap.Float64("high_water", a.cfg.HighWater))
	if over {
		a.logger.Warn("Export queue above its high-water mark: refusing new data (retryable) until it is below", fields...)
	} else {
		a.logger.Info("Export queue below its high-water mark again: admitting new data", fields...)
	}
}

func (a *admitter) start() {
	a.stop = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	st := &readState{}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer cancel()
		tick := time.NewTicker(a.cfg.PollInterval)
		defer tick.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tick.C:
				a.check(ctx, st)
			}
		}
	}()
}

func (a *admitter) shutdown() {
	if a.stop != nil {
		close(a.stop)
		a.wg.Wait()
		a.stop = nil
	}
	a.over.Store(false)
}

// refusal is the retryable error a refused request gets: not permanent, so
// the OTLP receiver answers Unavailable (gRPC) / 503 (HTTP), which the
// sender's exporter retries.
func (a *admitter) refusal() error {
	return fmt.Errorf("export queue of %s (%s) above %.0f %% of its capacity: refused, retry later", a.cfg.Exporter, a.signal, a.cfg.HighWater*100)
}
