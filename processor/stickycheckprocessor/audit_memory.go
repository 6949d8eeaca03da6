package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
)

// Unmarshal reads the audit section, keeping what the decoder would hide
// about max_traces: a fraction (1.5 would be taken as 1) or a number beyond
// an int (1e20 would wrap to a negative). validate reports it.
func (c *AuditConfig) Unmarshal(conf *confmap.Conf) error {
	raw := conf.Get("max_traces")
	if err := conf.Unmarshal(c); err != nil {
		return err
	}
	c.maxTracesErr = nil
	if f, ok := raw.(float64); ok {
		switch {
		case f != math.Trunc(f):
			c.maxTracesErr = fmt.Errorf("audit::max_traces: %v is not a whole number of traces", f)
		case f < 1 || f > maxMaxTraces:
			c.maxTracesErr = fmt.Errorf("audit::max_traces: must be between 1 and %d (%s of table), got %v", maxMaxTraces, formatBytes(tableBytes(maxMaxTraces)), f)
		default:
			c.MaxTraces = int(f)
		}
	}
	if u, ok := raw.(uint64); ok && u > maxMaxTraces {
		c.maxTracesErr = fmt.Errorf("audit::max_traces: must be between 1 and %d, got %d", maxMaxTraces, u)
	}
	return nil
}

// tableBytes is what the audit table of maxTraces traces allocates at start
// (table.BytesFor).
func tableBytes(maxTraces int) int64 {
	return table.BytesFor(maxTraces)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// containerMemoryLimit is the memory limit of the collector's cgroup (the
// container's limit, which memory_limiter's limit_percentage is taken of),
// or 0 when there is none.
func containerMemoryLimit(files []string) int64 {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // cgroup v1 writes ~2^63 for "no limit"
			return 0
		}
		return n
	}
	return 0
}

// maxTableShare is the part of the container's memory limit the audit table
// may take: the rest is for tail sampling's traces, the queues and the heap's
// headroom (memory_limiter refuses data above 80 % by default).
const maxTableShare = 0.25

// checkTableMemory logs what the audit table takes and fails when it would
// take more than maxTableShare of the container's memory limit (limit 0:
// none known).
func checkTableMemory(logger *zap.Logger, maxTraces int, limit int64) error {
	size := tableBytes(maxTraces)
	fields := []zap.Field{zap.Int("max_traces", maxTraces), zap.String("size", formatBytes(size)), zap.Int64("bytes", size)}
	if limit > 0 {
		fields = append(fields, zap.String("container_memory_limit", formatBytes(limit)))
		if float64(size) > maxTableShare*float64(limit) {
			return fmt.Errorf("audit::max_traces: %d traces take %s, more than %.0f %% of the container's memory limit %s (cgroup); lower max_traces (new traces a second × window) or raise the limit",
				maxTraces, formatBytes(size), maxTableShare*100, formatBytes(limit))
		}
	}
	logger.Info("stickycheck audit table allocated once at start", fields...)
	return nil
}
