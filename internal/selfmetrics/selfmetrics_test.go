package selfmetrics

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const scrape = `# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 30
otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 12
# TYPE otelcol_process_memory_rss gauge
otelcol_process_memory_rss 1.5e+08
# TYPE otelcol_processor_tail_sampling_new_trace_id_received counter
otelcol_processor_tail_sampling_new_trace_id_received_total 7
`

func TestSum(t *testing.T) {
	fams, err := Parse(strings.NewReader(scrape))
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		match map[string]string
		want  float64
		ok    bool
	}{
		{"otelcol_receiver_accepted_spans", nil, 42, true},
		{"otelcol_receiver_accepted_spans", map[string]string{"transport": "http"}, 12, true},
		{"otelcol_process_memory_rss", nil, 1.5e8, true},
		{"otelcol_processor_tail_sampling_new_trace_id_received", nil, 7, true},
		{"otelcol_receiver_refused_spans", nil, 0, false},
	} {
		got, ok := Sum(fams, tc.name, tc.match)
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
}
