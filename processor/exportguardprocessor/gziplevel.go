package exportguardprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor"

import (
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
)

// gzipLevel is the level set on gRPC's gzip compressor, and by whom. gRPC
// registers one gzip compressor per process and its SetLevel is meant for
// initialisation only: it is called while the pipelines are built, before
// any exporter starts (exporters start before processors, and nothing is
// compressed before the receivers start, last), and at most once per
// level — a second exportguard asking for another level is an error.
var gzipLevel struct {
	sync.Mutex
	level int
	by    component.ID
}

// setGzipLevel sets gRPC's gzip level for id; level 0 leaves it alone.
func setGzipLevel(id component.ID, level int) error {
	if level == 0 {
		return nil
	}
	gzipLevel.Lock()
	defer gzipLevel.Unlock()
	switch gzipLevel.level {
	case level:
		return nil
	case 0:
	default:
		return fmt.Errorf("gzip_level: %d, but %s set %d: gRPC has one gzip compressor per process, so every exportguard must ask for the same level", level, gzipLevel.by, gzipLevel.level)
	}
	if err := grpcgzip.SetLevel(level); err != nil {
		return fmt.Errorf("gzip_level: %w", err)
	}
	gzipLevel.level, gzipLevel.by = level, id
	return nil
}
