package loadgen

import "encoding/binary"

// TraceID is the ID of the trace with index n of a run with this seed. For a
// given seed, distinct indices give distinct IDs (the high half is a
// bijection of n), and no ID is all zeros in practice.
func TraceID(seed, n uint64) [16]byte {
	hi := mix64(seed + n*0x9e3779b97f4a7c15)
	lo := mix64(hi ^ mix64(seed^0xd1b54a32d192ed03))
	if hi == 0 && lo == 0 {
		lo = 1
	}
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// mix64 is splitmix64's finalizer: a bijection on uint64 that spreads bits.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
