package confcheck

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		zeroOK bool
		err    string
	}{
		{30 * time.Second, false, ""},
		{time.Second, false, ""},
		{0, true, ""},
		{0, false, "w: must be positive, got 0s"},
		{30, false, "w: 30ns is below the minimum 1s: the unit is missing (a bare number is nanoseconds), write e.g. 30s"},
		{500 * time.Millisecond, false, "w: 500ms is below the minimum 1s"},
		{-time.Second, true, "w: must not be negative, got -1s"},
	} {
		err := Duration("w", tc.d, time.Second, tc.zeroOK)
		if tc.err == "" {
			assert.NoError(t, err, tc.d)
		} else {
			assert.EqualError(t, err, tc.err, tc.d)
		}
	}
}

func TestPorts(t *testing.T) {
	assert.NoError(t, Port("p", 4317))
	assert.EqualError(t, Port("p", -1), "p: must be a port from 1 to 65535, got -1")
	assert.EqualError(t, Port("p", 65536), "p: must be a port from 1 to 65535, got 65536")
	assert.NoError(t, PortString("p", "", true))
	assert.EqualError(t, PortString("p", "", false), "p: required, a port from 1 to 65535")
	assert.EqualError(t, PortString("p", "abc", true), `p: "abc" is not a port number (1 to 65535)`)
	assert.EqualError(t, PortString("p", "0", true), "p: must be a port from 1 to 65535, got 0")
	assert.NoError(t, PortString("p", "4317", false))
}
