package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// The README's component table lists exactly what the binary's `components`
// command prints: kind, type and module of each.
func TestReadmeComponentTableMatchesBinary(t *testing.T) {
	out, err := exec.Command(testbed.Binary(t), "components").Output()
	require.NoError(t, err)
	type component struct {
		Name   string `yaml:"name"`
		Module string `yaml:"module"`
	}
	var printed struct {
		Receivers  []component `yaml:"receivers"`
		Processors []component `yaml:"processors"`
		Exporters  []component `yaml:"exporters"`
		Connectors []component `yaml:"connectors"`
		Extensions []component `yaml:"extensions"`
	}
	require.NoError(t, yaml.Unmarshal(out, &printed))
	var fromBinary []string
	for kind, list := range map[string][]component{
		"receiver": printed.Receivers, "processor": printed.Processors, "exporter": printed.Exporters,
		"connector": printed.Connectors, "extension": printed.Extensions,
	} {
		for _, c := range list {
			fromBinary = append(fromBinary, kind+" "+c.Name+" "+c.Module)
		}
	}

	readme, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "README.md"))
	require.NoError(t, err)
	table := regexp.MustCompile(`(?s)<!-- components:begin -->(.*)<!-- components:end -->`).FindSubmatch(readme)
	require.NotNil(t, table, "README.md has no components table markers")
	row := regexp.MustCompile("(?m)^\\| (\\w+) \\| `([^`]+)` \\| `([^`]+)` \\|$")
	var fromReadme []string
	for _, m := range row.FindAllSubmatch(table[1], -1) {
		fromReadme = append(fromReadme, string(m[1])+" "+string(m[2])+" "+string(m[3]))
	}
	sort.Strings(fromBinary)
	sort.Strings(fromReadme)
	require.Equal(t, fromBinary, fromReadme)
}
