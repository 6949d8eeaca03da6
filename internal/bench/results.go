package bench

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Results are everything one run measured, written as results.json.
type Results struct {
	Started time.Time `json:"started"`
	Minutes float64   `json:"minutes"`
	Machine Machine   `json:"machine"`
	Rig     Rig       `json:"rig"`
	Rows    []Row     `json:"rows"`
	Ratios  *Ratios   `json:"ratios,omitempty"`
	Memory  *Memory   `json:"memory,omitempty"`
	Profile *Profile  `json:"profile,omitempty"`
	Micro   *Micro    `json:"micro,omitempty"`
	// Notes are warnings about the run's validity.
	Notes []string `json:"notes,omitempty"`
}

// Machine is where the run was measured.
type Machine struct {
	CPUModel string `json:"cpu_model"`
	CPUs     int    `json:"cpus"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Commit   string `json:"commit"`
	// Load averages before and after the run: other work on the machine.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

// Rig is how the run was set up.
type Rig struct {
	CollectorCPU  int     `json:"collector_cpu"`
	LoadCPU       int     `json:"load_cpu"`
	Pinned        bool    `json:"pinned"`
	Duration      float64 `json:"window_seconds"`
	Warmup        float64 `json:"warmup_seconds"`
	Probe         float64 `json:"probe_seconds"`
	FixedRate     float64 `json:"fixed_rate"`
	SpansPerReq   int     `json:"spans_per_request"`
	SpansPerTrace int     `json:"spans_per_trace"`
	Attributes    int     `json:"attributes"`
	AttributeSize int     `json:"attribute_size"`
	RequestBytes  int     `json:"request_bytes"`
	Conns         int     `json:"conns"`
	Inflight      int     `json:"inflight"`
}

func machine(ctx context.Context, root string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if b, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(b))
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Row returns the named row, if measured.
func (r *Results) Row(name string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Name == name && r.Rows[i].Measured {
			return &r.Rows[i]
		}
	}
	return nil
}

// relate fills each row's ratios to the null pipeline and its sizing figures.
func (r *Results) relate() {
	null := r.Row("null")
	for i := range r.Rows {
		row := &r.Rows[i]
		if !row.Measured {
			continue
		}
		if w := row.Max; w.OK && w.Cores > 0 {
			// Credit the collector with the share of its core that other
			// processes took, not with time its core was idle.
			row.PerCore = w.Rate * min(1, w.Cores+w.Others+w.Steal) / w.Cores
		}
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		if !row.Measured {
			continue
		}
		if null != nil {
			row.MaxVsNull = ratio(row.PerCore, null.PerCore)
			row.CPUVsNull = ratio(row.Fixed.CPUPerMillion, null.Fixed.CPUPerMillion)
			row.RSSVsNull = ratio(float64(row.Fixed.RSS), float64(null.Fixed.RSS))
		}
		row.Sizing = Sizing{
			CoresPer10k:        ratio(10_000, row.PerCore),
			CoresPer10kAtFixed: row.Fixed.CPUPerMillion / 100,
			BaseMemoryMiB:      float64(row.IdleRSS) / mib,
		}
		if row.Fixed.Rate > 0 {
			row.Sizing.MemoryPer10kMiB = max(0, float64(row.Fixed.RSS-row.IdleRSS)/mib/(row.Fixed.Rate/10_000))
		}
	}
}
