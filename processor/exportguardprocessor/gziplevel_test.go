package exportguardprocessor

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"google.golang.org/grpc/encoding"
	grpcgzip "google.golang.org/grpc/encoding/gzip"

	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadata"
)

// compressWith is what a gzip writer at level makes of p.
func compressWith(t *testing.T, level int, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	require.NoError(t, err)
	_, err = w.Write(p)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// compressGRPC is what gRPC's registered gzip compressor makes of p.
func compressGRPC(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := encoding.GetCompressor(grpcgzip.Name).Compress(&b)
	require.NoError(t, err)
	_, err = w.Write(p)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// gzip_level reaches gRPC's compressor, the one the OTLP/gRPC exporter
// uses, when the processor is built; a second exportguard asking for
// another level is refused, naming the first.
func TestGzipLevelSetsGRPCsCompressor(t *testing.T) {
	p := bytes.Repeat([]byte("span name, attribute key, attribute value; "), 4000)
	require.NotEqual(t, compressWith(t, gzip.BestSpeed, p), compressWith(t, gzip.DefaultCompression, p), "the levels differ on this input")
	t.Cleanup(func() {
		require.NoError(t, grpcgzip.SetLevel(gzip.DefaultCompression))
		gzipLevel.level = 0
	})

	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.GzipLevel = gzip.BestSpeed
	set := processortest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "traces")
	_, err := f.CreateTraces(t.Context(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.Equal(t, compressWith(t, gzip.BestSpeed, p), compressGRPC(t, p), "gRPC's gzip compressor at level 1")

	set.ID = component.NewIDWithName(metadata.Type, "logs")
	_, err = f.CreateLogs(t.Context(), set, cfg, consumertest.NewNop())
	require.NoError(t, err, "the same level again is fine")

	other := *cfg
	other.GzipLevel = gzip.BestCompression
	set.ID = component.NewIDWithName(metadata.Type, "metrics")
	_, err = f.CreateMetrics(t.Context(), set, &other, consumertest.NewNop())
	require.ErrorContains(t, err, "gzip_level: 9, but exportguard/traces set 1")
}

func TestGzipLevelOutOfRangeNamesTheField(t *testing.T) {
	for _, level := range []int{-1, 10} {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.GzipLevel = level
		assert.ErrorContains(t, cfg.Validate(), "gzip_level: ", "level %d", level)
	}
}
