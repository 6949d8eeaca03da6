// Package tally is the audit's counting rules on one table entry: the owner
// of a trace counts the distinct replicas that hold spans of it and counts
// the trace as split once. Pure functions of a table entry and a report.
package tally // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/tally"

import (
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// The tally: the owner of a trace (under its view of the ring) counts the
// distinct replicas that hold spans of it, itself included, and counts the
// trace as split once, when the second one becomes known. Only the first is
// remembered (table.Entry.Seer): the second distinct one is the count, and after
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
	// Local: this replica received spans of the trace.
	Local uint32 = 1 << iota
	// Reported: the owner knows that this replica holds spans (a report is
	// queued, or this replica's own tally was handed to the new owner).
	Reported
	// Counted: the split was counted, here or by a previous owner.
	Counted
	// RingChange: a report sent because of a ring change reached the tally.
	RingChange
	// HandedIn: the previous owner's handoff reached the tally.
	HandedIn
	// SplitPending: split (Counted is set) but not counted yet: waiting
	// for the previous owner's handoff.
	SplitPending
)

// Cause is the attribute of traces_split.
type Cause int

// The causes of a split.
const (
	// Misrouted: a replica got spans of a trace it did not own under a
	// stable ring.
	Misrouted Cause = iota
	// CausedByRingChange: the trace straddled a change of the member list.
	CausedByRingChange
	// NumCauses is the number of causes.
	NumCauses
)

func (c Cause) String() string { return [...]string{"misrouted", "ring_change"}[c] }

// CauseOf is the cause a split of the trace counts under.
func CauseOf(e *table.Entry) Cause {
	if e.Flags&RingChange != 0 {
		return CausedByRingChange
	}
	return Misrouted
}

// AddSeer adds replica s to the tally; it returns true when s is the second
// distinct replica, which is when the trace counts as split, once.
func AddSeer(e *table.Entry, s uint64) bool {
	switch {
	case e.Flags&Counted != 0 || e.Seer == s:
		return false
	case e.Seer == 0:
		e.Seer = s
		return false
	}
	e.Flags |= Counted
	return true
}

// Merge applies a report to the owner's tally. split is true when the tally
// reaches two replicas now; settled is true when it had reached them before
// and waited for this report, the previous owner's handoff, which did not
// count it: it counts now.
func Merge(e *table.Entry, r *wire.Report) (split, settled bool) {
	if r.Flags&wire.RingChange != 0 {
		e.Flags |= RingChange
	}
	if r.Flags&wire.Handoff == 0 {
		return AddSeer(e, r.Seer), false
	}
	e.Flags |= HandedIn
	pending := e.Flags&SplitPending != 0
	e.Flags &^= SplitPending
	if r.Flags&wire.Counted != 0 {
		e.Flags |= Counted // counted by the previous owner
		return false, false
	}
	return AddSeer(e, r.Seer), pending
}

// CountsNow tells whether a tally that just reached two replicas counts now:
// not while the trace's previous owner may still hand over a tally that
// counted it already (awaiting), unless that Handoff has arrived.
func CountsNow(e *table.Entry, awaiting bool) bool {
	if awaiting && e.Flags&HandedIn == 0 {
		e.Flags |= SplitPending
		return false
	}
	return true
}

// Settle counts a split that waited for a Handoff that did not come.
func Settle(e *table.Entry) bool {
	if e.Flags&SplitPending == 0 {
		return false
	}
	e.Flags &^= SplitPending
	return true
}

// Handoff empties the tally of a trace this replica no longer owns into the
// report for its new owner; ok is false when there is nothing to hand over.
// A split still waiting for its own Handoff counts here (countNow), and is
// handed over as counted.
func Handoff(e *table.Entry) (r wire.Report, ok, countNow bool) {
	if e.Seer == 0 && e.Flags&Counted == 0 {
		return r, false, false
	}
	countNow = Settle(e)
	r = wire.Report{ID: e.ID, Seer: e.Seer, Flags: wire.RingChange | wire.Handoff}
	if e.Flags&Counted != 0 {
		r.Flags |= wire.Counted
	}
	e.Seer = 0
	e.Flags &^= Counted | RingChange | HandedIn
	if e.Flags&Local != 0 {
		// The tally handed over names this replica (as its first seer, or
		// in the count): no report of its own is needed.
		e.Flags |= Reported
	}
	return r, true, countNow
}
