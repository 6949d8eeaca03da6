package tierrules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// In a file `audit:` turns the audit on; in an effective configuration the
// same empty key is an audit that is off.
func TestEffectiveConfigReadsAnEmptyAuditAsOff(t *testing.T) {
	raw := func() map[string]any {
		return map[string]any{
			"processors": map[string]any{"stickycheck": map[string]any{"self": "127.0.0.1:4317", "audit": nil}},
			"service": map[string]any{"pipelines": map[string]any{"traces": map[string]any{
				"receivers": []any{"otlp"}, "processors": []any{"stickycheck"}, "exporters": []any{"otlp_grpc"},
			}}},
		}
	}
	file, err := Parse(raw())
	require.NoError(t, err)
	_, on := stickycheckAudit(file.Processors["stickycheck"])
	assert.True(t, on, "a file's empty audit key turns the audit on")

	eff, err := ParseEffective(raw())
	require.NoError(t, err)
	_, on = stickycheckAudit(eff.Processors["stickycheck"])
	assert.False(t, on, "an effective config's empty audit is an audit that is off")
}

// An effective configuration holds the components' own types: the rules read
// memory_limiter's limit_mib (a uint32) as a file's int.
func TestIntOfReadsTheComponentsOwnIntegerTypes(t *testing.T) {
	for _, v := range []any{int(256), int32(256), uint32(256), int64(256), uint64(256), uint16(256), float32(256), float64(256), "256"} {
		n, ok := intOf(v)
		assert.True(t, ok, "%T", v)
		assert.EqualValues(t, 256, n, "%T", v)
	}
	_, ok := intOf(true)
	assert.False(t, ok)
}
