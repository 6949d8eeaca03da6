// Package tierrules checks a collector configuration against the rules of the
// tier it plays (agent, gateway or sidecar). The rules are pure functions over
// a parsed configuration: the topology extension runs them on the collector's
// effective configuration, cmd/tiercheck on a file.
package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"sort"
	"strings"
)

// ComponentID is a component's id as written in the configuration: "type" or
// "type/name".
type ComponentID string

// Type is the id's type as written (possibly a deprecated alias).
func (id ComponentID) Type() string {
	t, _, _ := strings.Cut(string(id), "/")
	return t
}

// Is reports whether the component is of the canonical type t, under its
// current name or a deprecated alias.
func (id ComponentID) Is(t string) bool { return CanonicalType(id.Type()) == t }

// Pipeline is one pipeline of service::pipelines.
type Pipeline struct {
	ID         string        `json:"id"`
	Receivers  []ComponentID `json:"receivers"`
	Processors []ComponentID `json:"processors"`
	Exporters  []ComponentID `json:"exporters"`
}

// Signal is the pipeline's signal: traces, metrics, logs or profiles.
func (p Pipeline) Signal() string {
	s, _, _ := strings.Cut(p.ID, "/")
	return s
}

// Config is the part of a collector configuration the rules read: the
// components' configuration maps by kind and id, the pipelines and the
// extensions the service runs.
type Config struct {
	Receivers  map[ComponentID]map[string]any
	Processors map[ComponentID]map[string]any
	Exporters  map[ComponentID]map[string]any
	Connectors map[ComponentID]map[string]any
	Extensions map[ComponentID]map[string]any
	// ServiceExtensions are the extensions listed in service::extensions, the
	// only ones the collector runs.
	ServiceExtensions []ComponentID
	// Pipelines, sorted by id.
	Pipelines []Pipeline
	// Telemetry is service::telemetry.
	Telemetry map[string]any
}

// Parse reads a configuration as a string map (confmap.Conf.ToStringMap, or a
// YAML document decoded into map[string]any).
func Parse(raw map[string]any) (*Config, error) {
	c := &Config{}
	var err error
	for _, k := range []struct {
		key string
		dst *map[ComponentID]map[string]any
	}{
		{"receivers", &c.Receivers}, {"processors", &c.Processors}, {"exporters", &c.Exporters},
		{"connectors", &c.Connectors}, {"extensions", &c.Extensions},
	} {
		if *k.dst, err = parseComponents(k.key, raw[k.key]); err != nil {
			return nil, err
		}
	}
	service, ok := asMap(raw["service"])
	if !ok && raw["service"] != nil {
		return nil, fmt.Errorf("service: want a map, got %T", raw["service"])
	}
	if c.ServiceExtensions, err = parseIDs("service::extensions", service["extensions"]); err != nil {
		return nil, err
	}
	c.Telemetry, _ = asMap(service["telemetry"])
	pipelines, ok := asMap(service["pipelines"])
	if !ok && service["pipelines"] != nil {
		return nil, fmt.Errorf("service::pipelines: want a map, got %T", service["pipelines"])
	}
	for id, v := range pipelines {
		pm, ok := asMap(v)
		if !ok && v != nil {
			return nil, fmt.Errorf("service::pipelines::%s: want a map, got %T", id, v)
		}
		p := Pipeline{ID: id}
		prefix := "service::pipelines::" + id + "::"
		if p.Receivers, err = parseIDs(prefix+"receivers", pm["receivers"]); err != nil {
			return nil, err
		}
		if p.Processors, err = parseIDs(prefix+"processors", pm["processors"]); err != nil {
			return nil, err
		}
		if p.Exporters, err = parseIDs(prefix+"exporters", pm["exporters"]); err != nil {
			return nil, err
		}
		c.Pipelines = append(c.Pipelines, p)
	}
	sort.Slice(c.Pipelines, func(i, j int) bool { return c.Pipelines[i].ID < c.Pipelines[j].ID })
	return c, nil
}

// Runs reports whether the service runs the extension of canonical type t.
func (c *Config) Runs(t string) bool {
	for _, id := range c.ServiceExtensions {
		if id.Is(t) {
			return true
		}
	}
	return false
}

// Role is the role the configuration's topology extension declares ("" when
// the service runs none).
func (c *Config) Role() string {
	for _, id := range c.ServiceExtensions {
		if id.Is(TypeTopology) {
			role, _ := c.Extensions[id]["role"].(string)
			return role
		}
	}
	return ""
}

// Uses reports whether any pipeline uses a receiver, processor or exporter
// of canonical type t.
func (c *Config) Uses(t string) bool {
	for _, p := range c.Pipelines {
		for _, ids := range [][]ComponentID{p.Receivers, p.Processors, p.Exporters} {
			for _, id := range ids {
				if id.Is(t) {
					return true
				}
			}
		}
	}
	return false
}

func parseComponents(key string, v any) (map[ComponentID]map[string]any, error) {
	out := map[ComponentID]map[string]any{}
	if v == nil {
		return out, nil
	}
	m, ok := asMap(v)
	if !ok {
		return nil, fmt.Errorf("%s: want a map, got %T", key, v)
	}
	for id, cfg := range m {
		cm, ok := asMap(cfg)
		if !ok && cfg != nil {
			return nil, fmt.Errorf("%s::%s: want a map, got %T", key, id, cfg)
		}
		if cm == nil {
			cm = map[string]any{}
		}
		out[ComponentID(id)] = cm
	}
	return out, nil
}

func parseIDs(key string, v any) ([]ComponentID, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list of component ids, got %T", key, v)
	}
	ids := make([]ComponentID, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: want a component id, got %T", key, i, e)
		}
		ids = append(ids, ComponentID(s))
	}
	return ids, nil
}
