// Package distro derives the tier distributions from the one ocb manifest
// (builder-config.yaml): a tier's manifest keeps the manifest's entries for
// the components its config declares, plus the extras tiers.yaml lists for
// customisation, and nothing else.
//
// Which module provides a component type is not written anywhere by hand: it
// is what the all-in-one binary registers (`otelcol-tiered components`), so a
// tier manifest cannot name a module the distribution does not build.
package distro // import "github.com/otelcol-tiered/otelcol-tiered/internal/distro"

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kinds are the component kinds, spelled as both a collector config and an
// ocb manifest spell their top-level keys.
var Kinds = []string{"receivers", "processors", "exporters", "connectors", "extensions"}

// Registry maps kind → component type → the gomod ("module version") that
// provides it, as a binary's `components` command reports them.
type Registry map[string]map[string]string

// ParseComponents reads the output of `otelcol-tiered components`.
func ParseComponents(data []byte) (Registry, error) {
	var out map[string]any
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("components: %w", err)
	}
	reg := Registry{}
	for _, kind := range Kinds {
		reg[kind] = map[string]string{}
		list, _ := out[kind].([]any)
		for i, item := range list {
			c, _ := item.(map[string]any)
			name, _ := c["name"].(string)
			module, _ := c["module"].(string)
			if name == "" || module == "" {
				return nil, fmt.Errorf("components: %s[%d]: want name and module", kind, i)
			}
			reg[kind][name] = module
		}
	}
	if len(reg["receivers"]) == 0 || len(reg["exporters"]) == 0 {
		return nil, errors.New("components: no receivers or no exporters: not the output of `otelcol-tiered components`")
	}
	return reg, nil
}

// Ref is one component a tier needs.
type Ref struct {
	Kind, Type string
	// Where is the field that asks for it, from the root of its file, for
	// errors (e.g. "configs/sidecar.yaml: exporters::otlp_grpc/gateway").
	Where string
}

// Declared returns the components a collector config declares, sorted. The
// collector rejects a config that declares a type it does not know, used in
// a pipeline or not, so every declared type is needed.
func Declared(file string, config []byte) ([]Ref, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var refs []Ref
	for _, kind := range Kinds {
		section, ok := cfg[kind]
		if !ok || section == nil {
			continue
		}
		m, ok := section.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s: want a map of component IDs", file, kind)
		}
		for id := range m {
			typ, _, _ := strings.Cut(id, "/")
			refs = append(refs, Ref{Kind: kind, Type: typ, Where: file + ": " + kind + "::" + id})
		}
	}
	sortRefs(refs)
	return refs, nil
}

func sortRefs(refs []Ref) {
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Kind != refs[j].Kind {
			return refs[i].Kind < refs[j].Kind
		}
		return refs[i].Where < refs[j].Where
	})
}

// Modules resolves refs to the gomods that provide them: kind → gomod set.
// Every ref the registry does not know is an error, naming where it was asked.
func (r Registry) Modules(refs []Ref) (map[string]map[string]bool, error) {
	mods := map[string]map[string]bool{}
	var bad []string
	for _, ref := range refs {
		gomod, ok := r[ref.Kind][ref.Type]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: %s type %q is not in the distribution (builder-config.yaml)", ref.Where, strings.TrimSuffix(ref.Kind, "s"), ref.Type))
			continue
		}
		if mods[ref.Kind] == nil {
			mods[ref.Kind] = map[string]bool{}
		}
		mods[ref.Kind][gomod] = true
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "\n"))
	}
	return mods, nil
}

// Types lists, by kind, every type the registry provides from the given
// modules: what a binary built from them registers.
func (r Registry) Types(mods map[string]map[string]bool) map[string][]string {
	out := map[string][]string{}
	for _, kind := range Kinds {
		for typ, gomod := range r[kind] {
			if mods[kind][gomod] {
				out[kind] = append(out[kind], typ)
			}
		}
		sort.Strings(out[kind])
	}
	return out
}
