package distro

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Manifest is an ocb manifest (builder-config.yaml rendered with its
// versions), kept as a YAML document so that its comments pass on to the
// tier manifests.
type Manifest struct {
	root *yaml.Node // the document's top-level mapping
}

// ParseManifest reads an ocb manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("manifest: want a YAML mapping")
	}
	m := &Manifest{root: doc.Content[0]}
	if value(m.root, "dist") == nil {
		return nil, errors.New("manifest: dist: missing")
	}
	for _, key := range []string{"name", "output_path", "module"} {
		if v := value(value(m.root, "dist"), key); v == nil || v.Value == "" {
			return nil, fmt.Errorf("manifest: dist::%s: missing", key)
		}
	}
	return m, nil
}

// Tier renders the manifest of one tier: dist's name, module and output path
// suffixed with "-<tier>", and of each kind only the entries whose gomod is
// in mods[kind]. Everything else (providers, replaces, build tags, versions)
// is the manifest's own, but for the lean variants: each adds a `replaces`
// entry pointing the upstream module at its derived copy. header becomes the
// document's first comment.
func (m *Manifest) Tier(tier, header string, mods map[string]map[string]bool, lean []Lean) ([]byte, error) {
	var clone yaml.Node
	raw, err := yaml.Marshal(m.root)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(raw, &clone); err != nil {
		return nil, err
	}
	root := clone.Content[0]
	dist := value(root, "dist")
	for _, key := range []string{"name", "output_path", "module"} {
		v := value(dist, key)
		v.Value += "-" + tier
	}
	if d := value(dist, "description"); d != nil {
		d.Value += " (" + tier + " tier)"
	}
	for _, kind := range Kinds {
		list := value(root, kind)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		var keep []*yaml.Node
		for i, entry := range list.Content {
			gomod := value(entry, "gomod")
			if gomod == nil {
				return nil, fmt.Errorf("manifest: %s[%d]: gomod: missing", kind, i)
			}
			// An entry of one package of a module (import:) is kept for
			// its own types once RefineLocal told them apart.
			imp := value(entry, "import")
			if mods[kind][gomod.Value] || (imp != nil && mods[kind][gomod.Value+" "+imp.Value]) {
				keep = append(keep, entry)
			}
		}
		list.Content = keep
		if len(keep) == 0 {
			// ocb wants no empty list; an absent kind is an empty one.
			removeKey(root, kind)
		}
	}
	if len(lean) > 0 {
		replaces := value(root, "replaces")
		if replaces == nil {
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "replaces"}, &yaml.Node{Kind: yaml.SequenceNode})
			replaces = root.Content[len(root.Content)-1]
		}
		for _, l := range lean {
			replaces.Content = append(replaces.Content, &yaml.Node{
				Kind: yaml.ScalarNode, Value: l.LeanReplace(),
				HeadComment: fmt.Sprintf("The lean %s (tiers.yaml: lean): upstream's module without %s,\nderived into build/lean by `make lean` (internal/distro).",
					l.Type, strings.Join(l.Remove, ", ")),
			})
		}
	}
	root.HeadComment = header
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// value returns the value of key in a mapping node, or nil.
func value(mapping *yaml.Node, key string) *yaml.Node {
	if mapping == nil || mapping.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i+1]
		}
	}
	return nil
}

func removeKey(mapping *yaml.Node, key string) {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			mapping.Content = append(mapping.Content[:i], mapping.Content[i+2:]...)
			return
		}
	}
}

// Version returns the version at which the manifest's entries pin module.
func (m *Manifest) Version(module string) (string, error) {
	for _, kind := range Kinds {
		list := value(m.root, kind)
		if list == nil {
			continue
		}
		for _, entry := range list.Content {
			if gomod := value(entry, "gomod"); gomod != nil {
				if mod, version, ok := strings.Cut(gomod.Value, " "); ok && mod == module {
					return version, nil
				}
			}
		}
	}
	return "", fmt.Errorf("manifest: no gomod entry of %s", module)
}

// RefineLocal tells apart the components of one module that the manifest
// lists package by package (`import:`), when the module is a local directory
// (a `replaces` entry with a relative path, like our own module): each such
// component's type is read from its package's metadata.yaml, and the registry
// then names it by "gomod import", so that a tier keeps only the packages it
// uses (the sidecar has no stickycheck, which links client-go). root is the
// directory the manifest's output_path is relative to.
func (r Registry) RefineLocal(m *Manifest, root string) error {
	local := map[string]string{} // module → directory
	if list := value(m.root, "replaces"); list != nil {
		outDir := filepath.Join(root, value(value(m.root, "dist"), "output_path").Value)
		for _, item := range list.Content {
			from, to, ok := strings.Cut(item.Value, "=>")
			to = strings.TrimSpace(to)
			if ok && (strings.HasPrefix(to, "./") || strings.HasPrefix(to, "../")) {
				local[strings.TrimSpace(from)] = filepath.Join(outDir, to)
			}
		}
	}
	for _, kind := range Kinds {
		list := value(m.root, kind)
		if list == nil {
			continue
		}
		for i, entry := range list.Content {
			gomod, imp := value(entry, "gomod"), value(entry, "import")
			if gomod == nil || imp == nil {
				continue
			}
			module, _, _ := strings.Cut(gomod.Value, " ")
			dir, ok := local[module]
			if !ok || (imp.Value != module && !strings.HasPrefix(imp.Value, module+"/")) {
				continue
			}
			file := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(imp.Value, module)), "metadata.yaml")
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("manifest: %s[%d]: import %s: %w", kind, i, imp.Value, err)
			}
			var md struct{ Type string }
			if err := yaml.Unmarshal(data, &md); err != nil {
				return fmt.Errorf("manifest: %s[%d]: %s: %w", kind, i, file, err)
			}
			if md.Type == "" {
				return fmt.Errorf("manifest: %s[%d]: %s: no type", kind, i, file)
			}
			if r[kind][md.Type] != gomod.Value {
				return fmt.Errorf("manifest: %s[%d]: %s: type %q is not registered by %s (the all-in-one's components)", kind, i, file, md.Type, gomod.Value)
			}
			r[kind][md.Type] = gomod.Value + " " + imp.Value
		}
	}
	return nil
}
