package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Cost is a share of the CPU profile.
type Cost struct {
	Name  string  `json:"name"`
	Share float64 `json:"share"`
}

// Profile is the CPU profile of the gateway at its highest sustained rate.
type Profile struct {
	Rate    float64 `json:"rate"`
	Seconds int     `json:"seconds"`
	// File is the raw profile (go tool pprof reads it with the binary).
	File string `json:"file"`
	// ByCost groups the samples by what the code does; Flat and Cum are the
	// top functions.
	ByCost []Cost  `json:"by_cost"`
	Flat   []Cost  `json:"flat"`
	Cum    []Cost  `json:"cum"`
	Window *Window `json:"window,omitempty"`
}

// costRules name what a sample's stack is doing; the first rule matching
// any frame of the stack wins, so that e.g. the allocations of decoding count
// as decoding and the persistent queue's encoding as the queue.
var costRules = []struct {
	name  string
	match func(fn string) bool
}{
	{"GC: background marking and sweeping", funcIn("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge")},
	{"GC: assists by allocating goroutines", funcIn("runtime.gcAssistAlloc")},
	{"persistent sending queue (file_storage, bbolt)", contains("go.etcd.io/bbolt", "filestorage", "persistentQueue")},
	{"OTLP protobuf decoding (receiver)", func(fn string) bool {
		return strings.Contains(fn, "collector/pdata") && strings.Contains(fn, "Unmarshal")
	}},
	{"OTLP protobuf encoding (exporter)", func(fn string) bool {
		return strings.Contains(fn, "collector/pdata") && (strings.Contains(fn, "Marshal") || strings.Contains(fn, "SizeProto"))
	}},
	{"gzip compression (exporter to the backend)", contains("compress/flate", "compress/gzip")},
	{"tail_sampling", contains("tailsamplingprocessor")},
	{"stickycheck", contains("stickycheckprocessor")},
	{"exportguard", contains("exportguardprocessor")},
	{"storageguard", contains("storageguardextension")},
	{"topology extension", contains("topologyextension")},
	{"batch", contains("batchprocessor")},
	{"memory_limiter", contains("memorylimiter")},
	{"load_balancing exporter", contains("loadbalancingexporter")},
	{"resource processor", contains("resourceprocessor")},
	{"system calls (network, disk)", contains("syscall.", "internal/poll.")},
	{"gRPC and HTTP/2 transport", contains("google.golang.org/grpc", "golang.org/x/net/http2")},
	{"otlp receiver", contains("otlpreceiver")},
	{"exporter helper and otlp exporter", contains("exporterhelper", "otlpexporter")},
	{"Go runtime: scheduler, timers, allocation", func(fn string) bool { return strings.HasPrefix(fn, "runtime.") }},
}

func funcIn(names ...string) func(string) bool {
	return func(fn string) bool {
		for _, n := range names {
			if fn == n {
				return true
			}
		}
		return false
	}
}

func contains(parts ...string) func(string) bool {
	return func(fn string) bool {
		for _, p := range parts {
			if strings.Contains(fn, p) {
				return true
			}
		}
		return false
	}
}

// fetchProfile takes a CPU profile of seconds from a pprof extension.
func fetchProfile(ctx context.Context, addr string, seconds int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", addr, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// analyze groups a CPU profile's samples by cost and lists the top functions.
func analyze(r io.Reader, top int) (byCost, flat, cum []Cost, err error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, nil, nil, err
	}
	idx := len(p.SampleType) - 1 // cpu nanoseconds
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	costs, flats, cums := map[string]float64{}, map[string]float64{}, map[string]float64{}
	var total float64
	for _, s := range p.Sample {
		v := float64(s.Value[idx])
		total += v
		var fns []string
		for _, loc := range s.Location {
			for i := len(loc.Line) - 1; i >= 0; i-- { // inlined frames first
				if loc.Line[i].Function != nil {
					fns = append(fns, loc.Line[i].Function.Name)
				}
			}
		}
		if len(fns) > 0 {
			flats[fns[0]] += v
		}
		seen := map[string]bool{}
		for _, fn := range fns {
			if !seen[fn] {
				seen[fn] = true
				cums[fn] += v
			}
		}
		costs[classify(fns)] += v
	}
	if total == 0 {
		return nil, nil, nil, fmt.Errorf("the profile holds no samples")
	}
	return shares(costs, total, 0), shares(flats, total, top), shares(cums, total, top), nil
}

func classify(stack []string) string {
	for _, rule := range costRules {
		for _, fn := range stack {
			if rule.match(fn) {
				return rule.name
			}
		}
	}
	return "other"
}

func shares(m map[string]float64, total float64, top int) []Cost {
	out := make([]Cost, 0, len(m))
	for k, v := range m {
		out = append(out, Cost{Name: k, Share: v / total})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Share != out[j].Share {
			return out[i].Share > out[j].Share
		}
		return out[i].Name < out[j].Name
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}

// profileGateway profiles the shipped gateway (pprof added) while the
// generator holds rate.
func (l *Lab) profileGateway(ctx context.Context, rate float64) (Profile, error) {
	s, _ := ScenarioByName("gateway")
	s = s.WithPprof()
	res := Profile{Rate: rate, Seconds: l.opts.ProfileSeconds, File: filepath.Join(l.dir, "gateway-cpu.pprof")}
	// As in the search for the highest rate: num_traces lifted.
	c, err := l.start(ctx, s, "profile-gateway", l.host(15), l.opts.CollectorCPU, s.MaxEnv)
	if err != nil {
		return res, err
	}
	defer c.stop()
	if err := l.warm(ctx, c, rate); err != nil {
		return res, err
	}
	errc := make(chan error, 1)
	go func() {
		time.Sleep(2 * time.Second)
		errc <- fetchProfile(ctx, c.host+":1777", l.opts.ProfileSeconds, res.File)
	}()
	w, err := l.window(ctx, c, rate, time.Duration(l.opts.ProfileSeconds+4)*time.Second)
	if err != nil {
		return res, err
	}
	res.Window = &w
	if err := <-errc; err != nil {
		return res, err
	}
	res.ByCost, res.Flat, res.Cum, err = analyzeFile(res.File)
	return res, err
}
