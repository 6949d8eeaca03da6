package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

// The tally: the owner of a trace (under its view of the ring) counts the
// distinct replicas that hold spans of it, itself included, and counts the
// trace as split once, when the second one becomes known. Only the first is
// remembered (entry.seer): the second distinct one is the count, and after
// it nothing more can change.
//
// When the ring moves a trace to a new owner, the old owner hands its tally
// over (the first seer, or "counted"), so that the tier still counts the
// trace once. A new owner whose tally reaches two replicas before that
// handoff arrives cannot know whether the old owner counted the trace
// already: it waits for the handoff (at most grace after the change), and
// counts then unless the handoff says counted.

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
	// efHandedIn: the previous owner's handoff reached the tally.
	efHandedIn
	// efSplitPending: split (efCounted is set) but not counted yet: waiting
	// for the previous owner's handoff.
	efSplitPending
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

// merge applies a report to the owner's tally. split is true when the tally
// reaches two replicas now; settled is true when it had reached them before
// and waited for this report, the previous owner's handoff, which did not
// count it: it counts now.
func merge(e *entry, r *report) (split, settled bool) {
	if r.flags&rfRingChange != 0 {
		e.flags |= efRingChange
	}
	if r.flags&rfHandoff == 0 {
		return addSeer(e, r.seer), false
	}
	e.flags |= efHandedIn
	pending := e.flags&efSplitPending != 0
	e.flags &^= efSplitPending
	if r.flags&rfCounted != 0 {
		e.flags |= efCounted // counted by the previous owner
		return false, false
	}
	return addSeer(e, r.seer), pending
}

// countsNow tells whether a tally that just reached two replicas counts now:
// not while the trace's previous owner may still hand over a tally that
// counted it already (awaiting), unless that handoff has arrived.
func countsNow(e *entry, awaiting bool) bool {
	if awaiting && e.flags&efHandedIn == 0 {
		e.flags |= efSplitPending
		return false
	}
	return true
}

// settle counts a split that waited for a handoff that did not come.
func settle(e *entry) bool {
	if e.flags&efSplitPending == 0 {
		return false
	}
	e.flags &^= efSplitPending
	return true
}

// handoff empties the tally of a trace this replica no longer owns into the
// report for its new owner; ok is false when there is nothing to hand over.
// A split still waiting for its own handoff counts here (countNow), and is
// handed over as counted.
func handoff(e *entry) (r report, ok, countNow bool) {
	if e.seer == 0 && e.flags&efCounted == 0 {
		return r, false, false
	}
	countNow = settle(e)
	r = report{id: e.id, seer: e.seer, flags: rfRingChange | rfHandoff}
	if e.flags&efCounted != 0 {
		r.flags |= rfCounted
	}
	e.seer = 0
	e.flags &^= efCounted | efRingChange | efHandedIn
	if e.flags&efLocal != 0 {
		// The tally handed over names this replica (as its first seer, or
		// in the count): no report of its own is needed.
		e.flags |= efReported
	}
	return r, true, countNow
}
