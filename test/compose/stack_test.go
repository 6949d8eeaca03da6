package compose

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Ports inside the containers.
const (
	portOTLP     = 4317
	portMetrics  = 8888
	portHealth   = 13133
	portTopology = 13134
)

// Metric names read by the tests.
const (
	metricChecked     = "otelcol_processor_stickycheck_spans_checked"
	metricMisrouted   = "otelcol_processor_stickycheck_spans_misrouted"
	metricRingMembers = "otelcol_processor_stickycheck_ring_members"
	metricTracesSplit = "otelcol_processor_stickycheck_traces_split"
	metricLBBackends  = "otelcol_loadbalancer_num_backends"
)

// image is the collector image under test.
func image(t *testing.T) string {
	t.Helper()
	img := os.Getenv("OTELCOL_TIERED_IMAGE")
	if img == "" {
		img = "otelcol-tiered:latest"
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", img).CombinedOutput()
	require.NoErrorf(t, err, "image %s not found (run `make image`; make test builds it): %s", img, out)
	return img
}

// requireDocker skips the test when no Docker engine answers: the only
// reason a test of this package may skip.
func requireDocker(t *testing.T) {
	t.Helper()
	if err := testbed.DockerAvailable(context.Background()); err != nil {
		t.Skipf("no Docker engine answers: %v", err)
	}
}

// uniqueName returns "otelcol-tiered-test-<what>-<random>".
func uniqueName(what string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "otelcol-tiered-test-" + what + "-" + hex.EncodeToString(b)
}

// stack is the compose topology of deploy/compose started for one test.
type stack struct {
	t        *testing.T
	compose  *testbed.Compose
	sinkFile string

	mu sync.Mutex
	// last value seen of a counter per container, so that sums survive
	// the removal of a scaled-in replica.
	last map[string]map[string]float64
}

// startStack brings the compose topology up with env added to the compose
// file's variables, waits until every gateway and the agent see gateways
// replicas, and removes everything when the test ends, passed or not.
func startStack(t *testing.T, gateways int, env map[string]string) *stack {
	t.Helper()
	sinkDir := t.TempDir()
	// The collector runs as user 10001 and writes the sink's file here.
	require.NoError(t, os.Chmod(sinkDir, 0o777))
	vars := map[string]string{
		"OTELCOL_TIERED_IMAGE": image(t),
		"SINK_DIR":             sinkDir,
		// Published at free ports: nothing else on the machine is disturbed.
		"AGENT_OTLP_GRPC_PORT": "",
		"AGENT_OTLP_HTTP_PORT": "",
		// The gateways' shared peer token (make compose-up's build/peer-token).
		"STICKYCHECK_PEER_TOKEN": uniqueName("peer-token"),
	}
	// A subnet of its own (readydns has a fixed address in it), so that a
	// stack another checkout left running does not collide with this one.
	sub := 100 + mrand.IntN(150)
	vars["TIERED_SUBNET"] = fmt.Sprintf("10.213.%d.0/24", sub)
	vars["TIERED_READYDNS_IP"] = fmt.Sprintf("10.213.%d.250", sub)
	for k, v := range env {
		vars[k] = v
	}
	ctx := context.Background()
	c, err := testbed.NewCompose(ctx, uniqueName("compose"), filepath.Join(testbed.RepoRoot(), "deploy", "compose", "docker-compose.yaml"), vars)
	require.NoError(t, err)
	s := &stack{t: t, compose: c, sinkFile: filepath.Join(sinkDir, "sink.jsonl"), last: map[string]map[string]float64{}}
	t.Cleanup(s.down)
	// `go test -timeout` ends the process without cleanups: remove the
	// project a minute before, should the test still be running then.
	if deadline, ok := t.Deadline(); ok {
		watchdog := time.AfterFunc(time.Until(deadline)-time.Minute, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
			defer cancel()
			_ = c.Down(ctx)
		})
		t.Cleanup(func() { watchdog.Stop() })
	}
	t.Logf("compose project %s (%s)", c.Project, c.Tool())

	upCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	_, err = c.Run(upCtx, "up", "-d", "--scale", fmt.Sprintf("gateway=%d", gateways))
	require.NoError(t, err)
	s.waitReady(gateways, 90*time.Second)
	return s
}

// down removes the project and checks that nothing of it is left.
func (s *stack) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if s.t.Failed() {
		s.dumpLogs(ctx)
	}
	if err := s.compose.Down(ctx); err != nil {
		s.t.Errorf("compose down: %v", err)
	}
	left, err := s.compose.Leftovers(ctx)
	if err != nil {
		s.t.Errorf("listing leftovers: %v", err)
	}
	if len(left) > 0 {
		s.t.Errorf("left behind by compose down: %v", left)
	}
}

func (s *stack) dumpLogs(ctx context.Context) {
	for _, svc := range []string{"agent", "gateway", "sink"} {
		ctrs, err := s.compose.Containers(ctx, svc, true)
		if err != nil {
			continue
		}
		for _, c := range ctrs {
			// Warnings and errors only, without the agent's kubelet scrapes
			// (there is no kubelet in compose).
			var lines []string
			for _, ln := range strings.Split(testbed.Logs(ctx, c.ID), "\n") {
				if (strings.Contains(ln, "\twarn\t") || strings.Contains(ln, "\terror\t") || strings.HasPrefix(ln, "Error")) &&
					!strings.Contains(ln, "kubelet") {
					lines = append(lines, ln)
				}
			}
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			s.t.Logf("--- %s: last warnings and errors ---\n%s", c.Name, strings.Join(lines, "\n"))
		}
	}
}

// containers lists the running containers of a service.
func (s *stack) containers(service string) []testbed.Container {
	s.t.Helper()
	ctrs, err := s.compose.Containers(context.Background(), service, false)
	require.NoError(s.t, err)
	return ctrs
}

func (s *stack) agentOTLP() string {
	s.t.Helper()
	agents := s.containers("agent")
	require.Len(s.t, agents, 1)
	return agents[0].Published[portOTLP]
}

// healthy reports whether a container's health_check answers 200.
func healthy(c testbed.Container) bool {
	addr, ok := c.Published[portHealth]
	if !ok {
		return false
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady waits until the sink, the agent and exactly n gateways are
// healthy, every gateway's stickycheck ring has n members and the agent's
// load-balancing exporter n backends.
func (s *stack) waitReady(n int, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for time.Now().Before(deadline) {
		why = s.notReady(n)
		if why == "" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatalf("topology with %d gateways not ready after %s: %s", n, timeout, why)
}

func (s *stack) notReady(n int) string {
	var all []testbed.Container
	for _, svc := range []string{"sink", "agent", "gateway"} {
		ctrs, err := s.compose.Containers(context.Background(), svc, false)
		if err != nil {
			return err.Error()
		}
		all = append(all, ctrs...)
		if svc == "gateway" && len(ctrs) != n {
			return fmt.Sprintf("%d gateways running", len(ctrs))
		}
	}
	for _, c := range all {
		if !healthy(c) {
			return c.Name + " not healthy"
		}
	}
	for _, gw := range s.containers("gateway") {
		m, err := testbed.Scrape(gw.Published[portMetrics])
		if err != nil {
			return err.Error()
		}
		if got := m.Sum(metricRingMembers, nil); int(got) != n {
			return fmt.Sprintf("%s sees %v ring members", gw.Name, got)
		}
	}
	m, err := testbed.Scrape(s.containers("agent")[0].Published[portMetrics])
	if err != nil {
		return err.Error()
	}
	if got := m.Sum(metricLBBackends, nil); int(got) != n {
		return fmt.Sprintf("agent has %v load-balancing backends", got)
	}
	return ""
}

// scale sets the number of gateway replicas with `up --scale` (on scale-in,
// compose stops the surplus replicas with the service's stop_grace_period).
func (s *stack) scale(n int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := s.compose.Run(ctx, "up", "-d", "--no-recreate", "--scale", fmt.Sprintf("gateway=%d", n))
	require.NoError(s.t, err)
}

// gatewayCounters scrapes every running gateway and returns, for each
// series key given, the value summed over all gateways ever seen (a
// replica removed keeps its last value; one that does not answer, too).
func (s *stack) gatewayCounters(series map[string]seriesKey) map[string]float64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Called from the sampler's goroutine too: no require here.
	gateways, _ := s.compose.Containers(context.Background(), "gateway", false)
	for _, gw := range gateways {
		m, err := testbed.Scrape(gw.Published[portMetrics])
		if err != nil {
			continue // stopping or not yet up: its last values stay
		}
		vals := s.last[gw.ID]
		if vals == nil {
			vals = map[string]float64{}
			s.last[gw.ID] = vals
		}
		for name, k := range series {
			vals[name] = m.Sum(k.metric, k.labels)
		}
	}
	sum := map[string]float64{}
	for _, vals := range s.last {
		for name := range series {
			sum[name] += vals[name]
		}
	}
	return sum
}

type seriesKey struct {
	metric string
	labels map[string]string
}
