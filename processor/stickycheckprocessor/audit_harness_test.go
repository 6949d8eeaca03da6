package stickycheckprocessor

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

// ctlResolver is a resolver the test controls: it publishes the member
// lists it is given, as the dns and k8s resolvers do on a scale event.
type ctlResolver struct {
	mu        sync.Mutex
	members   []string
	callbacks []func([]string)
}

func (r *ctlResolver) Start(context.Context) error    { r.set(r.members); return nil }
func (r *ctlResolver) Shutdown(context.Context) error { return nil }
func (r *ctlResolver) OnChange(f func([]string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.callbacks = append(r.callbacks, f)
}

func (r *ctlResolver) set(members []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members = members
	for _, f := range r.callbacks {
		f(slices.Clone(members))
	}
}

// replica is one gateway replica in the test's process: the real processor
// with its peer server on its own loopback address.
type replica struct {
	*harness
	member   string
	sc       *stickyCheck
	resolver *ctlResolver
	proc     processor.Traces
}

// auditConfig is the audit of the tests: a long window, quick flushes.
func auditConfig(self string, members []string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Self = self
	cfg.Resolver.Static = configoptional.Some(ring.StaticConfig{Hostnames: members})
	audit := cfg.Audit.GetOrInsertDefault()
	audit.Window = time.Minute
	audit.MaxTraces = 100_000
	audit.Peer.FlushInterval = testFlushInterval
	return cfg
}

const testFlushInterval = 20 * time.Millisecond

// fakeClock is a clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// clock is the time the replicas started by startReplica read (nil: the
// real clock); see useClock.
var clock *fakeClock

// wrapListener, when set, wraps the peer servers' listeners of the
// replicas the test starts.
var wrapListener func(net.Listener) net.Listener

// useClock makes the replicas the test starts read a fake clock.
func useClock(t *testing.T) *fakeClock {
	clock = newFakeClock()
	t.Cleanup(func() { clock = nil })
	return clock
}

// startReplica starts a replica named member, seeing members, on host
// (nil: no extensions), after edit changes its config.
func startReplica(t *testing.T, member string, members []string, host component.Host, edit func(*Config)) *replica {
	t.Helper()
	cfg := auditConfig(member, members)
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sc, err := newStickyCheck(set, cfg)
	require.NoError(t, err)
	if clock != nil {
		sc.now = clock.now
	}
	if sc.audit != nil {
		sc.audit.wrapListener = wrapListener
	}
	res := &ctlResolver{members: members}
	sc.resolver = res
	sink := new(consumertest.TracesSink)
	proc, err := sc.tracesProcessor(context.Background(), set, sink)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, proc.Start(context.Background(), host))
	r := &replica{harness: &harness{tel: tel, sink: sink, proc: proc}, member: member, sc: sc, resolver: res, proc: proc}
	t.Cleanup(func() {
		r.stop(t)
		require.NoError(t, tel.Shutdown(context.Background()))
	})
	return r
}

// stop shuts the replica down (once).
func (r *replica) stop(t *testing.T) {
	if r.proc != nil {
		require.NoError(t, r.proc.Shutdown(context.Background()))
		r.proc = nil
	}
}

// send gives the replica span i of each trace, as one batch.
func (r *replica) send(t *testing.T, ids []pcommon.TraceID, i int) {
	t.Helper()
	if len(ids) == 0 {
		return
	}
	td := ptrace.NewTraces()
	testbed.AppendSpans(td, "checkout", ids, i, i+1)
	require.NoError(t, r.proc.ConsumeTraces(context.Background(), td))
}

// loopbackMembers names n replicas on net (e.g. "127.0.51"), as the agents'
// static resolver would: host:4317.
func loopbackMembers(net string, n int) []string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("%s.%d:4317", net, i+1)
	}
	return ms
}

// freeMembers names n replicas on subnet from host first on (e.g.
// "127.0.58", 11: 127.0.58.11:4317, ...), after checking that nothing
// listens on their peer addresses yet: the test needs them to itself.
func freeMembers(t *testing.T, subnet string, first, n int) []string {
	t.Helper()
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("%s.%d:4317", subnet, first+i)
		addr := peerAddress(ms[i], defaultPeerPort)
		ln, err := net.Listen("tcp", addr)
		require.NoErrorf(t, err, "%s is taken: this test needs it free", addr)
		require.NoError(t, ln.Close())
	}
	return ms
}

// tier is replicas that see each other.
type tier []*replica

func startTier(t *testing.T, members, seen []string, edit func(*Config)) tier {
	t.Helper()
	var rs tier
	for _, m := range members {
		rs = append(rs, startReplica(t, m, seen, nil, edit))
	}
	return rs
}

func (rs tier) byMember(member string) *replica {
	for _, r := range rs {
		if r.member == member {
			return r
		}
	}
	return nil
}

func (rs tier) sum(t *testing.T, name string, attrs map[string]string) int64 {
	var total int64
	for _, r := range rs {
		total += r.sum(t, name, attrs)
	}
	return total
}

func (rs tier) setMembers(members []string) {
	for _, r := range rs {
		r.resolver.set(members)
	}
}

// settle waits until every report is delivered: no queue holds any, no
// send is in flight, and the tier received what it sent.
func (rs tier) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	stable := 0
	for stable < 3 {
		quiet := true
		for _, r := range rs {
			if r.proc == nil {
				continue
			}
			quiet = quiet && r.sc.audit.client.queued() == 0
		}
		sent := rs.sum(t, "processor_stickycheck_peer_reports_sent", nil)
		received := rs.sum(t, "processor_stickycheck_peer_reports_received", nil)
		if quiet && sent == received {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("reports not settled: sent %d, received %d", sent, received)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// spread records which replicas got spans of which traces: the truth the
// tally must find.
type spread map[pcommon.TraceID]map[string]bool

func (s spread) add(member string, ids []pcommon.TraceID) {
	for _, id := range ids {
		if s[id] == nil {
			s[id] = map[string]bool{}
		}
		s[id][member] = true
	}
}

// split counts the traces that reached two or more replicas.
func (s spread) split() int {
	n := 0
	for _, seen := range s {
		if len(seen) >= 2 {
			n++
		}
	}
	return n
}

// byOwner groups trace IDs by their owner under members.
func byOwner(members []string, ids []pcommon.TraceID) map[string][]pcommon.TraceID {
	r := ring.New(ring.Current, members)
	out := map[string][]pcommon.TraceID{}
	for _, id := range ids {
		owner := r.OwnerName(id)
		out[owner] = append(out[owner], id)
	}
	return out
}
