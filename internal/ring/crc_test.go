package ring

import (
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCRC16MatchesHashCRC32(t *testing.T) {
	for _, id := range randomIDs(5, 10000) {
		require.Equal(t, crc32.ChecksumIEEE(id[:]), crc16(&id))
	}
}
