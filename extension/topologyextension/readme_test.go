package topologyextension

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// The README's rule table has a row for every rule, with its severity.
func TestReadmeDocumentsEveryRule(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	rows := strings.Count(readme, "\n| `")
	for _, r := range tierrules.Rules() {
		assert.Contains(t, readme, fmt.Sprintf("| `%s` | %s |", r.ID, r.Severity), "README row of %s", r.ID)
	}
	assert.GreaterOrEqual(t, rows, len(tierrules.Rules()))
}
