package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import (
	"encoding/binary"
	"hash/crc32"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
)

// Ring is an immutable consistent-hash ring over a sorted member list. It is
// safe for concurrent use.
type Ring struct {
	gen       Generation
	members   []string
	positions []uint32 // sorted ring positions
	owners    []uint16 // member index of each position
	modulo    uint32
	hash      uint64
}

// New builds the ring of generation gen over members. The members are sorted
// and deduplicated first, as every upstream resolver does.
func New(gen Generation, members []string) *Ring {
	sorted := slices.Clone(members)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	p := gen.params()
	r := &Ring{gen: gen, members: sorted, modulo: p.positions, hash: membersHash(sorted)}
	r.place(p)
	return r
}

type candidate struct {
	pos    uint32
	hash   uint32
	member uint16
}

func (r *Ring) place(p params) {
	candidates := make([]candidate, 0, len(r.members)*p.points)
	suffix := make([]byte, 4)
	for m, member := range r.members {
		for i := range p.points {
			h := crc32.NewIEEE()
			_, _ = h.Write([]byte(member))
			if p.byteSuffix {
				_, _ = h.Write([]byte{byte(i)})
			} else {
				binary.LittleEndian.PutUint32(suffix, uint32(i))
				_, _ = h.Write(suffix)
			}
			sum := h.Sum32()
			candidates = append(candidates, candidate{pos: sum % p.positions, hash: sum, member: uint16(m)})
		}
	}
	if p.globalSort {
		sort.Slice(candidates, func(i, j int) bool {
			a, b := candidates[i], candidates[j]
			if a.pos != b.pos {
				return a.pos < b.pos
			}
			if a.hash != b.hash {
				return a.hash < b.hash
			}
			return a.member < b.member // members are sorted: same order as their strings
		})
	}

	taken := make(map[uint32]bool, len(candidates))
	type item struct {
		pos    uint32
		member uint16
	}
	items := make([]item, 0, len(candidates))
	for _, c := range candidates {
		pos, probed := c.pos, 0
		for taken[pos] && probed < p.probeLimit {
			pos = (pos + 1) % p.positions
			probed++
		}
		// Upstream drops a point after probeLimit probes, even when the last
		// probed position is free: only offsets 0..probeLimit-1 are used.
		if taken[pos] || (p.probeLimit > 0 && probed >= p.probeLimit) {
			continue
		}
		taken[pos] = true
		items = append(items, item{pos: pos, member: c.member})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].pos < items[j].pos })

	r.positions = make([]uint32, len(items))
	r.owners = make([]uint16, len(items))
	for i, it := range items {
		r.positions[i], r.owners[i] = it.pos, it.member
	}
}

// Owner returns the index in Members of the member that owns the trace, or
// -1 when the ring is empty. It does not allocate.
func (r *Ring) Owner(traceID [16]byte) int {
	if len(r.positions) == 0 {
		return -1
	}
	pos := crc16(&traceID) % r.modulo
	// The first point at or after pos, wrapping to the first point.
	lo, hi := 0, len(r.positions)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.positions[mid] < pos {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r.positions) {
		lo = 0
	}
	return int(r.owners[lo])
}

// OwnerName returns the member that owns the trace, or "" on an empty ring.
func (r *Ring) OwnerName(traceID [16]byte) string {
	if i := r.Owner(traceID); i >= 0 {
		return r.members[i]
	}
	return ""
}

// Members returns the sorted member list; the caller must not modify it.
func (r *Ring) Members() []string { return r.members }

// IndexOf returns the index of member in Members, or -1.
func (r *Ring) IndexOf(member string) int {
	i, ok := slices.BinarySearch(r.members, member)
	if !ok {
		return -1
	}
	return i
}

// Generation returns the ring's generation.
func (r *Ring) Generation() Generation { return r.gen }

// Hash identifies the member list: equal on every replica that sees the same
// members, whatever their order. It fits in 53 bits, so that a float64 gauge
// carries it exactly.
func (r *Ring) Hash() uint64 { return r.hash }

func membersHash(sorted []string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strings.Join(sorted, "\n")))
	return h.Sum64() & (1<<53 - 1)
}
