package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

// The tally: the owner of a trace (under its view of the ring) counts the
// distinct replicas that hold spans of it, itself included, and counts the
// trace as split once, when the second one becomes known. Only the first is
// remembered (entry.seer): the second distinct one is the count, and after
// it nothing more can change. When the ring moves a trace to a new owner,
// the old owner hands its tally over (the first seer, or "counted"), so the
// trace is still counted once in the tier.

// Entry flags.
const (
	// efLocal: this replica received spans of the trace.
	efLocal uint32 = 1 << iota
	// efReported: the owner knows that this replica holds spans (a report is
	// queued, or this replica's own tally was handed to the new owner).
	efReported
	// efCounted: the split was counted, here or by a previous owner.
	efCounted
	// efRingChange: a report sent because of a ring change reached the tally.
	efRingChange
)

// cause is the attribute of traces_split.
type cause int

const (
	causeMisrouted cause = iota
	causeRingChange
	numCauses
)

func (c cause) String() string { return [...]string{"misrouted", "ring_change"}[c] }

func (e *entry) cause() cause {
	if e.flags&efRingChange != 0 {
		return causeRingChange
	}
	return causeMisrouted
}

// addSeer adds replica s to the tally; it returns true when s is the second
// distinct replica, which is when the trace counts as split, once.
func addSeer(e *entry, s uint64) bool {
	switch {
	case e.flags&efCounted != 0 || e.seer == s:
		return false
	case e.seer == 0:
		e.seer = s
		return false
	}
	e.flags |= efCounted
	return true
}

// merge applies a report to the owner's tally; it returns true when the
// trace counts as split now.
func merge(e *entry, r *report) bool {
	if r.flags&rfRingChange != 0 {
		e.flags |= efRingChange
	}
	if r.flags&rfCounted != 0 {
		e.flags |= efCounted
		return false
	}
	return addSeer(e, r.seer)
}

// handoff empties the tally of a trace this replica no longer owns into the
// report for its new owner; ok is false when there is nothing to hand over.
func handoff(e *entry) (r report, ok bool) {
	if e.seer == 0 && e.flags&efCounted == 0 {
		return r, false
	}
	r = report{id: e.id, seer: e.seer, flags: rfRingChange}
	if e.flags&efCounted != 0 {
		r.flags |= rfCounted
	}
	e.seer = 0
	e.flags &^= efCounted | efRingChange
	if e.flags&efLocal != 0 {
		// The tally handed over names this replica (as its first seer, or
		// in the count): no report of its own is needed.
		e.flags |= efReported
	}
	return r, true
}
