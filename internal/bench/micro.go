package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

// Micro is the run of the repository's Go micro-benchmarks.
type Micro struct {
	// File holds go test's output, the format benchstat compares.
	File string `json:"file"`
	// Summary is benchstat's table of File, when benchstat is installed.
	Summary string `json:"summary,omitempty"`
	Command string `json:"command"`
}

// microBenchmarks runs every Go benchmark of the repository on the collector
// CPU, count times each, and keeps the output for benchstat.
func (l *Lab) microBenchmarks(ctx context.Context, out string) (Micro, error) {
	args := []string{"go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(l.opts.MicroCount), "./..."}
	argv := append(l.pin(l.opts.CollectorCPU), args...)
	res := Micro{File: out, Command: fmt.Sprintf("%v", args)}
	l.logf("Go micro-benchmarks: %v", args)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = l.opts.Root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("go test -bench: %w\n%s%s", err, stdout.String(), stderr.String())
	}
	if err := os.WriteFile(out, stdout.Bytes(), 0o644); err != nil {
		return res, err
	}
	if l.opts.Benchstat != "" {
		b, err := exec.CommandContext(ctx, l.opts.Benchstat, out).Output()
		if err != nil {
			return res, fmt.Errorf("benchstat %s: %w", out, err)
		}
		res.Summary = string(b)
	}
	return res, nil
}
