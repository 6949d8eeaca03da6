package compose

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Shape of the traces the load sends: spans [0, half) in a first request,
// [half, spansPerTrace) in a second one, gapTicks later.
const (
	spansPerTrace = 4
	half          = 2
)

// load sends traces through the agent at a steady rate, from its start until
// stop or until it has started maxTraces traces. Each tick it sends the first
// half of perTick new traces and the second half of the traces started
// gapTicks before, so that a ring change between the halves splits traces.
// A refused request is retried, as an SDK does, a bounded number of times.
type load struct {
	sender   *testbed.Sender
	ids      []pcommon.TraceID
	perTick  int
	tick     time.Duration
	gapTicks int

	mu         sync.Mutex
	started    int // traces whose first half was sent: ids[:started]
	finished   int // traces whose second half was sent: ids[:finished]
	retries    int
	bytes      int64    // OTLP bytes (protobuf) of the requests the agent accepted
	refused    []string // requests never accepted, with the last error
	refusedIDs map[pcommon.TraceID]bool
	// When the agent accepted each trace's first and second half.
	firstAt, secondAt []time.Time

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

func startLoad(t *testing.T, endpoint string, seed uint64, perTick int, tick time.Duration, gapTicks int, maxTraces int) *load {
	t.Helper()
	sender, err := testbed.NewSender(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	l := &load{
		sender: sender, ids: testbed.TraceIDs(seed, maxTraces), perTick: perTick, tick: tick, gapTicks: gapTicks,
		stopCh: make(chan struct{}), done: make(chan struct{}), refusedIDs: map[pcommon.TraceID]bool{},
		firstAt: make([]time.Time, maxTraces), secondAt: make([]time.Time, maxTraces),
	}
	go l.run()
	t.Cleanup(func() { l.stop(); _ = sender.Close() })
	return l
}

func (l *load) run() {
	defer close(l.done)
	ticker := time.NewTicker(l.tick)
	defer ticker.Stop()
	next, finished, stopping := 0, 0, false
	for {
		if !stopping && next < len(l.ids) {
			end := min(next+l.perTick, len(l.ids))
			at := l.send(l.ids[next:end], 0, half)
			for i := next; i < end; i++ {
				l.firstAt[i] = at
			}
			next = end
		}
		// Second halves of the traces started gapTicks ago; of all of them
		// once stopping.
		upTo := next
		if !stopping {
			upTo = max(0, next-l.gapTicks*l.perTick)
		}
		if upTo > finished {
			at := l.send(l.ids[finished:upTo], half, spansPerTrace)
			for i := finished; i < upTo; i++ {
				l.secondAt[i] = at
			}
			finished = upTo
		}
		l.mu.Lock()
		l.started, l.finished = next, finished
		l.mu.Unlock()
		if stopping || next == len(l.ids) && finished == next {
			return
		}
		select {
		case <-l.stopCh:
			stopping = true
		case <-ticker.C:
		}
	}
}

// send sends spans [from, to) of ids, retrying a refused request for up to
// 20 s, 250 ms apart, and returns when it was accepted; the traces of a
// request never accepted are recorded.
func (l *load) send(ids []pcommon.TraceID, from, to int) time.Time {
	td := ptrace.NewTraces()
	testbed.AppendSpans(td, "checkout", ids, from, to)
	var err error
	giveUp := time.Now().Add(20 * time.Second)
	for attempt := 0; attempt == 0 || time.Now().Before(giveUp); attempt++ {
		if attempt > 0 {
			l.mu.Lock()
			l.retries++
			l.mu.Unlock()
			time.Sleep(250 * time.Millisecond)
		}
		if err = l.sender.Send(context.Background(), td); err == nil {
			l.mu.Lock()
			l.bytes += int64(sizer.TracesSize(td))
			l.mu.Unlock()
			return time.Now()
		}
	}
	l.mu.Lock()
	l.refused = append(l.refused, fmt.Sprintf("spans %d-%d of %d traces: %v", from, to-1, len(ids), err))
	for _, id := range ids {
		l.refusedIDs[id] = true
	}
	l.mu.Unlock()
	return time.Time{}
}

var sizer ptrace.ProtoMarshaler

// sentBytes is the OTLP size of what the agent accepted.
func (l *load) sentBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// stop ends the load after sending the second halves of every started trace.
func (l *load) stop() {
	l.stopOnce.Do(func() { close(l.stopCh) })
	<-l.done
}

// sent returns the traces of which every request was accepted, in the order
// they were started.
func (l *load) sent() []pcommon.TraceID {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]pcommon.TraceID, 0, l.finished)
	for _, id := range l.ids[:l.finished] {
		if !l.refusedIDs[id] {
			out = append(out, id)
		}
	}
	return out
}

// sentAt returns when the agent accepted the first and the second half of
// the i-th trace.
func (l *load) sentAt(i int) (first, second time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstAt[i], l.secondAt[i]
}

// count returns how many traces were started.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started
}

func (l *load) stats() (retries int, refused []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retries, append([]string(nil), l.refused...)
}

// sinkReport is what the sink holds of a set of traces.
type sinkReport struct {
	traces, spans int
	// missing lists, per trace that lost spans, the span indexes missing.
	missing map[pcommon.TraceID][]int
	// duplicates counts spans received more than once (extra copies).
	duplicates int
	// split lists the traces whose spans were sampled by more than one
	// gateway.
	split []pcommon.TraceID
}

// readSinkFiles reports on ids from the spans of one or more sink files (a
// sink started again truncates its file: the test moves the old one aside).
func readSinkFiles(paths []string, ids []pcommon.TraceID) (sinkReport, error) {
	got := map[pcommon.TraceID][]testbed.SinkSpan{}
	var err error
	for _, path := range paths {
		spans, e := testbed.ReadSinkSpans(path)
		if e != nil {
			err = e
		}
		for id, s := range spans {
			got[id] = append(got[id], s...)
		}
	}
	rep := sinkReport{traces: len(ids), missing: map[pcommon.TraceID][]int{}}
	for _, id := range ids {
		seen := map[pcommon.SpanID]int{}
		gateways := map[string]bool{}
		for _, s := range got[id] {
			seen[s.SpanID]++
			gateways[s.Gateway] = true
		}
		for i := range spansPerTrace {
			if n := seen[testbed.SpanID(id, i)]; n == 0 {
				rep.missing[id] = append(rep.missing[id], i)
			} else {
				rep.spans++
				rep.duplicates += n - 1
			}
		}
		if len(gateways) > 1 {
			rep.split = append(rep.split, id)
		}
	}
	return rep, err
}

// waitSink polls the sink until it holds every span of ids, or until nothing
// new arrived for quiet, or until timeout; it returns the last report.
func waitSink(t *testing.T, path string, ids []pcommon.TraceID, quiet, timeout time.Duration) sinkReport {
	t.Helper()
	return waitSinkFiles(t, []string{path}, ids, quiet, timeout)
}

// waitSinkFiles is waitSink over several sink files.
func waitSinkFiles(t *testing.T, paths []string, ids []pcommon.TraceID, quiet, timeout time.Duration) sinkReport {
	t.Helper()
	deadline := time.Now().Add(timeout)
	lastChange, lastSpans := time.Now(), -1
	for {
		rep, err := readSinkFiles(paths, ids)
		if err == nil && len(rep.missing) == 0 {
			// Let late duplicates land before judging.
			time.Sleep(time.Second)
			rep, _ = readSinkFiles(paths, ids)
			return rep
		}
		if rep.spans != lastSpans {
			lastSpans, lastChange = rep.spans, time.Now()
		}
		if time.Since(lastChange) > quiet || time.Now().After(deadline) {
			return rep
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// describe names up to 10 traces that lost spans and which.
func (r sinkReport) describe() string {
	ids := make([]string, 0, len(r.missing))
	for id := range r.missing {
		ids = append(ids, id.String())
	}
	sort.Strings(ids)
	var b strings.Builder
	lost := 0
	for _, spans := range r.missing {
		lost += len(spans)
	}
	fmt.Fprintf(&b, "%d of %d traces lost %d spans", len(r.missing), r.traces, lost)
	for i, id := range ids {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(ids)-10)
			break
		}
		var tid pcommon.TraceID
		for k := range r.missing {
			if k.String() == id {
				tid = k
			}
		}
		fmt.Fprintf(&b, "\n  trace %s: spans %v missing", id, r.missing[tid])
	}
	return b.String()
}
