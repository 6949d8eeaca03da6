package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// shutdownTimeout bounds what the audit does at shutdown once its peer
// server has stopped: handing its traces over and delivering its queue
// (unless the shutdown's context ends sooner). A peer that does not answer
// within it loses its reports, counted as dropped.
const shutdownTimeout = 5 * time.Second

// leave hands every remembered trace over as if this replica had left the
// ring: to its owner under the ring without this replica, exactly as a ring
// change would (moveTraces: its tallies to their new owners, traces it holds
// spans of and never reported reported). A replica shutting down does this
// itself because its peers see it leave only after it has exited (Docker's
// DNS and the k8s resolver keep listing a stopping replica): by then nobody
// holds what it saw.
//
// A leave moves every trace this replica owns, not 1/N of them as a ring
// change does: the reports are delivered whenever the next shard's would
// not fit in the queue, so the queue's size does not limit the leave. The
// client's loop must be stopped. It returns the number of reports queued.
func (a *audit) leave(ctx context.Context, leaveRing func() (old, next *view)) (reports int) {
	old, next := leaveRing()
	if next == nil {
		return 0
	}
	a.moveTraces(old, next, func(rs []wire.Report) {
		reports += len(rs)
		a.client.enqueueDelivering(ctx, rs)
	})
	return reports
}
