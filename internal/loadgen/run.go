package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Progress is a live view of a run, handed to the tick callback every second.
type Progress struct {
	Elapsed         time.Duration
	Sent, Accepted  int64 // spans
	Refused, Failed int64 // spans
	Rate            float64
}

// Run sends requests until the duration or the count is reached or ctx is
// cancelled (then no new request is started; those in flight finish within
// the export timeout). tick, if not nil, is called about every second. The
// error is for runs that could not start: bad config, unreachable endpoint.
// Refused and failed requests are in the summary.
func Run(ctx context.Context, cfg Config, tick func(Progress)) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tmpl, err := NewTemplate(cfg.Shape, cfg.Seed)
	if err != nil {
		return nil, err
	}
	senders, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range senders {
			_ = s.Close()
		}
	}()

	cpuStart := cpuSeconds()
	start := time.Now()
	var stop time.Time
	if cfg.Duration > 0 {
		stop = start.Add(cfg.Duration)
	}
	var pace *pacer
	if cfg.Rate > 0 {
		pace = newPacer(time.Duration(float64(time.Second)*float64(cfg.Shape.Spans())/cfg.Rate), start)
	}
	c := newCounters()
	limit := cfg.Requests()
	var seq atomic.Uint64
	spans := int64(cfg.Shape.Spans())

	worker := func(s Sender) {
		buf := tmpl.NewBuffer()
		for {
			if pace != nil {
				if !pace.wait(ctx, stop) {
					return
				}
			} else if ctx.Err() != nil || (!stop.IsZero() && !time.Now().Before(stop)) {
				return
			}
			n := seq.Add(1) - 1
			if limit > 0 && n >= uint64(limit) {
				return
			}
			tmpl.Fill(buf, n)
			// A request in flight is not cut short by the end of the run.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ExportTimeout)
			t0 := time.Now()
			o := s.Export(rctx, buf)
			cancel()
			c.record(o, spans, time.Since(t0))
			if o.Kind != Accepted {
				// The transport may still hold buf: fill a fresh one next.
				buf = tmpl.NewBuffer()
			}
		}
	}
	var wg sync.WaitGroup
	for _, s := range senders {
		for range cfg.Inflight {
			wg.Add(1)
			go func() { defer wg.Done(); worker(s) }()
		}
	}
	done := make(chan struct{})
	if tick != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					tick(c.progress(time.Since(start)))
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	elapsed := time.Since(start)
	return newSummary(cfg, tmpl, c, elapsed, cpuSeconds()-cpuStart), nil
}

func dial(ctx context.Context, cfg Config) ([]Sender, error) {
	var senders []Sender
	for range cfg.Conns {
		var s Sender
		var err error
		switch cfg.Protocol {
		case GRPC:
			s, err = dialGRPC(ctx, cfg.Endpoint, cfg.Compression, cfg.DialTimeout)
		case HTTP:
			s, err = dialHTTP(ctx, cfg.Endpoint, cfg.Compression, cfg.Inflight, cfg.DialTimeout)
		default:
			err = errors.New("protocol: " + string(cfg.Protocol))
		}
		if err != nil {
			for _, s := range senders {
				_ = s.Close()
			}
			return nil, err
		}
		senders = append(senders, s)
	}
	return senders, nil
}

func (c *counters) progress(elapsed time.Duration) Progress {
	p := Progress{
		Elapsed:  elapsed,
		Accepted: c.accSpans.Load(),
		Refused:  c.refSpans.Load(),
		Failed:   c.failSpans.Load(),
	}
	p.Sent = p.Accepted + p.Refused + p.Failed
	if s := elapsed.Seconds(); s > 0 {
		p.Rate = float64(p.Accepted) / s
	}
	return p
}

// cpuSeconds is the user and system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
