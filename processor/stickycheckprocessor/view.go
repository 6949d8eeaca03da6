package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// view is the ring as this replica sees it at one moment. It never changes
// once published: a member list change publishes a new one.
type view struct {
	ring      *ring.Ring
	self      int // index of self in the ring's members, -1 when absent
	changedAt time.Time
	first     bool          // the first list resolved: no agent can be behind it
	grace     time.Duration // Config.Grace
	// gen counts the member lists; prev is the view before this one (without
	// its own prev), which the audit needs while it moves to this one.
	gen  uint64
	prev *view
	// byID maps each member's replica ID (wire.ReplicaID) to its index:
	// the audit's tallies name replicas by ID.
	byID map[uint64]int
}

// newView is the view of ring r for this replica, self.
func newView(r *ring.Ring, self string, changedAt time.Time, grace time.Duration) *view {
	v := &view{ring: r, self: r.IndexOf(self), changedAt: changedAt, grace: grace, byID: map[uint64]int{}}
	for i, m := range r.Members() {
		v.byID[wire.ReplicaID(m)] = i
	}
	return v
}

// holderName is the member string of replica id, a member of v or, within
// grace of v's change, of the view before (a replica that just left the
// ring may be draining: it still takes the spans of the traces it holds);
// false when neither lists it, or it is this replica.
func (v *view) holderName(id uint64, now time.Time) (string, bool) {
	if i, ok := v.byID[id]; ok {
		return v.ring.Members()[i], i != v.self
	}
	if v.prev != nil && v.inGrace(now) {
		if i, ok := v.prev.byID[id]; ok && i != v.prev.self {
			return v.prev.ring.Members()[i], true
		}
	}
	return "", false
}

// owner is the index of trace id's owner, -1 when the ring is empty.
func (v *view) owner(id [16]byte) int { return v.ring.Owner(id) }

// isSelf tells whether owner, an index into v's members, is this replica.
func (v *view) isSelf(owner int) bool { return owner >= 0 && owner == v.self }

// owns tells whether this replica owns trace id.
func (v *view) owns(id [16]byte) bool { return v.isSelf(v.owner(id)) }

// inGrace tells whether misroutes under v are blamed on its change.
func (v *view) inGrace(now time.Time) bool {
	return !v.first && now.Sub(v.changedAt) < v.grace
}

// prevOwner is the index, among the previous view's members, of trace id's
// owner under the ring before v; -1 when there was none. For a replica's
// first list the ring before is the one without it (it may be joining).
func (v *view) prevOwner(id [16]byte) int {
	if v.prev == nil {
		return -1
	}
	return v.prev.owner(id)
}

// ownedBefore tells whether this replica owned trace id under the view
// before v.
func (v *view) ownedBefore(id [16]byte) bool {
	return v.prev != nil && v.prev.isSelf(v.prevOwner(id))
}

// movedHere tells whether, within grace of v's change, trace id was owned
// by another replica under the ring before v: a split of it must wait for
// that replica's handoff.
func (v *view) movedHere(id [16]byte, now time.Time) bool {
	if !v.inGrace(now) {
		return false
	}
	owner := v.prevOwner(id)
	return owner >= 0 && owner != v.prev.self
}
