package compose

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Timing of the test topology (the compose file's defaults are for people).
const (
	decisionWait = 3 * time.Second
	grace        = 5 * time.Second
	// The agents' and the gateways' dns resolver interval in the compose file.
	resolverInterval = time.Second
)

var (
	misroutedRingChange = seriesKey{metricMisrouted, map[string]string{"reason": "ring_change"}}
	misroutedNotOwner   = seriesKey{metricMisrouted, map[string]string{"reason": "not_owner"}}
	misroutedNotMember  = seriesKey{metricMisrouted, map[string]string{"reason": "self_not_member"}}
	spansChecked        = seriesKey{metricChecked, nil}
	splitRingChange     = seriesKey{metricTracesSplit, map[string]string{"cause": "ring_change"}}
	splitMisrouted      = seriesKey{metricTracesSplit, map[string]string{"cause": "misrouted"}}
)

var counters = map[string]seriesKey{
	"ring_change":       misroutedRingChange,
	"not_owner":         misroutedNotOwner,
	"self_not_member":   misroutedNotMember,
	"checked":           spansChecked,
	"split_ring_change": splitRingChange,
	"split_misrouted":   splitMisrouted,
}

// The compose topology of deploy/compose, from the image of `make image`:
// traces through the agent reach the sink whole in steady state; gateways
// scaled 3 → 4 → 3 under load split traces only during the change (cause
// ring_change) and lose no span; a gateway killed under load loses only what
// it held, and its replacement becomes ready.
func TestComposeTopology(t *testing.T) {
	requireDocker(t)
	s := startStack(t, 3, map[string]string{
		"SAMPLING_PERCENTAGE": "100",
		"DECISION_WAIT":       decisionWait.String(),
		"STICKYCHECK_GRACE":   grace.String(),
		// Covers decision_wait and the export of what the replica holds.
		"GATEWAY_STOP_GRACE": "30s",
	})
	split := s.has(metricTracesSplit)
	if !split {
		t.Logf("%s not exposed by this build (issue 5): split traces are judged by misrouted spans", metricTracesSplit)
	}

	t.Run("steady state", func(t *testing.T) { steadyState(t, s) })
	if t.Failed() {
		return
	}
	t.Run("scale 3-4-3 under load", func(t *testing.T) { scaleEvent(t, s, split) })
	t.Run("gateway killed under load", func(t *testing.T) { killGateway(t, s) })
}

// steadyState: every trace sent to the agent reaches the sink whole, through
// one gateway, and no span is misrouted.
func steadyState(t *testing.T, s *stack) {
	const traces, perRequest = 2000, 200
	before := s.gatewayCounters(counters)
	sender, err := testbed.NewSender(s.agentOTLP())
	require.NoError(t, err)
	defer sender.Close()
	ids := testbed.TraceIDs(71, traces)
	for _, spans := range [][2]int{{0, half}, {half, spansPerTrace}} {
		for i := 0; i < traces; i += perRequest {
			td := ptrace.NewTraces()
			testbed.AppendSpans(td, "checkout", ids[i:i+perRequest], spans[0], spans[1])
			require.NoError(t, sender.Send(context.Background(), td))
		}
	}
	rep := waitSink(t, s.sinkFile, ids, 30*time.Second, 90*time.Second)
	require.Emptyf(t, rep.missing, "%s", rep.describe())
	assert.Zero(t, rep.duplicates, "spans received twice")
	assert.Zero(t, rep.split, "traces sampled by more than one gateway")

	after := s.gatewayCounters(counters)
	assert.EqualValues(t, traces*spansPerTrace, after["checked"]-before["checked"], "spans checked by the gateways")
	for _, reason := range []string{"ring_change", "not_owner", "self_not_member"} {
		assert.Zerof(t, after[reason]-before[reason], "spans misrouted (%s)", reason)
	}
	assert.Zero(t, after["split_ring_change"]+after["split_misrouted"], "traces_split")
	t.Logf("%d traces of %d spans whole in the sink; misrouted 0, traces_split %v", traces, spansPerTrace, after["split_ring_change"]+after["split_misrouted"])
}

// sample is the gateways' counters at one moment.
type sample struct {
	at   time.Time
	vals map[string]float64
}

// sampler scrapes the gateways every 500 ms until stopped.
func sampler(s *stack) (stop func() []sample) {
	done, out := make(chan struct{}), make(chan []sample)
	go func() {
		var samples []sample
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			samples = append(samples, sample{time.Now(), s.gatewayCounters(counters)})
			select {
			case <-done:
				out <- samples
				return
			case <-tick.C:
			}
		}
	}()
	return func() []sample { close(done); return <-out }
}

// valueAt returns the last sampled value of a counter at or before t.
func valueAt(samples []sample, name string, at time.Time) float64 {
	v := 0.0
	for _, s := range samples {
		if s.at.After(at) {
			break
		}
		v = s.vals[name]
	}
	return v
}

// scaleEvent: 3 → 4 → 3 gateways while traces flow; every span sent reaches
// the sink, misroutes happen during the changes only and are blamed on them.
func scaleEvent(t *testing.T, s *stack, split bool) {
	before := s.gatewayCounters(counters)
	stopSampler := sampler(s)
	// 100 traces/s, each trace's halves 1 s apart.
	l := startLoad(t, s.agentOTLP(), 72, 10, 100*time.Millisecond, 10, 8000)
	time.Sleep(4 * time.Second)

	outAt := time.Now()
	s.scale(4)
	s.waitReady(4, 60*time.Second)
	outReady := time.Now()
	time.Sleep(8 * time.Second)

	inAt := time.Now()
	s.scale(3) // returns when the surplus replica has stopped and is removed
	inDone := time.Now()
	s.waitReady(3, 60*time.Second)
	inReady := time.Now()
	// Keep the load on past the agents' interval and the grace.
	settled := inDone.Add(resolverInterval + grace + 2*time.Second)
	time.Sleep(time.Until(settled.Add(5 * time.Second)))
	l.stop()
	samples := stopSampler()
	retries, refused := l.stats()
	sent := l.sent()

	t.Logf("scale-out: `up --scale gateway=4` at +%.1fs, all see 4 at +%.1fs; scale-in: at +%.1fs, replica removed at +%.1fs, all see 3 at +%.1fs",
		outAt.Sub(samples[0].at).Seconds(), outReady.Sub(samples[0].at).Seconds(), inAt.Sub(samples[0].at).Seconds(),
		inDone.Sub(samples[0].at).Seconds(), inReady.Sub(samples[0].at).Seconds())

	rep := waitSink(t, s.sinkFile, sent, 15*time.Second, 90*time.Second)
	after := s.gatewayCounters(counters)
	delta := func(name string) float64 { return after[name] - before[name] }

	var timeline strings.Builder
	for _, w := range []struct {
		name     string
		from, to time.Time
	}{
		{"before scale-out", samples[0].at, outAt},
		{"scale-out + interval + grace", outAt, outReady.Add(resolverInterval + grace)},
		{"until scale-in", outReady.Add(resolverInterval + grace), inAt},
		{"scale-in + interval + grace", inAt, settled},
		{"after", settled, samples[len(samples)-1].at},
	} {
		if w.to.Before(w.from) {
			w.to = w.from
		}
		fmt.Fprintf(&timeline, "\n  %-30s misrouted ring_change %5.0f  not_owner %3.0f", w.name,
			valueAt(samples, "ring_change", w.to)-valueAt(samples, "ring_change", w.from),
			valueAt(samples, "not_owner", w.to)-valueAt(samples, "not_owner", w.from))
		if split {
			fmt.Fprintf(&timeline, "  traces_split ring_change %4.0f misrouted %3.0f",
				valueAt(samples, "split_ring_change", w.to)-valueAt(samples, "split_ring_change", w.from),
				valueAt(samples, "split_misrouted", w.to)-valueAt(samples, "split_misrouted", w.from))
		}
	}
	t.Logf("%d traces sent (%d requests retried, %d refused); sink: %d spans, %d duplicates, %d traces sampled by two gateways; gateways: misrouted ring_change %.0f, not_owner %.0f, traces_split ring_change %.0f, misrouted %.0f%s",
		len(sent), retries, len(refused), rep.spans, rep.duplicates, rep.split,
		delta("ring_change"), delta("not_owner"), delta("split_ring_change"), delta("split_misrouted"), timeline.String())

	require.Emptyf(t, refused, "requests the agent never accepted")
	// The graceful scale-in loses nothing.
	assert.Emptyf(t, rep.missing, "%s", rep.describe())
	// The changes split traces, and blame them on the ring change ...
	assert.Positive(t, delta("ring_change"), "spans misrouted with reason ring_change during the scale event")
	// ... and only within the agents' interval plus grace of a change.
	assert.Zero(t, delta("not_owner"), "spans misrouted outside a ring change's grace")
	assert.Zero(t, delta("self_not_member"), "spans misrouted because a gateway's self was not in its ring")
	assert.Equal(t, valueAt(samples, "ring_change", settled), samples[len(samples)-1].vals["ring_change"],
		"misroutes after the agents' interval plus grace following the scale-in")
	if split {
		assert.Positive(t, delta("split_ring_change"), "traces_split{cause=ring_change}")
		assert.Zero(t, delta("split_misrouted"), "traces_split{cause=misrouted}")
	}
}

// killGateway: a gateway killed (SIGKILL) under load; the tier keeps serving,
// what is lost belonged to the killed replica, and the replica compose brings
// back reports ready.
func killGateway(t *testing.T, s *stack) {
	gateways := s.containers("gateway")
	require.Len(t, gateways, 3)
	victim := gateways[1]
	members := make([]string, len(gateways))
	for i, gw := range gateways {
		members[i] = fmt.Sprintf("%s:%d", gw.IP, portOTLP)
	}
	owners := ring.New(ring.Current, members)
	victimMember := fmt.Sprintf("%s:%d", victim.IP, portOTLP)

	l := startLoad(t, s.agentOTLP(), 73, 10, 100*time.Millisecond, 10, 8000)
	time.Sleep(5 * time.Second)
	killedAt := time.Now()
	out, err := execDocker("kill", victim.ID)
	require.NoError(t, err, out)
	killedAfter := l.count()
	time.Sleep(5 * time.Second)

	// Compose brings the service back to 3 replicas: the killed container is
	// started again.
	s.scale(3)
	var replacement testbed.Container
	require.Eventuallyf(t, func() bool {
		for _, gw := range s.containers("gateway") {
			if gw.Number == victim.Number && healthy(gw) {
				replacement = gw
				return true
			}
		}
		return false
	}, 60*time.Second, 250*time.Millisecond, "the killed gateway's replacement (number %d) never reported ready", victim.Number)
	readyAt := time.Now()
	s.waitReady(3, 60*time.Second)
	readyAfter := l.count()
	time.Sleep(resolverInterval + 5*time.Second)
	l.stop()
	retries, refused := l.stats()
	sent := l.sent()

	rep := waitSink(t, s.sinkFile, sent, 2*decisionWait+5*time.Second, 90*time.Second)
	lostSpans, notTheVictims := 0, []string{}
	for id, spans := range rep.missing {
		lostSpans += len(spans)
		if owner := owners.OwnerName([16]byte(id)); owner != victimMember {
			notTheVictims = append(notTheVictims, fmt.Sprintf("%s (owner %s)", id, owner))
		}
	}
	afterReady := map[pcommon.TraceID]bool{}
	for _, id := range l.ids[readyAfter:] {
		afterReady[id] = true
	}
	lostAfterReady := 0
	for id := range rep.missing {
		if afterReady[id] {
			lostAfterReady++
		}
	}
	t.Logf("killed %s (%s) after %d traces; replacement %s ready after %.1fs, ring of 3 after %d traces; %d traces sent (%d requests retried, %d refused); lost: %d spans of %d traces, all owned by the killed replica: %v; %d duplicates; %d traces sampled by two gateways",
		victim.Name, victimMember, killedAfter, replacement.IP, readyAt.Sub(killedAt).Seconds(), readyAfter,
		len(sent), retries, len(refused), lostSpans, len(rep.missing), len(notTheVictims) == 0, rep.duplicates, rep.split)
	if len(rep.missing) > 0 {
		t.Logf("what the kill lost: %s", rep.describe())
	}

	// The tier kept serving: the agent accepted every request.
	require.Emptyf(t, refused, "requests the agent never accepted")
	// Only traces the killed replica owned lost spans.
	assert.Emptyf(t, notTheVictims, "traces that lost spans although another gateway owned them")
	// Once the replacement is in the ring, traces arrive whole again.
	assert.Zerof(t, lostAfterReady, "traces started after the replacement was ready that lost spans")
}
