package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Lab is the rig of one benchmark run: the null sinks, the collectors under
// test and the generator, on loopback addresses of Options.Net.
type Lab struct {
	opts  Options
	dir   string // raw results of this run
	sinks []*collector
	seed  atomic.Uint64
}

// collector is one running collector process.
type collector struct {
	proc     *localtopo.Process
	scenario Scenario
	host     string
	// scratch holds its sending queue: removed when it stops.
	scratch string
}

// Addresses: collectors under test at .10 onwards, null sinks at .21–.23.
func (l *Lab) host(last int) string { return fmt.Sprintf("%s.%d", l.opts.Net, last) }

func (l *Lab) sinkAddr(i int) string { return l.host(21+i) + ":4317" }

func (l *Lab) logf(format string, args ...any) {
	if l.opts.Log != nil {
		fmt.Fprintf(l.opts.Log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

func (l *Lab) pin(cpu int) []string {
	if !l.opts.Pin {
		return nil
	}
	return []string{"taskset", "-c", strconv.Itoa(cpu)}
}

// startSinks starts the three null sinks on the load CPU.
func (l *Lab) startSinks(ctx context.Context) error {
	sink := Scenario{Name: "nullsink", Base: "bench/configs/nullsink.yaml"}
	for i := range 3 {
		c, err := l.start(ctx, sink, fmt.Sprintf("sink-%d", i+1), l.host(21+i), l.opts.LoadCPU, nil)
		if err != nil {
			return err
		}
		l.sinks = append(l.sinks, c)
	}
	return nil
}

// env is what every collector of the rig gets: the shipped configs'
// variables pointed at the rig (the null sinks stand in for the gateways
// and the backend), sampling everything so that every span flows through.
func (l *Lab) env(s Scenario, name, host string) map[string]string {
	sinks := make([]string, 3)
	for i := range sinks {
		sinks[i] = l.sinkAddr(i)
	}
	return map[string]string{
		"POD_IP":              host,
		"LISTEN_HOST":         host, // the sidecar's, localhost in its pod
		"POD_NAME":            name,
		"GOMAXPROCS":          "1",
		"GODEBUG":             gcTraceEnv,
		"BACKEND_ENDPOINT":    l.sinkAddr(0),
		"GATEWAY_ENDPOINT":    l.sinkAddr(0),
		"SAMPLING_PERCENTAGE": "100",
		"FILE_STORAGE_DIR":    filepath.Join(l.scratch(name), "queue"),
		"GATEWAY_SELF":        host + ":4317",
		// The gateway under test is the only member of its ring: it owns
		// every trace, as a gateway fed by agents owns the traces it gets.
		// Agents and sidecars route to the three null sinks.
		"GATEWAY_RESOLVER": l.resolver(s, host, sinks),
		// The gateway's peer token (configs/gateway.yaml requires one).
		localtopo.PeerTokenEnv: "bench-" + name,
	}
}

func (l *Lab) resolver(s Scenario, host string, sinks []string) string {
	if s.Tier == "agent" || s.Tier == "sidecar" {
		return fmt.Sprintf("{static: {hostnames: [%s]}}", strings.Join(sinks, ", "))
	}
	return fmt.Sprintf("{static: {hostnames: [%s:4317]}}", host)
}

// start runs a scenario's collector as name on host, pinned to cpu, with
// extra environment, and waits until it is healthy.
func (l *Lab) start(ctx context.Context, s Scenario, name, host string, cpu int, extra map[string]string) (*collector, error) {
	files, err := s.ConfigFiles(l.opts.Root, l.dir)
	if err != nil {
		return nil, err
	}
	env := l.env(s, name, host)
	goEnv, err := s.GoEnv(l.opts.Root)
	if err != nil {
		return nil, err
	}
	maps.Copy(env, goEnv)
	maps.Copy(env, s.Env)
	maps.Copy(env, extra)
	m := localtopo.Member{
		Name: name, Config: files[0], Overlays: files[1:], Prefix: l.pin(cpu), Host: host, Env: env,
		LogFile: filepath.Join(l.dir, name+".log"),
		Listens: []localtopo.Listen{
			{Purpose: "OTLP/gRPC", Addr: host + ":4317"}, {Purpose: "OTLP/HTTP", Addr: host + ":4318"},
			{Purpose: "self-telemetry", Addr: host + ":8888"}, {Purpose: "health_check", Addr: host + ":13133"},
		},
	}
	if err := localtopo.CheckPortsFree([]localtopo.Member{m}); err != nil {
		return nil, err
	}
	l.logf("start %s (%s) on %s", name, s.Name, host)
	p, err := localtopo.StartProcess(ctx, l.opts.Collector, m)
	if err != nil {
		return nil, err
	}
	return &collector{proc: p, scenario: s, host: host, scratch: l.scratch(name)}, nil
}

func (c *collector) endpoint() string { return c.host + ":4317" }

func (c *collector) usage() (Usage, error) { return readUsage(c.proc.Pid()) }

func (c *collector) metrics() (testbed.Metrics, error) { return testbed.Scrape(c.host + ":8888") }

// collectGarbage runs a full GC in the collector, through its pprof
// extension (a heap profile with gc=1 collects first; Scenario.WithPprof).
func (c *collector) collectGarbage(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.host+":1777/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: collect garbage: %w", c.proc.Member().Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: collect garbage: pprof answered %s", c.proc.Member().Name, resp.Status)
	}
	return nil
}

func (c *collector) stop() {
	c.proc.Stop()
	_ = os.RemoveAll(c.scratch)
}

// kill stops the collector without letting it drain: after an overload its
// backlog would take long to drain, and nothing of it is measured.
func (c *collector) kill() {
	c.proc.Kill()
	_ = os.RemoveAll(c.scratch)
}

// scratch is a collector's directory for its sending queue.
func (l *Lab) scratch(name string) string { return filepath.Join(l.dir, name) }

// nextSeed gives every generator run its own traces: a trace ID seen twice
// would be taken by tail sampling as late spans of a known trace.
func (l *Lab) nextSeed() uint64 {
	return l.seed.Add(1)
}

// generated is one run of bin/loadgen.
type generated struct {
	summary loadgen.Summary
	// cpu the generator process used, from its rusage (setup included).
	cpu float64
}

// generate runs bin/loadgen on the load CPU: rate 0 is max; count 0 runs
// for d.
func (l *Lab) generate(ctx context.Context, endpoint string, rate float64, d time.Duration, count int64) (generated, error) {
	sh := l.opts.Shape
	args := []string{
		"--endpoint", endpoint, "--json", "--seed", strconv.FormatUint(l.nextSeed(), 10),
		"--conns", strconv.Itoa(l.opts.Conns), "--inflight", strconv.Itoa(l.opts.Inflight),
		"--spans-per-trace", strconv.Itoa(sh.SpansPerTrace), "--traces-per-request", strconv.Itoa(sh.TracesPerRequest),
		"--attributes", strconv.Itoa(sh.Attributes), "--attribute-size", strconv.Itoa(sh.AttributeSize),
		"--services", strconv.Itoa(sh.Services),
	}
	if rate > 0 {
		args = append(args, "--rate", strconv.FormatFloat(rate, 'f', 0, 64))
	} else {
		args = append(args, "--rate", "max")
	}
	if count > 0 {
		args = append(args, "--count", strconv.FormatInt(count, 10))
	} else {
		args = append(args, "--duration", d.String())
	}
	argv := append(l.pin(l.opts.LoadCPU), append([]string{l.opts.Loadgen}, args...)...)
	limit := d + time.Minute
	if count > 0 {
		limit = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Exit status 1 with a summary: the collector refused or failed requests,
	// which the summary counts.
	var exit *exec.ExitError
	refused := errors.As(err, &exit) && exit.ExitCode() == 1 && stdout.Len() > 0
	if err != nil && !refused {
		return generated{}, fmt.Errorf("loadgen %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var g generated
	if err := json.Unmarshal(stdout.Bytes(), &g.summary); err != nil {
		return generated{}, fmt.Errorf("loadgen %s: summary: %w\n%s", strings.Join(args, " "), err, stdout.String())
	}
	if ps := cmd.ProcessState; ps != nil {
		g.cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	return g, nil
}

// sinkCPU is the CPU the null sinks have used so far.
func (l *Lab) sinkCPU() float64 {
	var total float64
	for _, s := range l.sinks {
		if u, err := s.usage(); err == nil {
			total += u.CPU
		}
	}
	return total
}

// close stops the sinks.
func (l *Lab) close() {
	for _, s := range l.sinks {
		s.stop()
	}
	l.sinks = nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
