package stickycheckprocessor

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// wireCounter counts the bytes a listener's connections carry, both ways.
type wireCounter struct {
	net.Listener
	bytes *atomic.Int64
}

func (l wireCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countedConn{Conn: c, bytes: l.bytes}, nil
}

type countedConn struct {
	net.Conn
	bytes *atomic.Int64
}

func (c countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.bytes.Add(int64(n))
	return n, err
}

func (c countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.bytes.Add(int64(n))
	return n, err
}

// One second of a tier of three at 50,000 spans/s (5,000 traces of 10
// spans), 1 % of the traces misrouted (one span at another replica): the
// peer protocol's bytes on the wire (HTTP requests and responses, both
// ways) are under 1 % of the OTLP bytes of the spans. Small spans, so that
// the share is if anything overstated.
func TestPeerTrafficIsUnderOnePercentOfOTLP(t *testing.T) {
	members := loopbackMembers("127.0.55", 3)
	var wire atomic.Int64
	wrapListener = func(ln net.Listener) net.Listener { return wireCounter{Listener: ln, bytes: &wire} }
	t.Cleanup(func() { wrapListener = nil })
	rs := startTier(t, members, members, func(c *Config) { c.Audit.Get().Peer.FlushInterval = time.Second })

	const traces, spansPer, misroutedTraces = 5000, 10, 50
	ids := testbed.TraceIDs(55, traces)
	bypass := map[pcommon.TraceID]bool{}
	for _, id := range ids[:misroutedTraces] {
		bypass[id] = true
	}
	var otlpBytes int
	var sizer ptrace.ProtoMarshaler
	owners := byOwner(members, ids)
	for i, m := range members {
		mine := owners[m]
		for start := 0; start < len(mine); start += 50 {
			batch := mine[start:min(start+50, len(mine))]
			td := ptrace.NewTraces()
			testbed.AppendSpans(td, "checkout", batch, 0, spansPer-1)
			var stay, away []pcommon.TraceID
			for _, id := range batch {
				if bypass[id] {
					away = append(away, id)
				} else {
					stay = append(stay, id)
				}
			}
			testbed.AppendSpans(td, "checkout", stay, spansPer-1, spansPer)
			otlpBytes += sizer.TracesSize(td)
			require.NoError(t, rs[i].proc.ConsumeTraces(t.Context(), td))
			if len(away) > 0 {
				other := ptrace.NewTraces()
				testbed.AppendSpans(other, "checkout", away, spansPer-1, spansPer)
				otlpBytes += sizer.TracesSize(other)
				require.NoError(t, rs[(i+1)%3].proc.ConsumeTraces(t.Context(), other))
			}
		}
	}
	rs.settle(t)

	require.EqualValues(t, traces*spansPer, rs.sum(t, "processor_stickycheck_spans_checked", nil))
	assert.EqualValues(t, misroutedTraces, rs.sum(t, mSplit, misrouted))
	share := float64(wire.Load()) / float64(otlpBytes)
	t.Logf("OTLP %d bytes (%.0f a span); peer protocol %d bytes on the wire (bodies %d bytes, %d reports): %.3f %%",
		otlpBytes, float64(otlpBytes)/traces/spansPer, wire.Load(), rs.sum(t, mBytes, nil), rs.sum(t, mSent, nil), 100*share)
	assert.Less(t, share, 0.01)
}
