package bench

import (
	"context"
	"slices"
)

// CostRatio is the CPU per span of a configuration over its baseline's,
// measured in alternation in one run.
type CostRatio struct {
	Name     string    `json:"name"`
	Baseline string    `json:"baseline"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	PerRep   []float64 `json:"per_rep"`
	// Target is the most the ratio may be (1.03: 3 % more CPU per span).
	Target float64 `json:"target"`
}

// Ratios is the alternating measurement of our components' cost.
type Ratios struct {
	Rate    float64 `json:"rate"`
	Seconds float64 `json:"seconds_per_window"`
	Reps    int     `json:"reps"`
	// Windows per configuration, in the order taken.
	Windows map[string][]Window `json:"windows"`
	Ratios  []CostRatio         `json:"ratios"`
}

const costTarget = 1.03

// costPairs are the ratios taken: each component's configuration over the
// same without it.
var costPairs = []struct{ name, baseline string }{
	{"gateway-stickycheck", "gateway-nostickycheck"}, // stickycheck's check
	{"gateway", "gateway-stickycheck"},               // the split-trace audit
}

// costRatios runs the gateway without stickycheck, with it, and with the
// audit side by side on the collector CPU, loading one at a time, in an
// order that alternates every repetition, and takes for each repetition
// the ratios of CPU per span of costPairs.
func (l *Lab) costRatios(ctx context.Context) (Ratios, error) {
	names := []string{"gateway-nostickycheck", "gateway-stickycheck", "gateway"}
	res := Ratios{Rate: l.opts.FixedRate, Seconds: l.opts.RatioDuration.Seconds(), Reps: l.opts.Reps, Windows: map[string][]Window{}}
	var running []*collector
	defer func() {
		for _, c := range running {
			c.stop()
		}
	}()
	for i, n := range names {
		s, _ := ScenarioByName(n)
		c, err := l.start(ctx, s, "ratio-"+n, l.host(10+i), l.opts.CollectorCPU, nil)
		if err != nil {
			return res, err
		}
		running = append(running, c)
	}
	for rep := range l.opts.Reps {
		order := slices.Clone(running)
		if rep%2 == 1 {
			slices.Reverse(order)
		}
		cpu := map[string]float64{}
		for _, c := range order {
			if err := l.warm(ctx, c, l.opts.FixedRate); err != nil {
				return res, err
			}
			w, err := l.window(ctx, c, l.opts.FixedRate, l.opts.RatioDuration)
			if err != nil {
				return res, err
			}
			res.Windows[c.scenario.Name] = append(res.Windows[c.scenario.Name], w)
			cpu[c.scenario.Name] = w.CPUPerMillion
			l.logf("ratios rep %d/%d %s: %s", rep+1, l.opts.Reps, c.scenario.Name, describe(w))
		}
		for _, p := range costPairs {
			res.add(p.name, p.baseline, cpu[p.name]/cpu[p.baseline])
		}
	}
	for i := range res.Ratios {
		r := &res.Ratios[i]
		if len(r.PerRep) > 0 {
			r.Median, r.Min, r.Max = median(r.PerRep), slices.Min(r.PerRep), slices.Max(r.PerRep)
		}
	}
	return res, nil
}

func (r *Ratios) add(name, baseline string, v float64) {
	for i := range r.Ratios {
		if r.Ratios[i].Name == name {
			r.Ratios[i].PerRep = append(r.Ratios[i].PerRep, v)
			return
		}
	}
	r.Ratios = append(r.Ratios, CostRatio{Name: name, Baseline: baseline, Target: costTarget, PerRep: []float64{v}})
}

// Quietest is the ratio of the configurations' lowest CPU per span over the
// repetitions: interference (GC pacing, other processes) only ever adds CPU,
// so each configuration's quietest window is its cost with the least of it.
func (r *Ratios) Quietest(name, baseline string) (float64, bool) {
	lowest := func(n string) float64 {
		v := 0.0
		for i, w := range r.Windows[n] {
			if i == 0 || w.CPUPerMillion < v {
				v = w.CPUPerMillion
			}
		}
		return v
	}
	a, b := lowest(name), lowest(baseline)
	if a <= 0 || b <= 0 {
		return 0, false
	}
	return a / b, true
}
