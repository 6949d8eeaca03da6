package tierrules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shipped gateway's stop, step by step, read from the file (defaults as
// the file leaves them).
func TestStopBudgetOfTheShippedGateway(t *testing.T) {
	c, _ := load(t, repoPath("configs", "gateway.yaml"))
	b := c.Stop(10 * time.Second)
	var sources []string
	for _, s := range b.Steps {
		sources = append(sources, s.Source)
	}
	want := []string{"preStop", "tail_sampling::decision_wait", "batch::timeout", "exportguard::drain::timeout", "exporter timeout"}
	if forwardOn(c) { // forwarding is opt-in (STICKYCHECK_FORWARD)
		want = append(want[:1], append([]string{"stickycheck::forward::drain"}, want[1:]...)...)
	}
	assert.Equal(t, want, sources)
	assert.Equal(t, b.Total(), sumOf(b))
	t.Logf("gateway stop budget: %s", b)
}

// forwardOn tells whether a stickycheck of c forwards (and so drains).
func forwardOn(c *Config) bool {
	for _, u := range c.used(TypeStickycheck) {
		fwd, ok := asMap(c.Processors[u.id]["forward"])
		if !ok {
			continue
		}
		if on, ok := boolOf(fwd["enabled"]); !ok || on {
			return true
		}
	}
	return false
}

func sumOf(b StopBudget) time.Duration {
	var d time.Duration
	for _, s := range b.Steps {
		d += s.Max
	}
	return d
}

// Each step is read from its setting, and a step that is not configured
// adds nothing.
func TestStopBudgetReadsEachStep(t *testing.T) {
	c, err := Parse(map[string]any{
		"processors": map[string]any{
			"stickycheck":   map[string]any{"forward": map[string]any{"enabled": true, "drain": "7s"}},
			"tail_sampling": map[string]any{"decision_wait": "3s"},
			"batch":         map[string]any{"timeout": "1s"},
			"exportguard":   map[string]any{"drain": map[string]any{"exporter": "otlp_grpc", "timeout": "11s"}},
		},
		"exporters": map[string]any{"otlp_grpc": map[string]any{"timeout": "2s", "sending_queue": map[string]any{"batch": map[string]any{"flush_timeout": "500ms"}}}},
		"service": map[string]any{"pipelines": map[string]any{"traces": map[string]any{
			"receivers": []any{"otlp"}, "processors": []any{"stickycheck", "tail_sampling", "batch", "exportguard"}, "exporters": []any{"otlp_grpc"},
		}}},
	})
	require.NoError(t, err)
	b := c.Stop(4 * time.Second)
	assert.Equal(t, "preStop 4s + stickycheck::forward::drain 7s + tail_sampling::decision_wait 3s + batch::timeout 1s + exportguard::drain::timeout 11s + exporter timeout 2.5s = 28.5s", b.String())

	off, err := Parse(map[string]any{
		"processors": map[string]any{"stickycheck": map[string]any{"forward": map[string]any{"enabled": false, "drain": "7s"}}},
		"exporters":  map[string]any{"debug": map[string]any{}},
		"service": map[string]any{"pipelines": map[string]any{"traces": map[string]any{
			"receivers": []any{"otlp"}, "processors": []any{"stickycheck"}, "exporters": []any{"debug"},
		}}},
	})
	require.NoError(t, err)
	assert.Empty(t, off.Stop(0).Steps, "forward off, no preStop, a local exporter: nothing to wait for")
}
