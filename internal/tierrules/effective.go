package tierrules

// ParseEffective parses a running collector's effective configuration (what
// the collector marshals from its components' configs, defaults filled in).
// It differs from a config file in one way that the rules care about: an
// optional section that is off (configoptional None or Default, such as
// stickycheck's `audit` when absent or `enabled: false`) is marshaled as a
// key with no value, while in a file a key with no value turns the section
// on (`audit:`). Those empty sections are dropped before the rules read the
// config, so that the live check and tiercheck agree.
func ParseEffective(raw map[string]any) (*Config, error) {
	c, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	for id, cfg := range c.Processors {
		if !id.Is(TypeStickycheck) {
			continue
		}
		if v, ok := cfg["audit"]; ok && v == nil {
			delete(cfg, "audit")
		}
	}
	return c, nil
}
