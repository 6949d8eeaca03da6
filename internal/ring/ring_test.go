package ring

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func traceID(t testing.TB, s string) [16]byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	var id [16]byte
	copy(id[:], b)
	return id
}

// Vectors of the current ring, from ../shared/notes/loadbalancing-ring.md; the
// proof is the agreement test against the upstream exporter itself.
func TestCurrentRingVectors(t *testing.T) {
	r := New(Current, []string{"10.0.0.3:4317", "10.0.0.1:4317", "10.0.0.2:4317"})
	for id, owner := range map[string]string{
		"0102030405060708090a0b0c0d0e0f10": "10.0.0.2:4317",
		"4bf92f3577b34da6a3ce929d0e0e4736": "10.0.0.3:4317",
		"00000000000000000000000000000001": "10.0.0.2:4317",
		"ffffffffffffffffffffffffffffffff": "10.0.0.2:4317",
		"5b8efff798038103d269b633813fc60c": "10.0.0.1:4317",
	} {
		assert.Equal(t, owner, r.OwnerName(traceID(t, id)), id)
	}
}

func TestRingSortsAndDeduplicatesMembers(t *testing.T) {
	a := New(Current, []string{"b:1", "a:1", "b:1"})
	b := New(Current, []string{"a:1", "b:1"})
	assert.Equal(t, []string{"a:1", "b:1"}, a.Members())
	assert.Equal(t, a.Hash(), b.Hash())
	assert.Equal(t, 1, a.IndexOf("b:1"))
	assert.Equal(t, -1, a.IndexOf("c:1"))
	assert.NotEqual(t, a.Hash(), New(Current, []string{"a:1"}).Hash())
	assert.Less(t, a.Hash(), uint64(1)<<53)
}

func TestEmptyRingOwnsNothing(t *testing.T) {
	r := New(Current, nil)
	assert.Equal(t, -1, r.Owner([16]byte{1}))
	assert.Empty(t, r.OwnerName([16]byte{1}))
}

func TestGenerationsDisagreeOnMostTraces(t *testing.T) {
	members := []string{"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"}
	cur, old := New(Current, members), New(V0130, members)
	differ := 0
	const n = 30000
	for i := range n {
		var id [16]byte
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		id[15] = 0x5a
		if cur.Owner(id) != old.Owner(id) {
			differ++
		}
	}
	// Two unrelated rings over three members agree on about a third.
	assert.InDelta(t, 2.0/3, float64(differ)/n, 0.05)
}

func TestParseGeneration(t *testing.T) {
	g, err := ParseGeneration("")
	require.NoError(t, err)
	assert.Equal(t, Current, g)
	g, err = ParseGeneration("v0.129")
	require.NoError(t, err)
	assert.Equal(t, V0129, g)
	_, err = ParseGeneration("v1")
	assert.EqualError(t, err, `unknown ring generation "v1", want one of v0.157, v0.130, v0.129`)
}
