package compose

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

func TestZZProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	s := startStack(t, 3, map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "3s", "STICKYCHECK_GRACE": "5s"})
	l := startLoad(t, s.agentOTLP(), 99, 10, 100*time.Millisecond, 10, 8000)
	stop := make(chan struct{})
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(done)
		prev := ""
		for {
			select {
			case <-stop:
				return
			default:
			}
			var b strings.Builder
			m, err := testbed.Scrape(s.containers("agent")[0].Published[portMetrics])
			if err == nil {
				fmt.Fprintf(&b, "agent=%v ", m.Sum(metricLBBackends, nil))
			}
			for _, gw := range s.containers("gateway") {
				m, err := testbed.Scrape(gw.Published[portMetrics])
				if err != nil {
					fmt.Fprintf(&b, "%d=down ", gw.Number)
					continue
				}
				fmt.Fprintf(&b, "%d=%v/%v ", gw.Number, m.Sum(metricRingMembers, nil), m.Sum(metricMisrouted, nil))
			}
			if b.String() != prev {
				t.Logf("+%.2fs %s", time.Since(t0).Seconds(), b.String())
				prev = b.String()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(3 * time.Second)
	t.Logf("+%.2fs scale 4", time.Since(t0).Seconds())
	s.scale(4)
	t.Logf("+%.2fs scaled 4", time.Since(t0).Seconds())
	time.Sleep(8 * time.Second)
	t.Logf("+%.2fs scale 3", time.Since(t0).Seconds())
	s.scale(3)
	t.Logf("+%.2fs scaled 3", time.Since(t0).Seconds())
	time.Sleep(8 * time.Second)
	l.stop()
	close(stop)
	<-done
	rep := waitSink(t, s.sinkFile, l.sent(), 15*time.Second, 60*time.Second)
	t.Logf("sent %d, missing %d traces, split %d dup %d", len(l.sent()), len(rep.missing), rep.split, rep.duplicates)
	for _, c := range []string{"agent"} {
		out := testbed.Logs(t.Context(), s.containers(c)[0].ID)
		lines := strings.Split(out, "\n")
		for _, ln := range lines {
			if strings.Contains(ln, "warn") || strings.Contains(ln, "error") {
				if !strings.Contains(ln, "kubelet") {
					t.Log(ln[:min(len(ln), 400)])
				}
			}
		}
	}
}
