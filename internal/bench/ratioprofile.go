package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profilePair profiles both collectors of a pair for RatioProfile seconds
// in a side-by-side window of its own, which no ratio counts (the profiler
// costs both some CPU), and logs where each one's CPU goes: the cost groups
// of costRules and the top functions. The profiles stay in the raw
// directory for `go tool pprof`.
func (l *Lab) profilePair(ctx context.Context, run ratioRun, both [2]*collector, order [2]int) error {
	secs := l.opts.RatioProfile
	// Enough spans that the load outlasts the profile by a few seconds.
	spans := int64(l.opts.RatioRate * float64(secs+4))
	files := [2]string{}
	var errs [2]error
	var wg sync.WaitGroup
	for i, c := range both {
		files[i] = filepath.Join(l.dir, fmt.Sprintf("ratio-%s-%s-cpu.pprof", run.Name, []string{"config", "baseline"}[i]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Once both generators run.
			time.Sleep(2 * time.Second)
			errs[i] = fetchProfile(ctx, c.host+":1777", secs, files[i])
		}()
	}
	_, err := l.sideBySide(ctx, both, order, l.opts.RatioRate, spans)
	wg.Wait()
	if err := errors.Join(err, errs[0], errs[1]); err != nil {
		return err
	}
	for i, path := range files {
		byCost, flat, _, err := analyzeFile(path)
		if err != nil {
			return err
		}
		l.logf("ratio %s profile of %s (%s): %s", run.Name, run.scenarios[i].Name, path, sharesLine(byCost))
		l.logf("ratio %s profile of %s, top functions: %s", run.Name, run.scenarios[i].Name, sharesLine(flat))
	}
	return nil
}

// analyzeFile is analyze of a profile on disk, its top 15 functions.
func analyzeFile(path string) (byCost, flat, cum []Cost, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	return analyze(f, 15)
}

func sharesLine(cs []Cost) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %.1f %%", c.Name, 100*c.Share)
	}
	return strings.Join(parts, "; ")
}
