package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one configuration of the collector under test, derived from a
// shipped tier config: the shipped file, static overlays from bench/configs
// and list edits applied to the shipped file's lists (the collector replaces
// a list by a later file's, so such changes are generated from the shipped
// list instead of copied).
type Scenario struct {
	// Name is the configuration's short name, used in tables and files.
	Name string
	// Title says what is measured, for the tables.
	Title string
	// Tier is agent, gateway or sidecar for the topology figures ("" for the
	// null pipeline).
	Tier string
	// Base is the shipped config (relative to the repository root).
	Base     string
	Overlays []string
	Edits    []ListEdit
	// Sinks is how many null sinks it sends to.
	Sinks int
	// Hold is how long it holds data before sending it on (tail sampling's
	// decision_wait): the warm-up waits that long more.
	Hold time.Duration
	// Env is added to the rig's environment; MaxEnv too for the search of
	// the highest rate.
	Env, MaxEnv map[string]string
	// GoEnvFrom is the shipped workload (relative to the repository root)
	// whose Go runtime settings (GOGC, GOMEMLIMIT) the collector gets, as it
	// does in its pod: the bench measures what the manifests ship.
	GoEnvFrom string
}

// ListEdit changes one list of the base config: removes and appends items.
type ListEdit struct {
	Path   []string
	Remove []string
	Add    []string
}

// decisionWait is the shipped gateway's default (configs/gateway.yaml).
const decisionWait = 10 * time.Second

// gatewayMaxEnv lifts the cap tail sampling's num_traces puts on a gateway's
// rate (num_traces ÷ decision_wait traces/s: the shipped 100,000 ÷ 10 s =
// 10,000 traces/s) so that the highest rate found is the CPU's.
var gatewayMaxEnv = map[string]string{"NUM_TRACES": "1000000"}

// ShippedTraceCap is the traces/s the shipped gateway config holds at most.
const ShippedTraceCap = 100_000 / 10

var tracesProcessors = []string{"service", "pipelines", "traces", "processors"}

// The shipped workloads whose Go runtime settings each tier's collector gets.
const (
	gatewayWorkload = "deploy/k8s/tiers/gateway/statefulset.yaml"
	agentWorkload   = "deploy/k8s/tiers/agent/daemonset.yaml"
	sidecarWorkload = "deploy/k8s/tiers/sidecar/pod.yaml"
)

// Scenarios are the configurations of the table, the null pipeline first.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "null", Title: "null pipeline: otlp → batch → otlp_grpc", Base: "bench/configs/null.yaml", Sinks: 1},
		{Name: "sidecar", Title: "sidecar → load_balancing to 3 null gateways (configs/sidecar.yaml)", Tier: "sidecar", Base: "configs/sidecar.yaml", Sinks: 3, GoEnvFrom: sidecarWorkload},
		{Name: "agent", Title: "agent → load_balancing to 3 null gateways (configs/agent.yaml)", Tier: "agent", Base: "configs/agent.yaml", Sinks: 3, GoEnvFrom: agentWorkload},
		{Name: "gateway-nostickycheck", Title: "gateway without stickycheck", Tier: "gateway", Base: "configs/gateway.yaml",
			Edits: []ListEdit{{Path: tracesProcessors, Remove: []string{"stickycheck"}}}, Sinks: 1, Hold: decisionWait, MaxEnv: gatewayMaxEnv, GoEnvFrom: gatewayWorkload},
		{Name: "gateway-stickycheck", Title: "gateway with stickycheck, audit off", Tier: "gateway", Base: "configs/gateway.yaml", Sinks: 1,
			Hold: decisionWait, Env: map[string]string{"STICKYCHECK_AUDIT": "false"}, MaxEnv: gatewayMaxEnv, GoEnvFrom: gatewayWorkload},
		{Name: "gateway", Title: "gateway with stickycheck and split-trace audit (configs/gateway.yaml)", Tier: "gateway", Base: "configs/gateway.yaml", Sinks: 1,
			Hold: decisionWait, MaxEnv: gatewayMaxEnv, GoEnvFrom: gatewayWorkload},
		{Name: "gateway-sampled", Title: "gateway as shipped, sampling 1 %", Tier: "gateway", Base: "configs/gateway.yaml", Sinks: 1,
			Hold: decisionWait, Env: map[string]string{"SAMPLING_PERCENTAGE": "1"}, MaxEnv: gatewayMaxEnv, GoEnvFrom: gatewayWorkload},
	}
}

// RatioScenarios are the configurations only the ratios measure: the
// seed's gateway, what a user writes from the seed document, at 100 % and
// at 1 %, and the shipped gateway with the Go runtime's defaults.
func RatioScenarios() []Scenario {
	return []Scenario{
		{Name: "seed-gateway", Title: "the seed's gateway (bench/configs/seed-gateway.yaml)", Base: "bench/configs/seed-gateway.yaml", Sinks: 1, Hold: decisionWait},
		{Name: "seed-gateway-sampled", Title: "the seed's gateway, sampling 1 %", Base: "bench/configs/seed-gateway.yaml", Sinks: 1, Hold: decisionWait,
			Env: map[string]string{"SAMPLING_PERCENTAGE": "1"}},
		{Name: "gateway-default-gc", Title: "the shipped gateway with GOGC and GOMEMLIMIT unset", Base: "configs/gateway.yaml", Sinks: 1, Hold: decisionWait},
		{Name: "gateway-forward", Title: "the shipped gateway with stickycheck's forwarding on", Base: "configs/gateway.yaml", Sinks: 1, Hold: decisionWait,
			Env: map[string]string{"STICKYCHECK_FORWARD": "true"}, GoEnvFrom: gatewayWorkload},
	}
}

// AllScenarios are Scenarios and RatioScenarios.
func AllScenarios() []Scenario { return append(Scenarios(), RatioScenarios()...) }

// ScenarioByName finds a scenario of AllScenarios.
func ScenarioByName(name string) (Scenario, bool) {
	for _, s := range AllScenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// WithPprof returns the scenario with the pprof extension enabled.
func (s Scenario) WithPprof() Scenario {
	s.Name += "-pprof"
	s.Overlays = append(slices.Clone(s.Overlays), "bench/configs/pprof.yaml")
	s.Edits = append(slices.Clone(s.Edits), ListEdit{Path: []string{"service", "extensions"}, Add: []string{"pprof"}})
	return s
}

// withGCTrigger returns the scenario, same name, with the pprof extension
// enabled: the ratios collect a collector's garbage before each window
// through it (collector.collectGarbage). An extension nobody calls costs
// nothing in the window.
func (s Scenario) withGCTrigger() Scenario {
	name := s.Name
	s = s.WithPprof()
	s.Name = name
	return s
}

// ConfigFiles returns the --config files of the scenario, in order: the base,
// the static overlays and, when there are edits, an overlay generated into
// dir from the base's lists.
func (s Scenario) ConfigFiles(root, dir string) ([]string, error) {
	files := []string{filepath.Join(root, s.Base)}
	for _, o := range s.Overlays {
		if !filepath.IsAbs(o) { // a file of your own (bench -compare-overlay)
			o = filepath.Join(root, o)
		}
		files = append(files, o)
	}
	if len(s.Edits) == 0 {
		return files, nil
	}
	overlay, err := s.editOverlay(filepath.Join(root, s.Base))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, s.Name+".overlay.yaml")
	if err := os.WriteFile(path, overlay, 0o644); err != nil {
		return nil, err
	}
	return append(files, path), nil
}

// editOverlay reads each edited list from the base config and writes the
// changed list as an overlay document.
func (s Scenario) editOverlay(base string) ([]byte, error) {
	raw, err := os.ReadFile(base)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	out := map[string]any{}
	for _, e := range s.Edits {
		list, err := listAt(doc, e.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", base, err)
		}
		for _, r := range e.Remove {
			i := slices.Index(list, r)
			if i < 0 {
				return nil, fmt.Errorf("%s: %s has no %q to remove (it holds %v): scenario %s is stale", base, strings.Join(e.Path, "::"), r, list, s.Name)
			}
			list = slices.Delete(list, i, i+1)
		}
		list = append(list, e.Add...)
		setAt(out, e.Path, list)
	}
	header := fmt.Sprintf("# Generated by the benchmark from %s for configuration %s.\n", filepath.Base(base), s.Name)
	body, err := yaml.Marshal(out)
	return append([]byte(header), body...), err
}

func listAt(doc map[string]any, path []string) ([]string, error) {
	var cur any = doc
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not a map above %q", strings.Join(path, "::"), key)
		}
		if cur, ok = m[key]; !ok {
			return nil, fmt.Errorf("%s: no %q", strings.Join(path, "::"), key)
		}
	}
	items, ok := cur.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a list", strings.Join(path, "::"))
	}
	list := make([]string, len(items))
	for i, it := range items {
		list[i] = fmt.Sprint(it)
	}
	return list, nil
}

func setAt(doc map[string]any, path []string, v any) {
	for _, key := range path[:len(path)-1] {
		next, ok := doc[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[key] = next
		}
		doc = next
	}
	doc[path[len(path)-1]] = v
}

// goEnvNames are the Go runtime's settings a scenario takes from its
// workload.
var goEnvNames = []string{"GOGC", "GOMEMLIMIT"}

// GoEnv returns the Go runtime settings of the scenario's shipped workload
// (none without GoEnvFrom): the literal values of GOGC and GOMEMLIMIT of
// its first container (of a Pod, its first init container: our sidecar).
func (s Scenario) GoEnv(root string) (map[string]string, error) {
	out := map[string]string{}
	if s.GoEnvFrom == "" {
		return out, nil
	}
	path := filepath.Join(root, s.GoEnvFrom)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w struct {
		Spec struct {
			Containers     []container `yaml:"containers"` // a Pod
			InitContainers []container `yaml:"initContainers"`
			Template       struct {
				Spec struct {
					Containers []container `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cs := w.Spec.Template.Spec.Containers
	if len(cs) == 0 {
		// A Pod: the sidecar is a native sidecar, an init container.
		cs = append(w.Spec.InitContainers, w.Spec.Containers...)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s: no container", path)
	}
	for _, e := range cs[0].Env {
		if slices.Contains(goEnvNames, e.Name) {
			out[e.Name] = e.Value
		}
	}
	return out, nil
}

type container struct {
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
}
