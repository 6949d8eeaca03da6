package storageguardextension

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// The bbolt file of a queue that fills to its byte bound, half drains and
// fills again, 40 times, with requests of 1 to 2,000 spans (the shipped
// queue's shape: byte-bounded batches) takes at most
// tierrules.QueueVolumeFactor × queue_size on disk: the factor tiercheck's
// persistent-queue-exceeds-volume sizes a volume with. Measured: 1.20 after
// the first fill, 1.53-1.67 after refills (it stops growing after ~5).
func TestQueueFileStaysWithinTheVolumeFactor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fsFactory := filestorage.NewFactory()
	fsCfg := fsFactory.CreateDefaultConfig().(*filestorage.Config)
	fsCfg.Directory = dir
	fsID := component.MustNewID("file_storage")
	fs, err := fsFactory.Create(ctx, extensiontest.NewNopSettings(fsFactory.Type()), fsCfg)
	require.NoError(t, err)
	require.NoError(t, fs.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, fs.Shutdown(ctx)) }()

	const capacity = 32 << 20
	qcfg := exporterhelper.NewDefaultQueueConfig()
	require.NoError(t, qcfg.Sizer.UnmarshalText([]byte("bytes")))
	qcfg.QueueSize = capacity
	qcfg.StorageID = &fsID
	bcfg := exporterhelper.BatchConfig{FlushTimeout: 20 * time.Millisecond, MinSize: 256 << 10, MaxSize: 1 << 20}
	require.NoError(t, bcfg.Sizer.UnmarshalText([]byte("bytes")))
	qcfg.Batch = configoptional.Some(bcfg)
	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval, retry.MaxInterval, retry.MaxElapsedTime = 10*time.Millisecond, 20*time.Millisecond, 0
	be := &backend{spans: map[uint64]int{}}
	set := exportertest.NewNopSettings(component.MustNewType("otlp_grpc"))
	exp, err := exporterhelper.NewTraces(ctx, set, &struct{}{}, be.push,
		exporterhelper.WithQueue(configoptional.Some(qcfg)), exporterhelper.WithRetry(retry))
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, host{map[component.ID]component.Component{fsID: fs}}))
	defer func() { require.NoError(t, exp.Shutdown(ctx)) }()

	rng := rand.New(rand.NewPCG(1, 2))
	var n uint64
	var largest int64
	fill := func() {
		for refused := 0; refused < 20; n++ {
			if exp.ConsumeTraces(ctx, sized(n, 1+rng.IntN(2000))) != nil {
				refused++
			}
		}
		st, err := os.Stat(filepath.Join(dir, "exporter_otlp_grpc_"+set.ID.Name()+"_traces"))
		require.NoError(t, err)
		// What the file takes on the volume (bbolt grows it sparsely ahead).
		used := st.Sys().(*syscall.Stat_t).Blocks * 512
		largest = max(largest, used)
	}
	fill()
	for range 40 {
		be.setUp()
		time.Sleep(30 * time.Millisecond)
		be.mu.Lock()
		be.up = false
		be.mu.Unlock()
		fill()
	}
	ratio := float64(largest) / capacity
	t.Logf("queue_size %d B: largest bbolt file %d B, %.2f × queue_size", capacity, largest, ratio)
	assert.LessOrEqual(t, ratio, tierrules.QueueVolumeFactor)
}

// sized is request n with spans spans.
func sized(n uint64, spans int) ptrace.Traces {
	td := request(n)
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for ss.Len() < spans {
		ss.At(0).CopyTo(ss.AppendEmpty())
	}
	for ss.Len() > spans {
		ss.RemoveIf(func(ptrace.Span) bool { return ss.Len() > spans })
	}
	return td
}
