package distro

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Tier is one tier image of tiers.yaml.
type Tier struct {
	Name string `yaml:"name"`
	// Config is the tier's collector config, relative to the repository.
	Config string `yaml:"config"`
	// Extras are component types, by kind, that the image holds beyond what
	// the config declares: the documented set for customisation.
	Extras map[string][]string `yaml:"extras"`
	// Lean are component types the image holds as their lean variant
	// (LeanVariants: an upstream module with parts removed, derived at build
	// time) instead of the upstream module.
	Lean []string `yaml:"lean"`
}

type tiersFile struct {
	Tiers []Tier `yaml:"tiers"`
}

var tierName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ParseTiers reads tiers.yaml; errors name the field from the file's root.
func ParseTiers(file string, data []byte) ([]Tier, error) {
	var f tiersFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(f.Tiers) == 0 {
		return nil, fmt.Errorf("%s: tiers: no tier", file)
	}
	seen := map[string]bool{}
	for i, t := range f.Tiers {
		at := fmt.Sprintf("%s: tiers[%d]", file, i)
		switch {
		case !tierName.MatchString(t.Name):
			return nil, fmt.Errorf("%s::name: %q is not a tier name (lower case letters, digits, -)", at, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("%s::name: %q twice", at, t.Name)
		case t.Config == "":
			return nil, fmt.Errorf("%s::config: missing", at)
		}
		seen[t.Name] = true
		for kind := range t.Extras {
			if !isKind(kind) {
				return nil, fmt.Errorf("%s::extras::%s: not a component kind (want one of %v)", at, kind, Kinds)
			}
		}
	}
	return f.Tiers, nil
}

func isKind(s string) bool {
	for _, k := range Kinds {
		if k == s {
			return true
		}
	}
	return false
}

// Plan is what a tier image holds.
type Plan struct {
	Tier Tier
	// Modules: kind → the gomods the tier manifest keeps.
	Modules map[string]map[string]bool
	// Types: kind → every component type the tier binary registers.
	Types map[string][]string
	// Lean are the lean variants the tier is built with, in tiers.yaml's order.
	Lean []Lean
}

// PlanTier resolves a tier's config and extras against the registry. file
// names tiers.yaml in errors.
func PlanTier(reg Registry, file string, t Tier, config []byte) (Plan, error) {
	refs, err := Declared(t.Config, config)
	if err != nil {
		return Plan{}, err
	}
	if len(refs) == 0 {
		return Plan{}, fmt.Errorf("%s: declares no component", t.Config)
	}
	for _, kind := range Kinds {
		for i, typ := range t.Extras[kind] {
			refs = append(refs, Ref{Kind: kind, Type: typ, Where: fmt.Sprintf("%s: tiers::%s::extras::%s[%d]", file, t.Name, kind, i)})
		}
	}
	mods, err := reg.Modules(refs)
	if err != nil {
		return Plan{}, err
	}
	if len(mods["receivers"]) == 0 || len(mods["exporters"]) == 0 {
		return Plan{}, errors.New(t.Config + ": a collector needs at least one receiver and one exporter")
	}
	plan := Plan{Tier: t, Modules: mods, Types: reg.Types(mods)}
	for i, typ := range t.Lean {
		at := fmt.Sprintf("%s: tiers::%s::lean[%d]", file, t.Name, i)
		l, err := LeanFor(typ)
		if err != nil {
			return Plan{}, fmt.Errorf("%s: %w", at, err)
		}
		gomod, ok := reg[l.Kind][l.Type]
		if !ok || !mods[l.Kind][gomod] {
			return Plan{}, fmt.Errorf("%s: %q is not in the tier (neither its config nor its extras use it)", at, typ)
		}
		if module, _, _ := strings.Cut(gomod, " "); module != l.Module {
			return Plan{}, fmt.Errorf("%s: %s %q is provided by %s, not by %s (the variant's upstream)", at, strings.TrimSuffix(l.Kind, "s"), typ, module, l.Module)
		}
		for _, prev := range plan.Lean {
			if prev.Type == typ {
				return Plan{}, fmt.Errorf("%s: %q twice", at, typ)
			}
		}
		plan.Lean = append(plan.Lean, l)
	}
	return plan, nil
}
