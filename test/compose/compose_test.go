package compose

import (
	"context"
	"fmt"
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
// it held, and its replacement becomes ready; the shipped alerts and
// dashboard work on a real Prometheus scraping it; the backend stopped for
// 2 minutes under load loses nothing.
func TestComposeTopology(t *testing.T) {
	requireDocker(t)
	s := startStack(t, 3, map[string]string{
		"SAMPLING_PERCENTAGE": "100",
		"DECISION_WAIT":       decisionWait.String(),
		"STICKYCHECK_GRACE":   grace.String(),
		// The shipped default: scale events keep traces whole.
		"STICKYCHECK_FORWARD": "true",
		// The compose file's default: covers the stop budget (README, "Stop
		// sequence"), the disk queue's drain included.
		"GATEWAY_STOP_GRACE": "45s",
	})

	t.Run("steady state", func(t *testing.T) { steadyState(t, s) })
	if t.Failed() {
		return
	}
	t.Run("scale 3-4-3 under load", func(t *testing.T) { scaleEvents(t, s, scaleCycles) })
	t.Run("peers authenticated", func(t *testing.T) { peersAuthenticated(t, s) })
	t.Run("gateway killed under load", func(t *testing.T) { killGateway(t, s) })
	t.Run("alerts and dashboard on a real Prometheus", func(t *testing.T) { monitoringOnPrometheus(t, s) })
	// Last: the outage fills the gateways' queues and their send failures.
	t.Run("backend down 2 minutes under load", func(t *testing.T) { backendOutage(t, s) })
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
	assert.Empty(t, rep.split, "traces sampled by more than one gateway")

	after := s.gatewayCounters(counters)
	assert.EqualValues(t, traces*spansPerTrace, after["checked"]-before["checked"], "spans checked by the gateways")
	for _, reason := range []string{"ring_change", "not_owner", "self_not_member"} {
		assert.Zerof(t, after[reason]-before[reason], "spans misrouted (%s)", reason)
	}
	assert.Zero(t, after["split_ring_change"]+after["split_misrouted"], "traces_split")
	t.Logf("%d traces of %d spans whole in the sink; misrouted 0, traces_split %v", traces, spansPerTrace, after["split_ring_change"]+after["split_misrouted"])
}

// keepScraping scrapes the gateways every 500 ms until stopped, so that a
// replica a scale-in removes keeps the counters it had last (the stack
// remembers every gateway's last scrape, see gatewayCounters).
func keepScraping(s *stack, series map[string]seriesKey) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			s.gatewayCounters(series)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		select {
		case <-stopped:
		case <-time.After(time.Minute):
			panic("the gateways' scraper did not stop within a minute")
		}
	}
}

// window is a span of time around a ring change.
type window struct {
	name     string
	from, to time.Time
}

// crossed reports whether a trace whose halves the agent accepted at first
// and second was in flight during w.
func (w window) crossed(first, second time.Time) bool {
	return first.Before(w.to) && second.After(w.from)
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
	t.Logf("killed %s (%s) after %d traces; its replacement (%s) ready %.1fs later, every member sees 3 after %d traces; "+
		"%d traces sent (%d requests retried, %d refused); lost: %d spans of %d traces, all owned by the killed replica: %v; "+
		"%d duplicate spans; %d traces sampled by two gateways",
		victim.Name, victimMember, killedAfter, replacement.IP, readyAt.Sub(killedAt).Seconds(), readyAfter,
		len(sent), retries, len(refused), lostSpans, len(rep.missing), len(notTheVictims) == 0, rep.duplicates, len(rep.split))
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

// peersAuthenticated: the gateways exchanged the audit's reports over their
// authenticated peer port (the scale event's splits were counted through
// them), and none refused another for its token.
func peersAuthenticated(t *testing.T, s *stack) {
	got := s.gatewayCounters(map[string]seriesKey{
		"sent":            {"otelcol_processor_stickycheck_peer_reports_sent", nil},
		"unauthenticated": {"otelcol_processor_stickycheck_peer_reports_rejected", map[string]string{"reason": "unauthenticated"}},
		"refused":         {"otelcol_processor_stickycheck_peer_reports_dropped", map[string]string{"reason": "refused"}},
	})
	assert.Positive(t, got["sent"], "reports delivered between the gateways")
	assert.Zero(t, got["unauthenticated"], "reports refused for their token")
	assert.Zero(t, got["refused"], "reports a peer refused")
	t.Logf("reports delivered between authenticated gateways: %v; refused: 0", got["sent"])
}
